"""Sync: plan from content hashes kept in the workspace, apply in parallel, prune on request."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from bricktasks.backends.base import ObjectType
from bricktasks.backends.local import LocalBackend
from bricktasks.source.items import collect_source
from bricktasks.workspace.sync import CLAIM_PREFIX, MANIFEST_NAME, apply_sync, plan_sync

HEADER = "# Databricks notebook source\n"
TARGET = "/Projects/forecasting/BI-1"


class RecordingBackend(LocalBackend):
    """The local backend, remembering which paths were imported (a backend as test double)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.imported: list[str] = []

    def import_object(self, path, content, **kwargs):
        self.imported.append(path)
        return super().import_object(path, content, **kwargs)


def make_source(root: Path) -> Path:
    (root / "conf").mkdir(parents=True)
    (root / "ModelTraining.py").write_text(HEADER + "print('train')\n")
    (root / "conf" / "ci_config.py").write_text(HEADER + "X = 1\n")
    (root / "data.csv").write_text("a,b\n1,2\n")
    (root / "helper.py").write_text("def f():\n    return 1\n")  # no header: a workspace FILE
    (root / ".env").write_text("DATABRICKS_TOKEN=secret\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.py").write_text(HEADER)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.pyc").write_bytes(b"\0")
    return root


def sync(backend, source, *, prune=False, replace=None):
    plan = plan_sync(backend, collect_source(source, replace=replace), TARGET)
    return apply_sync(backend, plan, prune=prune)


def test_collect_skips_hidden_env_and_caches(tmp_path):
    items = collect_source(make_source(tmp_path / "src"))
    assert [(i.local_rel, i.remote_rel, i.object_type) for i in items] == [
        ("ModelTraining.py", "ModelTraining", ObjectType.NOTEBOOK),
        ("conf/ci_config.py", "conf/ci_config", ObjectType.NOTEBOOK),
        ("data.csv", "data.csv", ObjectType.FILE),
        ("helper.py", "helper.py", ObjectType.FILE),
    ]


def test_first_sync_uploads_everything_then_nothing(tmp_path):
    source = make_source(tmp_path / "src")
    backend = RecordingBackend(tmp_path / "root")
    first = sync(backend, source)
    assert first.uploaded == ["ModelTraining", "conf/ci_config", "data.csv", "helper.py"]
    assert backend.get_status(f"{TARGET}/ModelTraining").object_type is ObjectType.NOTEBOOK
    assert backend.get_status(f"{TARGET}/helper.py").object_type is ObjectType.FILE
    backend.imported.clear()
    second = sync(backend, source)
    assert second.uploaded == [] and len(second.unchanged) == 4
    assert backend.imported == []  # not even the manifest is rewritten


def test_fresh_clone_with_new_mtimes_uploads_nothing(tmp_path):
    source = make_source(tmp_path / "src")
    backend = RecordingBackend(tmp_path / "root")
    sync(backend, source)
    clone = tmp_path / "clone"
    shutil.copytree(source, clone)  # new files, new mtimes, same content
    backend.imported.clear()
    assert sync(backend, clone).uploaded == []
    assert backend.imported == []


def test_one_changed_file_is_one_upload_plus_the_manifest(tmp_path):
    source = make_source(tmp_path / "src")
    backend = RecordingBackend(tmp_path / "root")
    sync(backend, source)
    (source / "conf" / "ci_config.py").write_text(HEADER + "X = 2\n")
    backend.imported.clear()
    result = sync(backend, source)
    assert result.uploaded == ["conf/ci_config"]
    claim, *rest = backend.imported  # the claim comes first, before any write, and is gone at the end
    assert claim.startswith(f"{TARGET}/{CLAIM_PREFIX}")
    assert rest == [f"{TARGET}/conf/ci_config.py", f"{TARGET}/{MANIFEST_NAME}"]
    assert not [info for info in backend.list(TARGET) if CLAIM_PREFIX in info.path]
    assert b"X = 2" in backend.export(f"{TARGET}/conf/ci_config")


def test_an_edit_in_the_workspace_is_overwritten(tmp_path):
    source = make_source(tmp_path / "src")
    backend = RecordingBackend(tmp_path / "root")
    sync(backend, source)
    time.sleep(0.01)
    backend.import_object(f"{TARGET}/ModelTraining.py", (HEADER + "print('edited in the UI')\n").encode(), overwrite=True)
    result = sync(backend, source)
    assert result.uploaded == ["ModelTraining"]
    assert b"train" in backend.export(f"{TARGET}/ModelTraining")


def test_remote_leftovers_are_listed_and_pruned_only_on_request(tmp_path):
    source = make_source(tmp_path / "src")
    backend = LocalBackend(tmp_path / "root")
    sync(backend, source)
    backend.mkdirs(f"{TARGET}/old")
    backend.import_object(f"{TARGET}/old/Stale.py", (HEADER + "1\n").encode())
    backend.import_object(f"{TARGET}/Gone.py", (HEADER + "1\n").encode())
    kept = sync(backend, source)
    assert kept.extra == ["Gone", "old"] and kept.pruned == []
    assert backend.get_status(f"{TARGET}/Gone")
    pruned = sync(backend, source, prune=True)
    assert pruned.pruned == ["Gone", "old"]
    names = {info.path for info in backend.list(TARGET)}
    assert f"{TARGET}/Gone" not in names and f"{TARGET}/old" not in names


def test_replace_sends_other_content_for_one_file(tmp_path):
    source = make_source(tmp_path / "src")
    (source / "set_environment.py").write_text(HEADER + "# MAGIC %run ./conf/production_config\n")
    backend = LocalBackend(tmp_path / "root")
    sync(backend, source, replace={"set_environment.py": (HEADER + "# MAGIC %run ./conf/ci_config\n").encode()})
    assert b"ci_config" in backend.export(f"{TARGET}/set_environment")


def test_a_garbled_manifest_costs_a_full_upload_not_an_error(tmp_path):
    source = make_source(tmp_path / "src")
    backend = LocalBackend(tmp_path / "root")
    sync(backend, source)
    backend.import_object(f"{TARGET}/{MANIFEST_NAME}", b"{not json", overwrite=True)
    assert len(sync(backend, source).uploaded) == 4


def test_the_manifest_records_hash_time_and_object_id_of_each_verified_write(tmp_path):
    source = make_source(tmp_path / "src")
    backend = LocalBackend(tmp_path / "root")
    sync(backend, source)
    first = json.loads(backend.export(f"{TARGET}/{MANIFEST_NAME}"))
    info = backend.get_status(f"{TARGET}/ModelTraining")
    assert first["version"] == 2 and first["nonce"]
    assert first["objects"]["ModelTraining"]["modified_at"] == info.modified_at
    assert first["objects"]["ModelTraining"]["object_id"] == info.object_id
    (source / "data.csv").write_text("a,b\n3,4\n")
    sync(backend, source)
    assert json.loads(backend.export(f"{TARGET}/{MANIFEST_NAME}"))["nonce"] != first["nonce"]  # each write its own


def test_a_pruned_folder_counts_as_edited_exactly_what_is_below_it_and_unvouched():
    from bricktasks.backends.base import ObjectInfo, ObjectType
    from bricktasks.workspace.sync import _edited

    def notebook(rel: str, modified: int) -> ObjectInfo:
        return ObjectInfo(f"/t/{rel}", ObjectType.NOTEBOOK, modified_at=modified, object_id=modified)

    remote = {rel: notebook(rel, number) for number, rel in enumerate(
        ["a", "a-b/x", "a/x", "a/y/z", "ab", "b/a/x", "a/vouched"], start=1)}
    remote["a/y"] = ObjectInfo("/t/a/y", ObjectType.DIRECTORY)
    vouched = remote["a/vouched"]
    manifest = {"a/vouched": {"modified_at": vouched.modified_at, "object_id": vouched.object_id}}
    # "a-b" and "ab" sort between "a" and "a/": the range below a folder must not take them
    assert _edited(remote, manifest, overwritten=[], deleted=["a"]) == ["a", "a/x", "a/y/z"]
    assert _edited(remote, manifest, overwritten=[], deleted=["a/y", "zz"]) == ["a/y/z"]
    assert _edited(remote, manifest, overwritten=["ab", "a/vouched", "a/y"], deleted=[]) == ["ab"]
