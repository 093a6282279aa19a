"""Which files of a folder are sent up, and reading them without ever leaving the folder.

Selection (the same for the upload, the secret scan and the library checks):
- in a git work tree, git's own view: the tracked files plus the untracked ones git does not
  ignore (`git ls-files --cached --others --exclude-standard -z`), so `build/`, `derby.log` or
  `spark-warehouse/` named in a .gitignore are never sent;
- elsewhere (an exported tarball, git not installed), a walk that honours every `.gitignore` in
  the folder, below it and above it, with pathspec's implementation of git's rules; an ignored
  folder is not entered, as git does not enter it.

Symbolic links are refused, wherever they point: the workspace holds no links, a link to a file
outside the folder would upload that file (`e -> /proc/self/environ` is the CI runner's
environment), and a link inside the folder would upload one file twice under two names. One rule,
the same for every task and for the library builds, checked before anything is read or sent: a
selected path that is a link, or lies below a folder that is a link, stops the task (exit 2) and
names the link. Hidden files, caches and ignored paths are not selected, so a link there is not
read and not refused.
"""
from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Collection
from pathlib import Path

import pathspec

from bricktasks.errors import UserInputError

__all__ = ["select_files", "read_file", "refuse_linked_folder", "git_listing"]

GIT_TIMEOUT_SECONDS = 60
GITIGNORE = ".gitignore"


def select_files(
    folder: Path, *, keep: Callable[[str], bool] = lambda rel: True, label: str | None = None, only: Collection[str] | None = None,
) -> list[str]:
    """The relative (posix) paths below `folder` that are sent up and that `keep` accepts, sorted.
    `only` (relative paths): the selection among those paths and what lies below them, by the same
    rules (checkout --watch asks for what a burst of events touched, not for the whole folder).

    Raises UserInputError if `folder` is a link, or if a selected path is a link or lies below one;
    the error names the path as `<label>/<path>` (`label`: the folder's name unless given)."""
    refuse_linked_folder(folder, label)
    listed = git_listing(folder, only)
    if listed is None:
        listed = _walk_honouring_gitignore(folder, keep)
        if only is not None:
            listed = [rel for rel in listed if _below_any(rel, only)]
    elif not listed and only is None and _holds_files(folder):
        # an upload of nothing would let deploy's prune empty master/: git ignoring the whole folder is a mistake
        raise UserInputError(
            f"git ignores every file in {label or folder.name}/; nothing was uploaded",
            "remove the .gitignore pattern that matches the folder (git check-ignore -v shows it)",
        )
    selected = sorted(rel for rel in set(listed) if keep(rel))
    return _regular_files(folder, selected, label)


def _holds_files(folder: Path) -> bool:
    return any(path.is_file() for path in folder.rglob("*") if not path.name.startswith("."))


def _below_any(rel: str, paths: Collection[str]) -> bool:
    return any(rel == path or rel.startswith(path.rstrip("/") + "/") for path in paths)


def git_listing(folder: Path, only: Collection[str] | None = None) -> list[str] | None:
    """git's view of `folder` (paths relative to it; `only`: among those paths and below them), or
    None when it is not in a git work tree."""
    # --literal-pathspecs: a name holding `*` or `:` is a name, not a pattern
    paths = ["--", *sorted(only)] if only is not None else []
    if only is not None and not only:
        return []
    try:
        result = subprocess.run(
            ["git", "--literal-pathspecs", "ls-files", "--cached", "--others", "--exclude-standard", "-z", *paths],
            cwd=folder, capture_output=True, check=False, timeout=GIT_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git here: the walk below honours the .gitignore files itself
    if result.returncode != 0:
        return None  # not a git work tree
    # -z: names are NUL-separated and never quoted; an untracked nested repository is listed as `name/`
    names = (os.fsdecode(raw) for raw in result.stdout.split(b"\0") if raw)
    return [name for name in names if not name.endswith("/")]


def refuse_linked_folder(folder: Path, label: str | None = None) -> None:
    if folder.is_symlink():
        raise UserInputError(
            f"{label or folder.name}/ is a symbolic link; nothing was uploaded",
            "make it a real folder: the tasks read no file through a link",
        )


def _link_error(folder: Path, rel: str, label: str | None = None) -> UserInputError:
    label = label or folder.name
    shown = f"{label}/{rel}"
    target = Path(os.path.realpath(folder / rel))  # the end of a chain of links
    inside = target.is_relative_to(Path(os.path.realpath(folder)))
    where = "inside" if inside else "outside"
    kind = "folder" if target.is_dir() else "file"
    return UserInputError(
        f"{shown} is a symbolic link to a {kind} {where} {label}/; nothing was uploaded",
        "replace the link with the file itself (the workspace holds no links), or list it in .gitignore",
    )


def _regular_files(folder: Path, rels: list[str], label: str | None) -> list[str]:
    """`rels` (sorted) without what is not a regular file: a path git still has in its index but
    that is gone from the disk, a submodule, a FIFO. UserInputError at the first path that is a
    link or lies below a linked folder. One lstat per path and per folder, on plain strings: at
    5,000 files pathlib's objects cost more than the system calls."""
    base = os.fspath(folder)
    checked: set[str] = set()
    regular = []
    for rel in rels:
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix not in checked:
                checked.add(prefix)
                if os.path.islink(os.path.join(base, prefix)):
                    raise _link_error(folder, prefix, label)
        try:
            mode = os.lstat(os.path.join(base, rel)).st_mode
        except OSError:
            continue
        if stat.S_ISLNK(mode):
            raise _link_error(folder, rel, label)
        if stat.S_ISREG(mode):
            regular.append(rel)
    return regular


def read_file(folder: Path, rel: str) -> bytes:
    """The bytes of a selected file, opened without following a link (one swapped in since the
    selection is refused too, not read)."""
    try:
        descriptor = os.open(os.path.join(folder, rel), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if (folder / rel).is_symlink():
            raise _link_error(folder, rel) from None
        raise UserInputError(f"cannot read {folder.name}/{rel}: {exc.strerror}", "check the file's permissions") from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UserInputError(f"{folder.name}/{rel} is not a regular file; nothing was uploaded", "remove it or list it in .gitignore")
        return handle.read()


# ---- outside a git work tree --------------------------------------------------------------


def _walk_honouring_gitignore(folder: Path, keep: Callable[[str], bool]) -> list[str]:
    """Every file and link below `folder` that the .gitignore files do not ignore, not entering
    ignored folders (nor, for speed, folders `keep` rejects: a cache, a hidden folder)."""
    specs_of_folder = {folder: _ancestor_specs(folder)}  # the .gitignore files that apply in each folder
    found: list[str] = []
    for current, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(current)
        rel_base = base.relative_to(folder).as_posix()
        rel_base = "" if rel_base == "." else rel_base + "/"
        local = _spec_of(base / GITIGNORE)
        here = [*specs_of_folder.pop(base), *([(base, local)] if local else [])]
        kept_dirs = []
        for name in sorted(dirnames):
            rel = rel_base + name
            if (base / name).is_symlink():
                if not _ignored(here, base / name, is_dir=False):
                    found.append(rel)  # a link to a folder: listed, so that the link check names it
            elif keep(rel + "/x") and not _ignored(here, base / name, is_dir=True):
                kept_dirs.append(name)
                specs_of_folder[base / name] = here
        dirnames[:] = kept_dirs
        found += [rel_base + name for name in filenames if not _ignored(here, base / name, is_dir=False)]
    return found


def _ancestor_specs(folder: Path) -> list[tuple[Path, pathspec.GitIgnoreSpec]]:
    """The .gitignore files above `folder` (the project's own sits in its parent), outermost first."""
    specs = []
    for parent in reversed(folder.absolute().parents):
        spec = _spec_of(parent / GITIGNORE)
        if spec:
            specs.append((parent, spec))
    return specs


def _spec_of(path: Path) -> pathspec.GitIgnoreSpec | None:
    if not path.is_file() or path.is_symlink():
        return None
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(specs: list[tuple[Path, pathspec.GitIgnoreSpec]], path: Path, *, is_dir: bool) -> bool:
    """git's rule: the deepest .gitignore with a pattern that matches decides (a `!` re-includes)."""
    decision = False
    for base, spec in specs:
        try:
            rel = path.absolute().relative_to(base.absolute()).as_posix()
        except ValueError:
            continue
        result = spec.check_file(rel + ("/" if is_dir else ""))
        if result.include is not None:
            decision = bool(result.include)
    return decision
