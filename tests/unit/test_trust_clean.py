"""Issue 11 item 8 in detail: clean-ci's verdict for each kind of build, on a real LocalBackend.

Races are driven deterministically: a LocalBackend whose hook deletes a folder at the exact moment a
second clean-ci would (right after this one looked the folder up, or right before it reads the manifest).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bricktasks.backends.base import ObjectType
from bricktasks.backends.local import LocalBackend
from bricktasks.ci.clean import IN_PROGRESS_GRACE, clean_ci
from bricktasks.ci.manifest import read_build_manifest, survey_ci
from bricktasks.console.console import Console
from bricktasks.errors import NotFound
from bricktasks.layout import ProjectLayout, is_build_name

LAYOUT = ProjectLayout("/Projects/forecasting", "/Projects/forecasting/libraries")
CI = LAYOUT.ci_root
NOTEBOOK = b"# Databricks notebook source\nprint(1)\n"
NOW = datetime.now(timezone.utc)


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(stream=out, error_stream=out, terminal=False), out


def _clean(backend: LocalBackend, older_than: timedelta = timedelta(0), **options) -> tuple[dict, str]:
    console, out = _console()
    now = datetime.now(timezone.utc)
    outcome = clean_ci(backend, LAYOUT, older_than, now=now, dry_run=options.pop("dry_run", False), console=console, **options)
    return outcome, out.getvalue()


def _build(backend: LocalBackend, name: str, manifest: bytes | dict | None) -> str:
    folder = f"{CI}/{name}"
    backend.mkdirs(folder)
    backend.import_object(f"{folder}/ModelTraining.py", NOTEBOOK)
    if manifest is not None:
        body = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        backend.import_object(f"{folder}/.bricktasks-build.json", body, format="RAW")
    return folder


def _finished(days: float) -> dict:
    return {"created": (NOW - timedelta(days=days)).isoformat(), "run_id": None, "result": "SUCCESS"}


def _set_back(disk: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    for path in [disk, *disk.rglob("*")]:
        os.utime(path, (stamp, stamp))


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "local")


@pytest.mark.parametrize(
    ("name", "valid"),
    [("1-master", True), ("49-BI-5613", True), ("a.b-c-feature__x", True), ("7-BI-1", True),
     ("scratch", False), ("-x", False), ("1-", False), ("1-CI", False), ("1-.hidden", False), ("x y-z", False),
     ("1-a__", False), ("1-ümlaut", False), ("a" * 65 + "-x", False)],
)
def test_build_names(name, valid):
    assert is_build_name(name) is valid


MALFORMED = [
    (b"", "not JSON"),
    (b"\xff\xfe{}", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"run_id": 1e308, "created": "2020-01-01T00:00:00+00:00"}', "run_id 1e+308 is not a run id"),
    (b'{"run_id": 1e400, "created": "2020-01-01T00:00:00+00:00"}', "run_id Infinity is not a run id"),
    (b'{"run_id": "12", "created": "2020-01-01T00:00:00+00:00"}', 'run_id "12" is not a run id'),
    (b'{"run_id": -5, "created": "2020-01-01T00:00:00+00:00"}', "run_id -5 is not a run id"),
    (b'{"run_id": 0, "created": "2020-01-01T00:00:00+00:00"}', "run_id 0 is not a run id"),
    (b'{"run_id": true, "created": "2020-01-01T00:00:00+00:00"}', "run_id true is not a run id"),
    (b'{"run_id": 9223372036854775808, "created": "2020-01-01T00:00:00+00:00"}', "is not a run id"),
    (b'{"run_id": 3, "created": "last tuesday"}', 'created "last tuesday" is not a time'),
    (b'{"run_id": 3, "created": 1700000000}', "created 1700000000 is not a time"),
    (b'{"run_id": 3}', "created null is not a time"),
    (b'{"run_id": 3, "created": "2020-01-01T00:00:00", "result": 5}', "result 5 is not text"),
    (b'{"run_id": 3, "created": "2020-01-01T00:00:00", "branch": ["x"]}', 'branch ["x"] is not text'),
]


@pytest.mark.parametrize(("body", "problem"), MALFORMED)
def test_a_malformed_manifest_is_kept_and_named_never_a_crash(backend, body, problem):
    folder = _build(backend, "5-BI-1", body)
    backend.mkdirs_files(f"{LAYOUT.ci_libraries_root}/5-BI-1")
    outcome, text = _clean(backend)
    assert outcome["malformed"] == ["5-BI-1"] and outcome["deleted"] == [], text
    assert problem in text and "delete /Projects/forecasting/CI/5-BI-1 by hand" in text
    assert backend.get_status(folder) and backend.list_files(LAYOUT.ci_libraries_root)
    assert read_build_manifest(backend, folder) is None  # ci's own reader does not trip over it either


def test_a_manifest_that_is_a_folder_is_malformed(backend):
    backend.mkdirs(f"{CI}/5-BI-1/.bricktasks-build.json")
    outcome, text = _clean(backend)
    assert outcome["malformed"] == ["5-BI-1"] and "is not a file" in text


def test_a_created_far_in_the_future_is_malformed_but_clock_skew_is_young(backend):
    _build(backend, "5-BI-1", {"created": "9999-12-31T23:59:59+00:00", "run_id": 3, "result": "SUCCESS"})
    # (from the clock now, not the module's NOW: in a long session minutes pass between import and this test)
    ahead = datetime.now(timezone.utc) + timedelta(minutes=5)
    _build(backend, "6-BI-1", {"created": ahead.isoformat(), "run_id": 3, "result": "SUCCESS"})
    outcome, text = _clean(backend)
    assert outcome["malformed"] == ["5-BI-1"] and "in the future" in text
    assert outcome["kept"] == ["6-BI-1"]


def test_an_upload_in_progress_is_never_deleted_whatever_the_threshold(backend):
    """No manifest yet, files written now: `--older-than 0d` leaves it alone."""
    _build(backend, "5-BI-1", None)
    outcome, text = _clean(backend, timedelta(0))
    assert outcome["active"] == ["5-BI-1"] and outcome["deleted"] == []
    assert "no manifest yet" in text and "it may be uploading" in text
    young, _ = _clean(backend, timedelta(days=30))
    assert young["kept"] == ["5-BI-1"]


def test_an_abandoned_upload_goes_once_idle_for_the_threshold_and_the_grace(backend):
    folder = _build(backend, "5-BI-1", None)
    disk = backend.paths.workspace_path(folder)
    _set_back(disk, (IN_PROGRESS_GRACE - timedelta(hours=1)).total_seconds())
    outcome, _ = _clean(backend, timedelta(0))
    assert outcome["active"] == ["5-BI-1"]  # idle under a day: maybe a slow upload
    _set_back(disk, (IN_PROGRESS_GRACE + timedelta(hours=1)).total_seconds())
    outcome, _ = _clean(backend, timedelta(days=2))
    assert outcome["kept"] == ["5-BI-1"]  # idle a day, but not --older-than
    outcome, _ = _clean(backend, timedelta(hours=12))
    assert outcome["deleted"] == ["5-BI-1"]
    with pytest.raises(NotFound):
        backend.get_status(folder)


def test_a_new_write_deep_in_the_folder_keeps_it(backend):
    """The newest object decides, however deep: a folder whose top is old but whose upload goes on stays."""
    folder = _build(backend, "5-BI-1", None)
    backend.mkdirs(f"{folder}/conf/deep")
    _set_back(backend.paths.workspace_path(folder), 3 * 86400)
    backend.import_object(f"{folder}/conf/deep/ci_config.py", NOTEBOOK)
    outcome, _ = _clean(backend, timedelta(0))
    assert outcome["active"] == ["5-BI-1"]


def test_a_manifest_without_a_run_is_kept_a_day(backend):
    """ci writes the manifest, then submits: in between, run_id is null."""
    _build(backend, "5-BI-1", {"created": (NOW - timedelta(hours=2)).isoformat(), "run_id": None})
    _build(backend, "6-BI-1", {"created": (NOW - timedelta(days=3)).isoformat(), "run_id": None})
    outcome, text = _clean(backend, timedelta(hours=1))
    assert outcome["active"] == ["5-BI-1"] and "it may be submitting" in text
    assert outcome["deleted"] == ["6-BI-1"]


def test_what_is_not_a_build_is_kept_and_reported(backend):
    backend.mkdirs(f"{CI}/scratch")
    backend.import_object(f"{CI}/notes.txt", b"x")
    backend.import_object(f"{CI}/Explore.py", NOTEBOOK)
    backend.mkdirs_files(f"{LAYOUT.ci_libraries_root}/not a build")
    outcome, text = _clean(backend)
    assert outcome["not_a_build"] == ["CI/Explore", "CI/notes.txt", "CI/scratch", "libraries/CI/not a build"]
    assert {info.path.rsplit("/", 1)[1] for info in backend.list(CI)} == {"scratch", "notes.txt", "Explore"}
    assert "not a build, kept" in text


def test_orphan_library_folders_go_by_their_newest_file(backend):
    root = LAYOUT.ci_libraries_root
    for name in ("5-BI-1", "6-BI-1"):
        backend.mkdirs_files(f"{root}/{name}")
        (backend.paths.file_path(f"{root}/{name}") / "lib-1.whl").write_bytes(b"wheel")
    _set_back(backend.paths.file_path(f"{root}/5-BI-1"), 3 * 86400)
    outcome, text = _clean(backend, timedelta(days=1), dry_run=True)
    assert outcome["deleted"] == ["libraries/CI/5-BI-1"] and "would delete libraries/CI/5-BI-1" in text
    assert outcome["kept"] == ["libraries/CI/6-BI-1"]
    outcome, _ = _clean(backend, timedelta(0))
    assert outcome["deleted"] == ["libraries/CI/5-BI-1"] and outcome["active"] == ["libraries/CI/6-BI-1"]
    assert [info.path.rsplit("/", 1)[1] for info in backend.list_files(root)] == ["6-BI-1"]


class RacedBackend(LocalBackend):
    """A second clean-ci deletes a build folder right after this one looked it up (`_locate`) for a delete."""

    racing = False

    def delete(self, path: str, *, recursive: bool = False) -> None:
        self.racing = True
        try:
            super().delete(path, recursive=recursive)
        finally:
            self.racing = False

    def _locate(self, path: str):
        found = super()._locate(path)
        if self.racing and found[0] is ObjectType.DIRECTORY:
            shutil.rmtree(found[1])  # the other cleaner was quicker
        return found


def test_a_folder_deleted_under_our_delete_is_not_an_error(tmp_path):
    backend = RacedBackend(tmp_path / "local")
    for number in range(1, 6):
        _build(backend, f"{number}-BI-1", _finished(40))
    outcome, _ = _clean(backend, timedelta(days=30))
    assert outcome["deleted"] == [f"{number}-BI-1" for number in range(1, 6)]
    assert backend.list(CI) == []


class VanishingManifestBackend(LocalBackend):
    """A second clean-ci deletes the build between our listing of CI/ and our reading of its manifest."""

    def export(self, path: str, *, format: str = "SOURCE") -> bytes:
        shutil.rmtree(self.paths.workspace_path(path.rsplit("/", 1)[0]), ignore_errors=True)
        return super().export(path, format=format)


def test_a_build_that_vanishes_while_listed_is_left_out(tmp_path):
    backend = VanishingManifestBackend(tmp_path / "local")
    _build(backend, "5-BI-1", _finished(40))
    outcome, text = _clean(backend)
    assert all(names == [] for names in outcome.values()), outcome
    assert "Traceback" not in text


def test_racing_rmtree_skips_entries_already_gone(tmp_path):
    """The local backend's recursive delete lets entries vanish under it (two cleaners at once)."""
    backend = LocalBackend(tmp_path / "local")
    folder = _build(backend, "5-BI-1", _finished(40))
    disk = backend.paths.workspace_path(folder)
    original = os.unlink
    removed: list[str] = []

    def unlink_twice(path, *args, **kwargs):  # the other cleaner removes each file a moment before us
        if not removed:
            removed.append(str(path))
            original(path, *args, **kwargs)
        return original(path, *args, **kwargs)

    os.unlink = unlink_twice
    try:
        backend.delete(folder, recursive=True)
    finally:
        os.unlink = original
    assert removed and not disk.exists()


def test_survey_lists_builds_oldest_first_and_others_apart(backend):
    _build(backend, "2-BI-1", _finished(1))
    _build(backend, "1-BI-1", _finished(5))
    backend.mkdirs(f"{CI}/scratch")
    found = survey_ci(backend, LAYOUT)
    assert [build.name for build in found.builds] == ["1-BI-1", "2-BI-1"] and found.not_builds == ["scratch"]


def test_builds_lists_a_malformed_build_as_such(backend):
    from bricktasks.ci.builds import MALFORMED as SHOWN
    from bricktasks.ci.builds import ci_build_statuses

    _build(backend, "5-BI-1", b'{"run_id": 1e308, "created": "2020-01-01T00:00:00+00:00"}')
    _build(backend, "6-BI-1", None)
    statuses = {status.build.name: status.result for status in ci_build_statuses(backend, LAYOUT, now=datetime.now(timezone.utc))}
    assert statuses == {"5-BI-1": SHOWN, "6-BI-1": "no run"}
