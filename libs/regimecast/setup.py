"""Build script: gives the build its version and stamps it into the built package.

The version comes from REGIMECAST_VERSION, else BRICKTASKS_LIB_VERSION (both set by
bricktasks' build tasks to a per-build version such as 0.4.0.dev12+main.gabc1234), else the
base version in regimecast/_version.py. Everything else is in pyproject.toml. A setup.py
(rather than only pyproject.toml) because `python setup.py bdist_egg` is still needed for
eggs on old Databricks runtimes, and so `python setup.py --version` prints the base version.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
VERSION_FILE = Path("regimecast") / "_version.py"


def base_version() -> str:
    """The static version in regimecast/_version.py (read as text: importing needs the dependencies)."""
    text = (HERE / VERSION_FILE).read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no __version__ = \"...\" line in {VERSION_FILE}")
    return match.group(1)


def build_version() -> str:
    return os.environ.get("REGIMECAST_VERSION") or os.environ.get("BRICKTASKS_LIB_VERSION") or base_version()


class build_py_stamped(build_py):
    """Copies the package as usual, then rewrites the built _version.py with this build's version.

    Only the copy in the build folder changes, so `regimecast.__version__` of an installed
    wheel or egg equals the version in its file name while the source tree stays clean.
    """

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install imports the source tree, which keeps the base version
        target = Path(self.build_lib) / VERSION_FILE
        text = target.read_text(encoding="utf-8")
        stamped = re.sub(r'^__version__\s*=\s*"[^"]+"', f'__version__ = "{self.distribution.get_version()}"', text, flags=re.MULTILINE)
        # unlink first: should the build folder hold a link to the source file, writing through
        # it would change the source
        target.unlink()
        target.write_text(stamped, encoding="utf-8")


setup(version=build_version(), cmdclass={"build_py": build_py_stamped})
