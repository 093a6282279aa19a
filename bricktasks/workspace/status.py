"""`invoke status`: what differs between the working copy and a folder, both ways, writing nothing.

The sync manifest is the common ancestor (differences.py), so a folder as the last checkout left it
costs its listing and nothing more. Two kinds of object need their content read:
- the helper notebooks: compared with what a checkout would write now (the chosen env, the target's
  newest libraries), never with the repository's copies; read only when the listing says they were
  rewritten since the last sync (switch-env, an upload-lib, a UI edit);
- an object changed on both sides, or on both sides with no record (a folder never synced by this
  tool): the same text on both sides (up to line endings and byte-order mark) is no difference;
  others are conflicts (`MM`) or, with no record, `??`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bricktasks.backends.base import NOTEBOOK_EXTENSIONS, Backend, ObjectInfo, ObjectType
from bricktasks.console.console import printable
from bricktasks.errors import NotFound, UserInputError
from bricktasks.layout import HELPER_NOTEBOOKS, PROTECTED_BRANCHES, branch_folder, is_build_name, join
from bricktasks.project import Project
from bricktasks.source.items import SourceItem
from bricktasks.workspace.differences import ADDED, MODIFIED, SAME, UNKNOWN, Difference, differences, holds_the_same
from bricktasks.workspace.helpers import desired_items
from bricktasks.workspace.sync import LIST_WORKERS, Destination, survey, vouched_for

__all__ = ["ComparedFolder", "compared_folder", "StatusEntry", "FolderStatus", "folder_status", "format_status", "status_record",
           "local_name", "LEGEND"]

LEGEND = ("first column: the working copy since the last sync, second: the workspace folder "
          "(M modified, A added, D deleted, ?? no sync record and the contents differ; both columns: a conflict)")


@dataclass(frozen=True)
class ComparedFolder:
    """Which folder a status (or pull) compares with, and what a sync into it would write."""

    label: str  # BI-5613, master, CI/<build>
    target: str
    env: str | None  # the env set_environment selects there (None: the committed one, as deploy writes it)
    library_folder: str  # where that folder's libraries are (install_libraries installs the newest)
    read_only: bool  # master/ and CI builds: compared, never written by status or pull
    made_by: str = "invoke checkout"  # the task that fills it, for the hint when it does not exist


def compared_folder(project: Project, *, branch: str | None, master: bool, build: str | None) -> ComparedFolder:
    """The folder --branch / --master / --build names (at most one; default: the current branch's)."""
    layout = project.layout
    if sum((branch is not None, master, build is not None)) > 1:
        raise UserInputError("--branch, --master and --build name one folder each", "pass only one of them")
    if master:
        return ComparedFolder("master", layout.master, None, layout.master_libraries, read_only=True, made_by="invoke deploy")
    if build is not None:
        if not is_build_name(build):
            raise UserInputError(f"{printable(build)!s} is not a CI build's folder name",
                                 "pass a name as invoke builds lists it, e.g. 20261202.1-BI-5613")
        return ComparedFolder(f"CI/{build}", join(layout.ci_root, build), "ci", join(layout.ci_libraries_root, build), read_only=True,
                              made_by="invoke ci")
    chosen = project.resolve_branch(branch)
    if chosen.lower() in PROTECTED_BRANCHES:  # on main, the folder of this working copy is master/
        return ComparedFolder("master", layout.master, None, layout.master_libraries, read_only=True, made_by="invoke deploy")
    folder = branch_folder(chosen)
    return ComparedFolder(folder, layout.branch(chosen), project.check_env(project.settings.env), layout.branch_libraries(chosen),
                          read_only=False)


@dataclass(frozen=True)
class StatusEntry:
    difference: Difference
    shown: str  # the path below the source folder (a workspace-only notebook gets its language's extension)
    helper: bool = False  # set_environment / install_libraries: checkout rewrites it

    def as_dict(self) -> dict[str, Any]:
        difference = self.difference
        return {"code": difference.code, "path": self.shown, "workspace_path": difference.rel,
                "local": difference.local.strip(), "workspace": difference.workspace.strip(),
                "conflict": difference.conflict and not self.helper, "helper": self.helper}


@dataclass(frozen=True)
class FolderStatus:
    target: str
    synced: bool  # the folder has a sync manifest
    entries: tuple[StatusEntry, ...]

    @property
    def clean(self) -> bool:
        return not self.entries

    @property
    def conflicts(self) -> list[StatusEntry]:
        return [entry for entry in self.entries if entry.difference.conflict and not entry.helper]


def folder_status(backend: Backend, source_dir: Path, target: str, *, env: str | None, libraries: list[str] | None,
                  destination: Destination | None = None, made_by: str = "invoke checkout",
                  workers: int = LIST_WORKERS, source: list[SourceItem] | None = None) -> FolderStatus:
    """Compare the working copy (as a sync with `env` and `libraries` would send it) with `target`;
    `source`: the working copy as collected already (check_source's answer), else read here."""
    destination = destination or survey(backend, target)
    if not destination.exists:
        raise UserInputError(f"{target} does not exist (or is not a folder)", f"run {made_by} first")
    items = desired_items(source_dir, env=env, libraries=libraries, source=source)
    helpers = {item.remote_rel: item for item in items if item.remote_rel in HELPER_NOTEBOOKS}
    found = [difference for difference in differences(items, destination.objects, destination.manifest)
             if difference.rel not in helpers]
    both = [difference for difference in found if difference.conflict and difference.local_rel is not None and difference.remote]
    by_rel = {item.remote_rel: item for item in items}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        same_content = dict(pool.map(lambda difference: (difference.rel, _holds(backend, target, by_rel[difference.rel])), both))
        helper_entries = [entry for entry in pool.map(lambda item: _helper(backend, destination, item), helpers.values()) if entry]
    entries = [StatusEntry(difference, _shown(difference)) for difference in found if not same_content.get(difference.rel)]
    return FolderStatus(target, bool(destination.manifest), tuple(sorted([*entries, *helper_entries], key=lambda entry: entry.shown)))


def _holds(backend: Backend, target: str, item: SourceItem) -> bool:
    """Whether the workspace object holds what the working copy would send (up to its line endings)."""
    try:
        return holds_the_same(backend.export(f"{target}/{item.remote_rel}"), item.content)
    except NotFound:
        return False


def _helper(backend: Backend, destination: Destination, item: SourceItem) -> StatusEntry | None:
    """A helper notebook differs when a checkout would write something else into it."""
    info, recorded = destination.objects.get(item.remote_rel), destination.manifest.get(item.remote_rel)
    if info is None or info.object_type is not ObjectType.NOTEBOOK:
        return StatusEntry(Difference(item.remote_rel, item.local_rel, ADDED, SAME), item.local_rel, helper=True)
    if vouched_for(info, recorded) and recorded is not None:
        same = recorded.get("sha256") == item.digest
    else:
        same = _holds(backend, destination.target, item)
    if same:
        return None
    return StatusEntry(Difference(item.remote_rel, item.local_rel, MODIFIED, SAME, info), item.local_rel, helper=True)


def _shown(difference: Difference) -> str:
    return difference.local_rel if difference.local_rel is not None else local_name(difference.rel, difference.remote)


def local_name(rel: str, info: ObjectInfo | None) -> str:
    """The file a workspace object becomes in the working copy: a notebook gets its language's extension."""
    if info is not None and info.object_type is ObjectType.NOTEBOOK:
        return rel + NOTEBOOK_EXTENSIONS.get(info.language or "PYTHON", ".py")
    return rel


def format_status(status: FolderStatus, *, prefix: str = "") -> list[str]:
    """`git status --short` style: one line per object (its path with `prefix`, the source folder, so
    it is a path from the project root), `??` for an object with no record."""
    lines = []
    for entry in status.entries:
        unknown = entry.difference.code == UNKNOWN * 2
        code = "??" if unknown else entry.difference.code
        if entry.helper:
            note = " (helper notebook: checkout rewrites it)"
        elif unknown:
            note = " (no sync record; the contents differ)"
        else:
            note = " (conflict)" if entry.difference.conflict else ""
        lines.append(f"{code} {printable(prefix + entry.shown)}{note}")
    return lines


def status_record(status: FolderStatus) -> dict[str, Any]:
    return {"folder": status.target, "synced": status.synced, "clean": status.clean,
            "conflicts": len(status.conflicts), "entries": [entry.as_dict() for entry in status.entries]}
