"""`bricktasks init` in a repository laid out unlike this one: notebooks in notebooks/ (with the Databricks
header), a src/-layout library `churn` with its pyproject.toml at the top, the workspace root /Projects/churn.
After init the workflow runs as it does here: checkout, ci (local backend and over the emulator) and deploy.
Also: a second run changes nothing, existing files are skipped unless --force, --wire-notebooks adds the
%run cells, and bad input is one line, exit 2, nothing written. (This checkout's bricktasks runs here;
tests/e2e/test_e2e_package.py proves the wheel.)"""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import SENTINEL_TOKEN, clean_environment

from bricktasks.emulator.requestlog import read_request_log
from bricktasks.jobdef.definition import load_job_definition
from bricktasks.jobdef.production import load_production_job
from bricktasks.testing.emulator import client_environment, start_emulator

GIT_ENV = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"}
FLAGS = ("--name", "churn", "--source", "notebooks", "--ci", "github")
HEADER = "# Databricks notebook source\n"
TRAIN = HEADER + """# MAGIC %md
# MAGIC # Train

# COMMAND ----------

from churn import score

dbutils.notebook.exit(f"{ENVIRONMENT}:{score()}")
"""
PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "churn"
dynamic = ["version"]
"""
# the per-build version bricktasks stamps comes in through BRICKTASKS_LIB_VERSION (see docs/adopting.md)
SETUP = 'import os\nfrom setuptools import setup\n\nsetup(version=os.environ.get("BRICKTASKS_LIB_VERSION") or "0.1.0")\n'


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=clean_environment(GIT_ENV))


def _repo(root: Path) -> Path:
    (root / "notebooks").mkdir(parents=True)
    (root / "notebooks" / "Train.py").write_text(TRAIN)
    (root / "src" / "churn").mkdir(parents=True)
    (root / "src" / "churn" / "__init__.py").write_text("def score():\n    return 42\n")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "setup.py").write_text(SETUP)
    (root / ".gitignore").write_text("*.log\n.env\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "the team's repository")
    return root


def _init(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bricktasks", "init", *args], cwd=root, env=clean_environment(GIT_ENV),
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


def _invoke(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=root, env=clean_environment({**GIT_ENV, **(env or {})}),
        capture_output=True, text=True, timeout=300,
    )


def _files(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file() and ".git" not in path.parts}


def test_init_then_checkout_ci_and_deploy_locally_and_over_the_emulator(tmp_path: Path, end_checks):
    root = _repo(tmp_path / "churn")
    init = _init(root, *FLAGS, "--wire-notebooks")
    assert init.returncode == 0, init.stdout + init.stderr
    for written in ("tasks.py", ".env.example", "notebooks/conf/production_config.py", "notebooks/conf/ci_config.py",
                    "notebooks/conf/dev_config.py", "notebooks/set_environment.py", "notebooks/install_libraries.py",
                    "jobs/ci.json", "jobs/production/churn.json", ".github/workflows/ci.yml"):
        assert f"wrote {written}" in init.stdout
    assert "added lines to .gitignore" in init.stdout and "added the %run cells to notebooks/Train.py" in init.stdout
    assert "tasks.py" in init.stdout and "Example.py" not in init.stdout  # the repo had a notebook: no example
    tasks = (root / "tasks.py").read_text()
    assert '"BRICKTASKS_SOURCE_DIR": "notebooks"' in tasks and '"BRICKTASKS_LIBS": "."' in tasks
    assert '"BRICKTASKS_WORKSPACE_ROOT": "/Projects/churn"' in tasks
    gitignore = (root / ".gitignore").read_text()
    assert gitignore.startswith("*.log\n.env\n") and gitignore.count(".env\n") == 1 and ".databricks-local/" in gitignore
    # the job definitions pass the checks ci and deploy apply
    job = load_job_definition(root / "jobs/ci.json", shown="jobs/ci.json", notebooks=["Train"], source_dir="notebooks")
    assert [task.task_key for task in job.tasks] == ["Train"]
    production = load_production_job(root / "jobs/production/churn.json", shown="p", notebooks=["Train"], source_dir="notebooks")
    assert production.settings["schedule"]["pause_status"] == "PAUSED"
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "bricktasks init")
    _git(root, "checkout", "-q", "-b", "BI-1")

    checkout = _invoke(root, "checkout", "BI-1")
    assert checkout.returncode == 0, checkout.stdout + checkout.stderr
    workspace = root / ".databricks-local" / "workspace" / "Projects" / "churn" / "BI-1"
    assert "%run ./conf/dev_config" in (workspace / "set_environment.py").read_text()

    ci = _invoke(root, "ci")
    assert ci.returncode == 0, ci.stdout + ci.stderr
    assert "Train: SUCCESS; exit value: ci:42" in ci.stdout  # the library built from src/ was installed and imported
    assert "churn-0.1.0.dev0+local" in ci.stdout + ci.stderr

    emulator = start_emulator(tmp_path / "emulated", token=SENTINEL_TOKEN, request_log=tmp_path / "emulated.requests.jsonl")
    end_checks.library_roots.append("/Projects/churn")  # the workspace root of this repository, not the example's
    end_checks.master_allowed = True  # the test deploys
    try:
        remote = client_environment(emulator.url, SENTINEL_TOKEN)
        over_http = _invoke(root, "ci", env=remote)
        assert over_http.returncode == 0, over_http.stdout + over_http.stderr
        assert "Train: SUCCESS; exit value: ci:42" in over_http.stdout
        _git(root, "checkout", "-q", "main")
        deploy = _invoke(root, "deploy", env=remote)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        assert "created job" in deploy.stdout + deploy.stderr
        master = tmp_path / "emulated" / "workspace" / "Projects" / "churn" / "master"
        assert "%run ./conf/production_config" in (master / "set_environment.py").read_text()
    finally:
        emulator.stop()
    writes = [entry for entry in read_request_log(tmp_path / "emulated.requests.jsonl") if entry["method"] != "GET" and entry.get("target")]
    assert writes and all(entry["target"].startswith(("/Projects/churn/", "/Workspace/Projects/churn/")) or not
                          entry["target"].startswith("/") for entry in writes), [entry["target"] for entry in writes]
    for output in (init, checkout, ci, over_http, deploy):
        assert SENTINEL_TOKEN not in output.stdout + output.stderr


def test_a_second_run_changes_nothing_and_a_changed_file_is_skipped_unless_forced(tmp_path: Path):
    root = _repo(tmp_path / "churn")
    assert _init(root, *FLAGS).returncode == 0
    before = _files(root)
    again = _init(root, *FLAGS)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines() == ["nothing to change: every file is as init would write it"]
    assert _files(root) == before
    (root / "jobs" / "ci.json").write_text('{"tasks": []}\n')  # the team's own edit
    kept = _init(root, *FLAGS)
    assert "skipped (exists and differs; --force to overwrite): jobs/ci.json" in kept.stdout
    assert (root / "jobs" / "ci.json").read_text() == '{"tasks": []}\n'
    assert (root / "notebooks" / "Train.py").read_text() == TRAIN  # no --wire-notebooks: untouched
    forced = _init(root, *FLAGS, "--force")
    assert "overwrote jobs/ci.json" in forced.stdout
    assert json.loads((root / "jobs" / "ci.json").read_text())["tasks"][0]["task_key"] == "Train"
    # nothing lost: the team's edit is kept first, out of git (.bricktasks/ ignores itself), and the line says where
    [copy] = (root / ".bricktasks" / "overwritten" / "init").glob("*/jobs/ci.json")
    assert copy.read_text() == '{"tasks": []}\n'
    assert f"the old versions of jobs/ci.json are kept in {copy.parents[1].relative_to(root).as_posix()}/" in forced.stdout
    assert _files(root) == before | {path: data for path, data in _files(root).items() if path.startswith(".bricktasks/")}


def test_wire_notebooks_adds_the_run_cells_once(tmp_path: Path):
    root = _repo(tmp_path / "churn")
    (root / "notebooks" / "deep").mkdir()
    (root / "notebooks" / "deep" / "Score.py").write_text(HEADER + "# MAGIC %run ../set_environment\n\nprint(1)\n")
    dry = _init(root, *FLAGS, "--wire-notebooks", "--dry-run")
    assert "would add the %run cells to notebooks/Train.py" in dry.stdout and not (root / "tasks.py").exists()
    assert _init(root, *FLAGS, "--wire-notebooks").returncode == 0
    train = (root / "notebooks" / "Train.py").read_text()
    assert train.startswith(HEADER + "\n# MAGIC %run ./install_libraries\n\n# COMMAND ----------\n\n# MAGIC %run ./set_environment\n")
    assert train.endswith(TRAIN[len(HEADER):])  # every line of the notebook kept
    score = (root / "notebooks" / "deep" / "Score.py").read_text()
    assert score.count("%run ../install_libraries") == 1 and score.count("%run ../set_environment") == 1
    again = _init(root, *FLAGS, "--wire-notebooks")
    assert "nothing to change" in again.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--name", "../evil", "--source", "notebooks", "--ci", "github"), "--name '../evil' is not a valid folder name"),
        (("--name", "churn", "--source", "../outside", "--ci", "github"), "--source '../outside' leaves the target"),
        (("--name", "churn", "--source", "/etc", "--ci", "github"), "--source '/etc' is outside the target"),
        (("--name", "churn", "--source", "notebooks", "--ci", "travis"), "--ci 'travis' is not a CI system"),
        (("--name", "churn", "--workspace-root", "/Repos/x/churn", "--ci", "github"), "--workspace-root '/Repos/x/churn' is inside /Repos"),
        (("--name", "churn", "--workspace-root", "/Users", "--ci", "github"), "--workspace-root '/Users'"),
        (("--name", "churn", "--libs", "packages/none", "--ci", "github"), "--libs 'packages/none' has no pyproject.toml"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path: Path, args: tuple[str, ...], expected: str):
    root = _repo(tmp_path / "churn")
    before = _files(root)
    refused = _init(root, *args)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""
    assert _files(root) == before


def test_a_target_below_a_repositorys_top_or_a_link_out_is_refused(tmp_path: Path):
    root = _repo(tmp_path / "churn")
    before = _files(root)
    inside = _init(root / "notebooks", *FLAGS)
    assert inside.returncode == 2 and "below its top folder" in inside.stderr and f"--target {root}" in inside.stderr
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "jobs").symlink_to(outside)
    linked = _init(root, *FLAGS)
    assert linked.returncode == 2 and "jobs is a symbolic link; nothing was written" in linked.stderr
    assert not list(outside.iterdir())
    (root / "jobs").unlink()
    assert _files(root) == before


def test_with_no_flags_and_no_terminal_it_prints_and_uses_the_detected_defaults(tmp_path: Path):
    root = _repo(tmp_path / "churn")
    proposed = _init(root)
    assert proposed.returncode == 0, proposed.stderr
    assert proposed.stdout.splitlines()[0] == (
        "using the detected defaults: --name churn, --source notebooks, --libs ., --workspace-root /Projects/churn, --ci github"
    )
    assert _init(root, *FLAGS).stdout.strip() == "nothing to change: every file is as init would write it"


def test_on_a_terminal_it_asks_with_the_detected_defaults(tmp_path: Path):
    root = _repo(tmp_path / "churn")
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bricktasks", "init"], cwd=root, env=clean_environment(GIT_ENV),
            stdin=secondary, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # the name changed, every other proposal kept (Enter): the workspace root's proposal follows the name
        os.write(primary, b"retention\n\n\n\n\n")
        out, err = process.communicate(timeout=120)
    finally:
        os.close(primary)
        os.close(secondary)
    assert process.returncode == 0, out + err
    assert "name [churn]: " in out and "ci [github]: " in out
    assert (root / "jobs" / "production" / "retention.json").is_file()
    assert "workspace root [/Projects/retention]: " in out
    assert '"BRICKTASKS_WORKSPACE_ROOT": "/Projects/retention"' in (root / "tasks.py").read_text()


def test_a_folder_that_is_no_git_repository_yet_is_scaffolded(tmp_path: Path):
    root = tmp_path / "fresh"
    root.mkdir()
    init = _init(root, *FLAGS)
    assert init.returncode == 0, init.stderr
    assert "wrote notebooks/Example.py" in init.stdout and (root / ".github" / "workflows" / "ci.yml").is_file()
    assert sorted(json.loads((root / "jobs" / "ci.json").read_text())["tasks"][0]) == [
        "environment_key", "notebook_task", "task_key", "timeout_seconds"]
