"""Libraries of one run: wheels, eggs and index packages on the run's own path, never in the
caller's environment.

A wheel is installed with `pip install --no-deps --no-index --target <run_dir>/site-packages`;
an egg is put on the path as it is (Python imports from zipped eggs); requirements this
environment does not satisfy are installed from the package index into the pip cache shared by
every run of the local root (`bricktasks.pipcache`), whose folder goes on the path. All go to the
front of `sys.path` for the run only: `deactivate()` puts `sys.path` back and forgets the modules
loaded from them, so an in-process run leaves the caller as it found it, and a runtime process
starts clean anyway. A wheel's own dependencies must already be installed (or come first, as a
pypi library): the wheel itself is installed without the network.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

from bricktasks.pipcache import PipInstallFailed, PipRequest, install_cached
from bricktasks.runtime.errors import LibraryInstallError

__all__ = ["RunLibraries"]

_EGG_PYTHON = re.compile(r"-py(\d+)\.(\d+)(?:-|\.egg$)")


class RunLibraries:
    """The run's library folder and egg files, and the `sys.path` entries they take."""

    def __init__(self, run_dir: Path) -> None:
        self.site_dir = Path(run_dir) / "site-packages"
        self.paths: list[str] = []  # front of sys.path first
        self._saved_path: list[str] | None = None

    @property
    def pythonpath(self) -> str:
        """The run's library entries as a PYTHONPATH value (for Spark's Python workers and %sh)."""
        return os.pathsep.join(self.paths)

    def activate(self) -> None:
        """Remember `sys.path` as the caller had it."""
        self._saved_path = list(sys.path)

    def deactivate(self) -> None:
        """Restore `sys.path` and drop modules imported from the run's libraries."""
        if self._saved_path is not None:
            sys.path[:] = self._saved_path
            self._saved_path = None
        for name, module in list(sys.modules.items()):
            location = getattr(module, "__file__", None) or ""
            if any(location.startswith(path + os.sep) for path in self.paths):
                del sys.modules[name]
        importlib.invalidate_caches()

    def install_file(self, file: Path) -> str:
        """Put a local .whl or .egg on the run's path; returns a note for the cell output."""
        if not file.exists():
            raise LibraryInstallError(f"library file {file} does not exist", "upload it first, or check the path")
        if file.suffix == ".whl":
            return self._install_wheel(file)
        if file.suffix == ".egg":
            return self._add_egg(file)
        raise LibraryInstallError(
            f"cannot install {file.name} offline: only .whl and .egg files install locally",
            "build a wheel (invoke build-wheel) and install that",
        )

    def install_requirements(self, request: PipRequest, cache_root: Path, environ: Mapping[str, str]) -> str:
        """Requirements on the run's path: from this environment when it satisfies them, else from
        the pip cache (installed there from the index first if no run did yet); returns the note."""
        try:
            installed = install_cached(cache_root, request, environ)
        except PipInstallFailed as exc:
            raise LibraryInstallError(exc.message, exc.hint) from None
        if installed.site_dir is not None:
            self._put_first(str(installed.site_dir))
        return "\n".join(installed.notes)

    def _install_wheel(self, wheel: Path) -> str:
        missing = _missing_dependencies(wheel)
        if missing:
            raise LibraryInstallError(
                f"{wheel.name} needs {', '.join(missing)}, not installed locally, and there is no network to fetch them",
                "install them into this environment first (pip install -r requirements.txt)",
            )
        self.site_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(self.site_dir),
            "--upgrade", "--no-warn-script-location", "--disable-pip-version-check", "--quiet", str(wheel),
        ]
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise LibraryInstallError(f"pip could not install {wheel.name}: {detail[-1] if detail else 'exit ' + str(done.returncode)}")
        self._put_first(str(self.site_dir))
        return f"Installed {wheel.name} into the run's library folder"

    def _add_egg(self, egg: Path) -> str:
        match = _EGG_PYTHON.search(egg.name)
        running = sys.version_info[:2]
        if match and (int(match.group(1)), int(match.group(2))) != running:
            raise LibraryInstallError(
                f"{egg.name} was built for Python {match.group(1)}.{match.group(2)}, this is Python {running[0]}.{running[1]}",
                "an egg only works on the Python version that built it; build it again, or use a wheel",
            )
        self._put_first(str(egg))
        return f"Added {egg.name} to the run's path"

    def _put_first(self, entry: str) -> None:
        if entry in self.paths:
            self.paths.remove(entry)
        self.paths.insert(0, entry)
        while entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
        importlib.invalidate_caches()


def _missing_dependencies(wheel: Path) -> list[str]:
    """The wheel's required distributions that no installed version satisfies."""
    from packaging.requirements import Requirement

    try:
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
            metadata = archive.read(name).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, StopIteration):
        raise LibraryInstallError(f"{wheel.name} is not a valid wheel (no METADATA)") from None
    missing = []
    for line in metadata.splitlines():
        if not line:
            break  # headers end at the first blank line
        if not line.startswith("Requires-Dist:"):
            continue
        requirement = Requirement(line.split(":", 1)[1].strip())
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(str(requirement))
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{requirement} (have {version})")
    return missing
