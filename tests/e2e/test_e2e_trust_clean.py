"""Issue 11 item 8: clean-ci never deletes a build in progress and never crashes on a malformed one.

The builds are laid out on disk deterministically: a build still uploading is a CI folder with files
written "now" and no manifest yet (what `invoke ci` leaves between its first upload and its manifest);
an abandoned one has the same shape with every time set back three days. The same layout is cleaned
over the local backend and, through the real databricks-sdk, over the emulator (which serves the same
kind of folder), and then twice at once, where the deletes race.
"""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from e2e_helpers import SENTINEL_TOKEN, WORKSPACE_ROOT

from bricktasks.backends.local import LocalBackend
from bricktasks.testing.emulator import EmulatorProcess

CI = f"{WORKSPACE_ROOT}/CI"
CI_LIBRARIES = f"{WORKSPACE_ROOT}/libraries/CI"
NOTEBOOK = b"# Databricks notebook source\nprint(1)\n"
THREE_DAYS = 3 * 86400


def _age(disk: Path, seconds: float) -> None:
    """Set back the modification time of `disk` and everything below it."""
    stamp = time.time() - seconds
    for path in [disk, *disk.rglob("*")]:
        os.utime(path, (stamp, stamp))


def _manifest(backend: LocalBackend, name: str, body: bytes | None, *, created: datetime | None = None, **fields) -> None:
    folder = f"{CI}/{name}"
    backend.mkdirs(folder)
    backend.import_object(f"{folder}/ModelTraining.py", NOTEBOOK)
    if body is None:
        data = {"build_id": name.split("-")[0], "branch": "BI-1", "created": (created or datetime.now(timezone.utc)).isoformat(),
                "run_id": None, **fields}
        body = json.dumps(data).encode()
    backend.import_object(f"{folder}/.bricktasks-build.json", body, format="RAW")
    backend.mkdirs_files(f"{CI_LIBRARIES}/{name}")


def lay_out_builds(backend: LocalBackend) -> None:
    """Every kind of thing clean-ci meets in CI/ and libraries/CI/."""
    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    # uploading right now: files, no manifest yet
    backend.mkdirs(f"{CI}/10-BI-1/conf")
    backend.import_object(f"{CI}/10-BI-1/ModelTraining.py", NOTEBOOK)
    backend.import_object(f"{CI}/10-BI-1/conf/ci_config.py", NOTEBOOK)
    # abandoned before its manifest: nothing written for three days
    backend.mkdirs(f"{CI}/11-BI-1/conf")
    backend.import_object(f"{CI}/11-BI-1/conf/ci_config.py", NOTEBOOK)
    _age(backend.paths.workspace_path(f"{CI}/11-BI-1"), THREE_DAYS)
    # malformed manifests
    backend.mkdirs(f"{CI}/12-BI-1/.bricktasks-build.json")  # a folder where the manifest goes
    _manifest(backend, "13-BI-1", b'{"run_id": 1e308, "created": "2020-01-01T00:00:00+00:00"}')
    _manifest(backend, "14-BI-1", None, created=long_ago, run_id="12")
    _manifest(backend, "15-BI-1", None, created=long_ago, run_id=-5)
    _manifest(backend, "16-BI-1", None, created=long_ago, run_id=True)
    _manifest(backend, "17-BI-1", b'{"run_id": 3, "created": "9999-12-31T23:59:59+00:00"}')  # far in the future
    _manifest(backend, "18-BI-1", b'{"run_id": 3, "created": "last tuesday"}')
    _manifest(backend, "19-BI-1", b"\xff\xfe not json")
    _manifest(backend, "24-BI-1", b'{"run_id": 1e400, "created": "2020-01-01T00:00:00+00:00"}')  # inf
    # not builds at all: kept and reported
    backend.mkdirs(f"{CI}/scratch")
    backend.import_object(f"{CI}/README.md", b"notes\n")
    # a finished build, long ago: deleted with its libraries
    _manifest(backend, "20-BI-1", None, created=long_ago, result="SUCCESS")
    # libraries whose CI folder is gone: one abandoned three days ago, one being uploaded (ci uploads them first)
    backend.mkdirs_files(f"{CI_LIBRARIES}/21-BI-1")
    (backend.paths.file_path(f"{CI_LIBRARIES}/21-BI-1") / "lib-1.whl").write_bytes(b"wheel")
    _age(backend.paths.file_path(f"{CI_LIBRARIES}/21-BI-1"), THREE_DAYS)
    backend.mkdirs_files(f"{CI_LIBRARIES}/22-BI-1")
    (backend.paths.file_path(f"{CI_LIBRARIES}/22-BI-1") / "lib-1.whl").write_bytes(b"wheel")
    # its manifest is up, its run not submitted yet
    _manifest(backend, "23-BI-1", None)


MALFORMED = ["12-BI-1", "13-BI-1", "14-BI-1", "15-BI-1", "16-BI-1", "17-BI-1", "18-BI-1", "19-BI-1", "24-BI-1"]
EXPECTED = {
    "deleted": ["11-BI-1", "20-BI-1", "libraries/CI/21-BI-1"],
    "kept": [],
    "active": ["10-BI-1", "23-BI-1", "libraries/CI/22-BI-1"],
    "malformed": MALFORMED,
    "not_a_build": ["CI/README.md", "CI/scratch"],
}


def _names(backend: LocalBackend, path: str, *, files: bool = False) -> set[str]:
    listed = backend.list_files(path) if files else backend.list(path)
    return {info.path.rstrip("/").rsplit("/", 1)[1] for info in listed}


def _clean(project, env: dict[str, str], *flags: str) -> dict:
    result = project.invoke("clean-ci", "--older-than", "0d", "--json", *flags, env=env)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def _check_cleaning(project, backend: LocalBackend, env: dict[str, str]) -> None:
    lay_out_builds(backend)
    before = sorted(str(path) for path in backend.root.rglob("*"))
    dry = _clean(project, env, "--dry-run")
    assert {key: dry[key] for key in EXPECTED} == EXPECTED
    assert sorted(str(path) for path in backend.root.rglob("*")) == before  # the dry run changed nothing

    done = _clean(project, env)
    assert {key: done[key] for key in EXPECTED} == EXPECTED
    left = _names(backend, CI)
    assert left == {"10-BI-1", "23-BI-1", *MALFORMED, "README.md", "scratch"}
    assert _names(backend, f"{CI}/10-BI-1") == {"ModelTraining", "conf"}  # the upload in progress is untouched
    # a kept build keeps its libraries (12-BI-1 never had any)
    assert _names(backend, CI_LIBRARIES, files=True) == {"22-BI-1", "23-BI-1", *MALFORMED} - {"12-BI-1"}

    again = _clean(project, env)  # nothing more goes, nothing crashes
    assert again["deleted"] == [] and again["active"] == EXPECTED["active"] and again["malformed"] == MALFORMED


def test_clean_ci_keeps_builds_in_progress_and_malformed_ones_on_the_local_backend(project):
    _check_cleaning(project, project.backend(), {})


def test_clean_ci_keeps_builds_in_progress_and_malformed_ones_over_the_emulator(project, tmp_path, end_checks):
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        _check_cleaning(project, LocalBackend(emulator.root), env)


def test_two_clean_ci_at_once_race_without_errors(project):
    backend = project.backend()
    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    names = [f"{number}-BI-{number % 3}" for number in range(1, 41)]
    for name in names:
        _manifest(backend, name, None, created=long_ago, result="SUCCESS")
        for index in range(5):
            backend.import_object(f"{CI}/{name}/Notebook{index}.py", NOTEBOOK)
    racing = [project.start("clean-ci", "--older-than", "30d", "--json") for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in racing]
    for process, (stdout, stderr) in zip(racing, outputs, strict=True):
        assert process.returncode == 0 and "Traceback" not in stdout + stderr, stdout + stderr
    deleted = set().union(*(json.loads(stdout.splitlines()[-1])["deleted"] for stdout, _ in outputs))
    assert deleted == set(names)
    assert backend.list(CI) == [] and backend.list_files(CI_LIBRARIES) == []
