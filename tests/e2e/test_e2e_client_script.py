"""The "Done when" script: tests/clients/workspace_script.py, written against a real workspace, runs
unchanged as a subprocess against an emulator (only DATABRICKS_HOST/DATABRICKS_TOKEN point it here),
and everything it made is gone afterwards."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import REPO

from bricktasks.testing.emulator import client_environment, start_emulator
from bricktasks.testing.package_index import PackageIndex, build_wheel
from bricktasks.testing.projectcopy import clean_environment

SCRIPT = REPO / "tests" / "clients" / "workspace_script.py"
TOKEN = "client-script-token"
USER = "script.user@example.com"
CLUSTER_ID = "0303-000000-script"
PACKAGE = "bricktasks-scriptlib"  # a library no environment here has: the run must install it from the index


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    wheel = build_wheel(tmp_path_factory.mktemp("wheels"), PACKAGE, "1.2.3", {"bricktasks_scriptlib": "MADE_FOR = 'the script'\n"})
    with PackageIndex([wheel]) as served:
        yield served


def _run_script(url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = clean_environment({**client_environment(url, TOKEN), **extra})
    env.pop("BRICKTASKS_BACKEND")  # a user's script knows only the SDK's variables
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600, cwd=SCRIPT.parent)


@pytest.mark.parametrize("compute", ["cluster", "serverless"])
def test_the_workspace_script_runs_unchanged_and_cleans_up(compute, index, tmp_path: Path, end_checks, monkeypatch):
    end_checks.library_roots += [f"/Users/{USER}", "/Volumes/main/default"]  # where this script writes
    log = tmp_path / "script.requests.jsonl"
    settings = {"SCRIPT_PYPI_PACKAGE": PACKAGE}
    if compute == "cluster":  # the task's pypi library names its repo
        settings.update(SCRIPT_CLUSTER_ID=CLUSTER_ID, SCRIPT_PYPI_REPO=index.url)
    else:  # a serverless environment's dependency comes from the workspace's index: the emulator's pip configuration
        monkeypatch.setenv("PIP_INDEX_URL", index.url)
    asked_before = len(index.requests())
    with start_emulator(tmp_path / "root", token=TOKEN, user=USER, cluster_id=CLUSTER_ID, request_log=log) as emulator:
        result = _run_script(emulator.url, **settings)
        requests = emulator.requests
        backend = emulator.backend
        home = backend.list(f"/Users/{USER}")
        runs = backend.list_runs()
        volumes = sorted(p.name for p in (emulator.root / "volumes" / "main" / "default").iterdir())
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"signed in as {USER}" in out
    assert "JUPYTER 3 cells (markdown, code, code)" in out
    assert "secret scope client-script-" in out and "['signing-key']" in out
    assert "parts.csv (40 bytes)" in out
    assert (f"on cluster {CLUSTER_ID}" if compute == "cluster" else "on serverless") + f" with {PACKAGE}" in out
    assert "TERMINATED SUCCESS" in out
    assert '"rows": 3' in out and '"total": 100' in out
    assert f'"library": "{PACKAGE} 1.2.3 (bricktasks_scriptlib)"' in out
    assert f"/simple/{PACKAGE}/" in index.requests()[asked_before:]  # installed from the index, not found locally
    assert "signature of the CSV under the secret: matches" in out
    assert out.rstrip().endswith("cleaned up") and result.stderr.strip() == "", result.stderr
    # what it made is gone: folder, run, volume (and the scope: no secret file is left)
    assert home == [] and runs == [] and volumes == []
    assert all(e["status"] < 500 for e in requests)
    called = {e["path"].split("/api/", 1)[-1] for e in requests}
    assert {"2.0/preview/scim/v2/Me", "2.0/workspace/export", "2.0/secrets/put", "2.1/unity-catalog/volumes",
            "2.2/jobs/runs/submit", "2.2/jobs/runs/get-output", "2.2/jobs/runs/delete"} <= called, called
