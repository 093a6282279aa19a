"""Support for the tests and benchmarks: an emulator in a subprocess, a project copy driven with
invoke, a package index on loopback (`package_index`). Never imported at run time.
"""
