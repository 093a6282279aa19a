"""differences(): the sync manifest as the common ancestor of the working copy and the folder."""
from __future__ import annotations

import hashlib

from bricktasks.backends.base import ObjectInfo, ObjectType
from bricktasks.source.items import SourceItem
from bricktasks.workspace.differences import ADDED, DELETED, MODIFIED, SAME, UNKNOWN, differences
from bricktasks.workspace.sync import MANIFEST_NAME

T = "/Projects/p/BI-1"


def item(rel: str, content: bytes = b"x = 1\n") -> SourceItem:
    kind = ObjectType.NOTEBOOK if rel.endswith(".py") else ObjectType.FILE
    return SourceItem(rel, rel.removesuffix(".py"), kind, content)


def info(rel: str, modified: int = 10, object_id: int = 1, kind: ObjectType = ObjectType.NOTEBOOK) -> ObjectInfo:
    return ObjectInfo(f"{T}/{rel}", kind, modified_at=modified, object_id=object_id)


def record(content: bytes = b"x = 1\n", modified: int = 10, object_id: int = 1) -> dict:
    return {"sha256": hashlib.sha256(content).hexdigest(), "modified_at": modified, "object_id": object_id}


def codes(found) -> dict[str, str]:
    return {difference.rel: difference.code for difference in found}


def test_as_synced_nothing_differs():
    assert differences([item("a.py")], {"a": info("a")}, {"a": record()}) == []


def test_each_side_and_both():
    desired = [item("local.py", b"new"), item("ui.py"), item("both.py", b"new"), item("gone_there.py")]
    remote = {"local": info("local"), "ui": info("ui", modified=11), "both": info("both", object_id=2)}
    manifest = {rel: record() for rel in ("local", "ui", "both", "gone_there")}
    found = differences(desired, remote, manifest)
    assert codes(found) == {"local": "M ", "ui": " M", "both": "MM", "gone_there": " D"}
    assert [difference.conflict for difference in found] == [True, False, False, False]  # sorted: both, gone_there, local, ui


def test_added_and_deleted_on_either_side():
    desired = [item("new.py")]
    remote = {"made_in_ui": info("made_in_ui"), "deleted_here": info("deleted_here"),
              "deleted_here_edited_there": info("deleted_here_edited_there", modified=99)}
    manifest = {"deleted_here": record(), "deleted_here_edited_there": record()}
    found = codes(differences(desired, remote, manifest))
    assert found == {"new": ADDED + SAME, "made_in_ui": SAME + ADDED, "deleted_here": DELETED + SAME,
                     "deleted_here_edited_there": DELETED + MODIFIED}


def test_no_record_on_both_sides_is_unknown_and_the_sync_s_own_objects_never_differ():
    remote = {"a": info("a"), MANIFEST_NAME: info(MANIFEST_NAME, kind=ObjectType.FILE),
              ".bricktasks-sync-claim-0123.json": info(".bricktasks-sync-claim-0123.json", kind=ObjectType.FILE),
              "folder": info("folder", kind=ObjectType.DIRECTORY)}
    assert codes(differences([item("a.py")], remote, {})) == {"a": UNKNOWN + UNKNOWN}


def test_a_type_change_in_the_workspace_is_an_edit_there():
    remote = {"a": info("a", kind=ObjectType.FILE)}
    assert codes(differences([item("a.py")], remote, {"a": record()})) == {"a": " M"}
    remote = {"a": info("a", kind=ObjectType.DIRECTORY)}  # a folder where the notebook goes
    assert codes(differences([item("a.py")], remote, {"a": record()})) == {"a": " D"}
