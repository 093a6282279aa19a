"""The "Done when" script: tests/clients/workspace_script.py, written against a real workspace, runs
unchanged as a subprocess against an emulator (only DATABRICKS_HOST/DATABRICKS_TOKEN point it here),
and everything it made is gone afterwards."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from e2e_helpers import REPO

from bricktasks.testing.emulator import client_environment, start_emulator
from bricktasks.testing.projectcopy import clean_environment

SCRIPT = REPO / "tests" / "clients" / "workspace_script.py"
TOKEN = "client-script-token"
USER = "script.user@example.com"
CLUSTER_ID = "0303-000000-script"


def _run_script(url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = clean_environment({**client_environment(url, TOKEN), **extra})
    env.pop("BRICKTASKS_BACKEND")  # a user's script knows only the SDK's variables
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600, cwd=SCRIPT.parent)


def test_the_workspace_script_runs_unchanged_and_cleans_up(tmp_path: Path, end_checks):
    end_checks.library_roots += [f"/Users/{USER}", "/Volumes/main/default"]  # where this script writes
    log = tmp_path / "script.requests.jsonl"
    with start_emulator(tmp_path / "root", token=TOKEN, user=USER, cluster_id=CLUSTER_ID, request_log=log) as emulator:
        result = _run_script(emulator.url, SCRIPT_CLUSTER_ID=CLUSTER_ID)
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
    assert f"on cluster {CLUSTER_ID} with tabulate" in out
    assert "TERMINATED SUCCESS" in out
    assert '"rows": 3' in out and '"total": 100' in out and '"library": "tabulate ' in out
    assert "signature of the CSV under the secret: matches" in out
    assert out.rstrip().endswith("cleaned up") and result.stderr.strip() == "", result.stderr
    # what it made is gone: folder, run, volume (and the scope: no secret file is left)
    assert home == [] and runs == [] and volumes == []
    assert all(e["status"] < 500 for e in requests)
    called = {e["path"].split("/api/", 1)[-1] for e in requests}
    assert {"2.0/preview/scim/v2/Me", "2.0/workspace/export", "2.0/secrets/put", "2.1/unity-catalog/volumes",
            "2.2/jobs/runs/submit", "2.2/jobs/runs/get-output", "2.2/jobs/runs/delete"} <= called, called
