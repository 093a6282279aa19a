"""The bricktasks wheel as a user gets it: built from this checkout's package alone (a copy of
pyproject.toml, README.md and bricktasks/, so nothing else of the repository can slip in and the
checkout gets no build/ folder), and installed into a fresh virtual environment with pip.

For the package's end-to-end tests; every test module that needs the wheel can build it with
`build_wheel` once (module scope) or share a session fixture."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bricktasks.testing.projectcopy import STRIPPED, STRIPPED_PREFIXES

__all__ = ["build_wheel", "FreshVenv", "PACKAGE_FILES"]

PACKAGE_FILES = ("pyproject.toml", "README.md")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", ".mypy_cache")


def build_wheel(repo: Path, workdir: Path, *, timeout: float = 600) -> Path:
    """Build the wheel of the bricktasks package in `repo` into `workdir`/dist; its path."""
    source = workdir / "source"
    source.mkdir(parents=True)
    for name in PACKAGE_FILES:
        shutil.copy2(repo / name, source / name)
    shutil.copytree(repo / "bricktasks", source / "bricktasks", ignore=_IGNORED)
    dist = workdir / "dist"
    # no isolation: offline-safe, with the setuptools this environment pins (requirements.txt)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(source)],
        check=True, capture_output=True, text=True, timeout=timeout,
    )
    wheels = sorted(dist.glob("bricktasks-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"the build made {len(wheels)} wheels: {wheels}")
    return wheels[0]


@dataclass(frozen=True)
class FreshVenv:
    """A virtual environment without the system's site packages."""

    root: Path

    @classmethod
    def create(cls, root: Path, *, timeout: float = 300) -> FreshVenv:
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True, text=True, timeout=timeout)
        return cls(root)

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """This process's environment with the venv first on PATH, nothing of this checkout on PYTHONPATH,
        and nothing that says a CI system or a workspace runs it (a test under CI=true would otherwise be
        refused a local run); proxies stay, pip may need them to reach the package index."""
        env = {name: value for name, value in os.environ.items()
               if name not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not _says_ci_or_workspace(name)}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        env.update(extra or {})
        return env

    def run(self, *command: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
        """Run `command` (its first word found in the venv's bin/ first), output captured as text."""
        return subprocess.run(
            list(command), cwd=cwd, env=env or self.environment(), capture_output=True, text=True, timeout=timeout,
        )

    def pip_install(self, *requirements: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """pip install into the venv (from the package index; pip's cache makes a second run fast)."""
        return self.run(str(self.python), "-m", "pip", "install", "--quiet", *requirements, timeout=timeout)


def _says_ci_or_workspace(name: str) -> bool:
    if "proxy" in name.lower():
        return False
    return name in STRIPPED or name.startswith(STRIPPED_PREFIXES)
