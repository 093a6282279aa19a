"""What differs between a working copy and the folder it was synced into, in both directions.

The sync manifest (sync.py) is the common ancestor: for every object the last sync verified, it
records the hash of the content it sent and the modification time and object id the workspace gave
it. So, without reading any content:
- changed locally: the working copy's hash is not the recorded one;
- edited in the workspace: the listing's modification time or object id is not the recorded one;
- both: a conflict.
An object on both sides with no record (a folder synced by hand, or by a sync that raced another)
has no ancestor: it is `UNKNOWN` until someone compares the contents (status and pull export it).

`desired` is what a sync would write (helpers.desired_items), so the helper notebooks are compared
against what checkout writes, never against the repository's copies of them.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bricktasks.backends.base import ObjectInfo, ObjectType
from bricktasks.source.items import SourceItem
from bricktasks.workspace.sync import is_sync_object, vouched_for

__all__ = ["SAME", "ADDED", "MODIFIED", "DELETED", "UNKNOWN", "Difference", "differences", "in_local_conventions", "holds_the_same"]

SAME, ADDED, MODIFIED, DELETED, UNKNOWN = " ", "A", "M", "D", "?"
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Difference:
    """One object that is not as the last sync left it, on one side or both."""

    rel: str  # below the folder, as the workspace names it (a notebook without its extension)
    local_rel: str | None  # below the source folder; None for an object only the workspace has
    local: str  # SAME | ADDED | MODIFIED | DELETED | UNKNOWN: the working copy since the last sync
    workspace: str  # the same, for the folder since the last sync
    remote: ObjectInfo | None = None  # the workspace object as listed, when it exists

    @property
    def code(self) -> str:
        """Two columns like `git status --short`: the working copy's, then the workspace's."""
        return self.local + self.workspace

    @property
    def conflict(self) -> bool:
        """Changed on both sides (or no record to tell which side changed)."""
        return self.local != SAME and self.workspace != SAME


def differences(desired: Iterable[SourceItem], remote: Mapping[str, ObjectInfo],
                manifest: Mapping[str, Mapping[str, object]]) -> list[Difference]:
    """Every object that differs from the last sync, sorted by workspace path. `remote` is the folder's
    listing (sync.survey's objects), `manifest` its sync manifest's entries."""
    found: list[Difference] = []
    wanted: set[str] = set()
    for item in desired:
        wanted.add(item.remote_rel)
        info, recorded = remote.get(item.remote_rel), manifest.get(item.remote_rel)
        if info is not None and info.object_type is ObjectType.DIRECTORY:
            info = None  # a folder where the file goes: the file is not in the workspace
        if recorded is None:
            if info is None:
                found.append(Difference(item.remote_rel, item.local_rel, ADDED, SAME))
            else:  # on both sides, no ancestor: only their contents can tell
                found.append(Difference(item.remote_rel, item.local_rel, UNKNOWN, UNKNOWN, info))
            continue
        local = SAME if recorded.get("sha256") == item.digest else MODIFIED
        if info is None:
            workspace = DELETED
        elif info.object_type is not item.object_type or not vouched_for(info, recorded):
            workspace = MODIFIED
        else:
            workspace = SAME
        if local != SAME or workspace != SAME:
            found.append(Difference(item.remote_rel, item.local_rel, local, workspace, info))
    for rel, info in remote.items():
        if rel in wanted or info.object_type is ObjectType.DIRECTORY or is_sync_object(rel):
            continue
        recorded = manifest.get(rel)
        if recorded is None:  # made in the workspace (or by a sync of another working copy)
            found.append(Difference(rel, None, SAME, ADDED, info))
        else:  # we synced it; the working copy no longer has it
            workspace = SAME if vouched_for(info, recorded) else MODIFIED
            found.append(Difference(rel, None, DELETED, workspace, info))
    return sorted(found, key=lambda difference: difference.rel)


def in_local_conventions(exported: bytes, local: bytes) -> bytes:
    """The workspace's text in the local file's line endings (CRLF stays CRLF) and byte-order mark:
    what pull writes over `local`, so an editor's conventions survive a round trip."""
    content = exported
    if b"\r\n" in local and b"\r\n" not in content:
        content = content.replace(b"\n", b"\r\n")
    if local.startswith(UTF8_BOM) and not content.startswith(UTF8_BOM):
        content = UTF8_BOM + content
    return content


def holds_the_same(exported: bytes, local: bytes) -> bool:
    """Whether the workspace's version is the local one, up to those conventions: the same edit made
    on both sides (or a pull killed before it recorded what it wrote) is no conflict."""
    return exported == local or in_local_conventions(exported, local) == local
