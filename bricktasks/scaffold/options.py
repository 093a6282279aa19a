"""The flags of `bricktasks init`, checked before anything is written (a bad one: one line, exit 2)."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bricktasks.errors import ConfigError, UserInputError
from bricktasks.layout import check_workspace_root
from bricktasks.settings import NO_LIBRARIES

__all__ = ["CI_SYSTEMS", "InitOptions", "check_target", "check_options"]

CI_SYSTEMS = ("github", "azure", "gitlab", "jenkins")
# a project name becomes a workspace folder, a job file name and part of Volume paths: keep it plain
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class InitOptions:
    name: str
    source: str  # the notebooks' folder, relative to the target (posix)
    libs: tuple[str, ...]  # library folders relative to the target ('.' = the target itself); empty: none
    workspace_root: str
    ci: str

    @property
    def libs_setting(self) -> str:
        """BRICKTASKS_LIBS as tasks.py sets it."""
        return ",".join(self.libs) if self.libs else NO_LIBRARIES


def check_target(target: Path) -> Path:
    """The folder init writes into, resolved: an existing folder that is not inside another git
    repository's work tree below its top (the CI templates and .gitignore belong at the top)."""
    if not target.is_dir():
        raise UserInputError(f"the target {target} is not a folder", "create it first, or pass --target an existing folder")
    resolved = target.resolve()
    if resolved == Path(resolved.anchor):
        raise UserInputError("the target is the file system's root", "run init in your repository's folder")
    top = _git_top(resolved)
    if top is not None and top != resolved:
        raise UserInputError(
            f"the target {target} is inside the git repository {top}, below its top folder",
            f"run init in {top} (or pass --target {top})",
        )
    return resolved


def _git_top(folder: Path) -> Path | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git: a folder that is not a repository yet
    return Path(result.stdout.strip()).resolve() if result.returncode == 0 and result.stdout.strip() else None


def check_options(target: Path, *, name: str, source: str, libs: list[str], workspace_root: str, ci: str) -> InitOptions:
    if not _NAME.fullmatch(name or "") or name in (".", ".."):
        raise UserInputError(
            f"--name {name!r} is not a valid folder name", "use letters, digits, '_', '.' or '-' (at most 64), e.g. churn"
        )
    if ci not in CI_SYSTEMS:
        raise UserInputError(f"--ci {ci!r} is not a CI system init knows", f"use one of: {', '.join(CI_SYSTEMS)}")
    try:
        root = check_workspace_root(workspace_root)
    except ConfigError as exc:
        message = exc.message.replace(f"BRICKTASKS_WORKSPACE_ROOT={workspace_root!r}", f"--workspace-root {workspace_root!r}")
        raise UserInputError(message, exc.hint) from None
    source_folder = _inside(target, source, "--source", allow_top=False)
    library_folders = tuple(_inside(target, folder, "--libs", allow_top=True) for folder in libs)
    for folder in library_folders:
        if not any((target / folder / build_file).is_file() for build_file in ("pyproject.toml", "setup.py")):
            raise UserInputError(
                f"--libs {folder!r} has no pyproject.toml or setup.py", f"name a library's folder, or pass --libs {NO_LIBRARIES}"
            )
    return InitOptions(name=name, source=source_folder, libs=library_folders, workspace_root=root, ci=ci)


def _inside(target: Path, given: str, flag: str, *, allow_top: bool) -> str:
    """`given` as a clean posix path relative to `target`, refused when it leaves the target."""
    hint = f"give a folder inside {target.name}/ relative to it, e.g. notebooks (letters, digits, '_', '.', '-')"
    if not given or given.strip() != given or "\\" in given:
        raise UserInputError(f"{flag} {given!r} is not a folder name", hint)
    path = PurePosixPath(given)
    if path.is_absolute():
        resolved = Path(given).resolve()
        if not resolved.is_relative_to(target):
            raise UserInputError(f"{flag} {given!r} is outside the target {target}", hint)
        path = PurePosixPath(resolved.relative_to(target).as_posix())
    if ".." in path.parts:
        raise UserInputError(f"{flag} {given!r} leaves the target ('..')", hint)
    if any(not _PART.fullmatch(part) for part in path.parts):
        raise UserInputError(f"{flag} {given!r} has characters init does not write into settings", hint)
    relative = path.as_posix()
    if relative == "." and not allow_top:
        raise UserInputError(f"{flag} {given!r} is the target itself", "keep the notebooks in a folder of their own, e.g. notebooks")
    if not (target / relative).resolve().is_relative_to(target):
        raise UserInputError(f"{flag} {given!r} is a link that leaves the target {target}", hint)
    return relative
