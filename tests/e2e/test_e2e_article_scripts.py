"""The workflow article's own scripts, copied faithfully into tests/clients/article/, run against the
emulator with only their host plumbing changed:

- its CI script (`databricks-api` + `databricks-cli`'s WorkspaceApi): `DatabricksAPI` forces
  `https://` and `ApiClient` drops the port, so the emulator serves `--tls` on port 443 of a loopback
  address of this test's own (the machine's root may bind it) and `REQUESTS_CA_BUNDLE` trusts its CA;
- its bash `deploy-library.sh` with the legacy `databricks-cli`: a `~/.databrickscfg` profile on
  `http://127.0.0.1` reaches the emulator as the HTTP proxy, the trick the benchmarks use.

Its run's libraries are `pandas` (this environment has it) and `sentry-sdk`, installed for the run from
the index pip is configured with (PIP_INDEX_URL): a package index on loopback serving a stand-in
`sentry-sdk` wheel built by the test, so no test needs PyPI.

The CI script polls every 2 minutes; a `sitecustomize` of the test's own caps each `time.sleep` of that
process at 0.5 s, so the script's code runs unchanged and the test does not wait minutes.
"""
from __future__ import annotations

import errno
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from e2e_helpers import REPO

from bricktasks.testing.emulator import start_emulator
from bricktasks.testing.package_index import PackageIndex, build_wheel
from bricktasks.testing.projectcopy import clean_environment

ARTICLE = REPO / "tests" / "clients" / "article"
TOKEN = "article-token"
SHORT_SLEEP = """import time
_sleep = time.sleep
time.sleep = lambda seconds: _sleep(min(seconds, 0.5))  # the article polls every 120 s
"""


def _emulator_on_443(root: Path, log: Path):
    """An https emulator on port 443 of a free loopback address (the client cannot name a port)."""
    rng = random.Random()
    for _ in range(20):
        host = f"127.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(2, 254)}"
        try:
            return start_emulator(root, token=TOKEN, host=host, port=443, tls=True, request_log=log)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    raise RuntimeError("no free loopback address for port 443")


def test_the_articles_ci_script_imports_the_folder_submits_and_waits(tmp_path: Path, end_checks, monkeypatch):
    end_checks.library_roots.append("/Projects/ProjectName/CI")  # where the article's CI script writes
    project = tmp_path / "project"
    shutil.copytree(ARTICLE, project)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SHORT_SLEEP)
    sentry = build_wheel(tmp_path / "wheels", "sentry-sdk", "2.99.0", {"sentry_sdk": "VERSION = '2.99.0'\n"})
    with PackageIndex([sentry]) as index, _emulator_on_443(tmp_path / "root", tmp_path / "article.requests.jsonl") as emulator:
        monkeypatch.setenv("PIP_INDEX_URL", index.url)  # the emulator's runs install from it
        assert emulator.server.tls is not None
        env = clean_environment({
            "DATABRICKS_HOST": emulator.url.rsplit(":", 1)[0],  # https://127.a.b.c: the port is 443
            "DATABRICKS_API_KEY": TOKEN, "PIPELINES_BUILD_ID": "4242", "GIT_BRANCH": "BI-4811",
            "REQUESTS_CA_BUNDLE": str(emulator.server.tls.ca_file), "PYTHONPATH": str(tmp_path / "site"),
            "HOME": str(tmp_path),
        })
        result = subprocess.run([sys.executable, str(project / "forecasting" / "ci" / "run_in_databricks.py")],
                                env=env, capture_output=True, text=True, timeout=600, cwd=project)
        folder = "/Projects/ProjectName/CI/4242-BI-4811"
        listed = sorted(o.path for o in emulator.backend.list(folder))
        runs = emulator.backend.list_runs()
        requests = emulator.requests
        output = emulator.backend.get_run_output(runs[0].tasks[0].run_id) if runs else None
        asked = index.requests()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "BI-4811 4242"
    assert output is not None and "trained on 50 rows in ci, slope 2.0, sentry-sdk 2.99.0" in (output.logs or ""), output
    assert "/simple/sentry-sdk/" in asked and not any("pandas" in path for path in asked)
    assert f"job id {runs[0].run_id}" in result.stdout
    assert listed == [f"{folder}/{name}" for name in ("ModelTraining", "ci", "conf", "set_environment")]
    assert runs[0].result_state == "SUCCESS" and runs[0].run_name == "CI-4242-BI-4811"
    assert all(e["status"] < 500 for e in requests)


def test_the_articles_deploy_library_script_copies_the_egg_with_the_legacy_cli(tmp_path: Path, end_checks):
    end_checks.library_roots.append("dbfs:/libraries")
    end_checks.master_allowed = True  # the article's script is its deploy: it copies right into dbfs:/libraries
    project = tmp_path / "project"
    shutil.copytree(ARTICLE, project)
    # the script activates env/Scripts/activate (a Windows virtualenv's layout): a real venv, linked there
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(project / "env")], check=True)
    (project / "env" / "Scripts").mkdir()
    (project / "env" / "Scripts" / "activate").symlink_to(project / "env" / "bin" / "activate")
    bin_dir = Path(shutil.which("databricks") or "databricks").resolve().parent
    with start_emulator(tmp_path / "root", token=TOKEN, request_log=tmp_path / "deploy.requests.jsonl") as emulator:
        port = emulator.url.rsplit(":", 1)[1]
        (tmp_path / ".databrickscfg").write_text(f"[MYPROFILE]\nhost = http://127.0.0.1\ntoken = {TOKEN}\n")
        env = clean_environment({"HOME": str(tmp_path), "HTTP_PROXY": f"http://127.0.0.1:{port}", "NO_PROXY": "",
                                 "PATH": f"{bin_dir}:/usr/bin:/bin"})
        result = subprocess.run(["bash", str(project / "deploy-library.sh")], env=env, capture_output=True, text=True,
                                timeout=600, cwd=project)
        copied = [f.path for f in emulator.backend.list_files("dbfs:/libraries")]
        eggs = [p for p in copied if p.endswith(".egg")]
        egg_bytes = emulator.backend.read_file(eggs[0]) if eggs else b""
        requests = emulator.requests
    assert result.returncode == 0, result.stdout + result.stderr
    built = sorted(p.name for p in (project / "dist").iterdir())
    assert [p.rsplit("/", 1)[1] for p in copied] == built and len(eggs) == 1, (copied, built)
    assert egg_bytes == (project / "dist" / eggs[0].rsplit("/", 1)[1]).read_bytes()
    with zipfile.ZipFile(project / "dist" / built[0]) as egg:
        assert "forecasting_utils/__init__.py" in egg.namelist()
    assert all(e["status"] < 500 for e in requests)
    assert any(e["path"] == "/api/2.0/dbfs/put" or e["path"].startswith("/api/2.0/dbfs/add-block") for e in requests)
