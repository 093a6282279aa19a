"""The library's version.

This file holds the static base version. A build stamps its own version (from the
REGIMECAST_VERSION or BRICKTASKS_LIB_VERSION environment variable, see setup.py) into the
built copy of this file only, so the source tree never changes and an installed artifact
reports exactly the version in its file name.
"""
__version__ = "0.4.0"
