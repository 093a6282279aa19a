"""Every refusal: exit 2, one line that says what to fix, no traceback, nothing changed.

The table runs twice: on the local backend (nothing in its root changes), and with
BRICKTASKS_BACKEND=databricks against one emulator for the module (its request log shows no write
request while the case runs, and its root does not change).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from e2e_helpers import REPO, SENTINEL_TOKEN, ProjectCopy, is_write

from bricktasks.testing.emulator import EmulatorProcess

TOKEN = "dapi" + "feedc0de" * 4

CASES = [
    # (id, invoke arguments, extra environment, .env text, expected text in the error line)
    ("checkout-dotdot", ["checkout", ".."], {}, None, "empty part or one starting with '.'"),
    ("checkout-escape", ["checkout", "../master"], {}, None, "starting with '.'"),
    ("checkout-empty", ["checkout", ""], {}, None, "branch name is empty"),
    ("upload-lib-empty-branch", ["upload-lib", "--branch", ""], {}, None, "branch name is empty"),
    ("checkout-control", ["checkout", "bad\x07name"], {}, None, "control characters"),
    ("checkout-long", ["checkout", "b" * 101], {}, None, "longer than 100"),
    ("checkout-master", ["checkout", "master"], {}, None, "use invoke deploy"),
    ("checkout-main", ["checkout", "main"], {}, None, "use invoke deploy"),
    ("checkout-reserved", ["checkout", "CI"], {}, None, "reserved"),
    ("checkout-bad-env", ["checkout", "BI-1", "--env", "nobody"], {}, None, "no conf/nobody_config.py"),
    ("switch-bad-env", ["switch-env", "nobody", "--branch", "BI-1"], {}, None, "use one of: ci, dev, kyle, production"),
    ("switch-production", ["switch-env", "production", "--branch", "BI-1"], {}, None, "--force"),
    ("switch-missing-folder", ["switch-env", "ci", "--branch", "BI-404"], {}, None, "run invoke checkout first"),
    ("clean-30x", ["clean-ci", "--older-than", "30x"], {}, None, "not a duration"),
    ("clean-negative", ["clean-ci", "--older-than", "-1d"], {}, None, "not a duration"),
    ("clean-unit-only", ["clean-ci", "--older-than", "d"], {}, None, "not a duration"),
    ("clean-empty", ["clean-ci", "--older-than", ""], {}, None, "not a duration"),
    ("ci-timeout", ["ci", "--timeout", "soon"], {}, None, "not a duration"),
    ("ci-unknown-notebook", ["ci", "--notebooks", "Nope"], {"BRICKTASKS_BUILD_ID": "1"}, None, "no notebook 'Nope'"),
    ("run-unknown-notebook", ["run", "Nope"], {}, None, "use one of: ModelTraining, PrepareData"),
    ("run-unknown-env", ["run", "ModelTraining", "--env", "nobody"], {}, None, "no conf/nobody_config.py"),
    ("ci-bad-build-id", ["ci"], {"BRICKTASKS_BUILD_ID": "../x"}, None, "is not a safe build id"),
    ("dotenv-malformed", ["checkout", "BI-1"], {}, f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\nnot a line\n", ".env line 2 is malformed"),
    # a malformed line holding the token: the error names the line, never echoes it
    ("dotenv-malformed-token", ["checkout", "BI-1"], {}, f"DATABRICKS_TOKEN='{SENTINEL_TOKEN}\n", ".env line 1 is malformed"),
    ("dotenv-unknown", ["checkout", "BI-1"], {}, "BRICKTASKS_ENVV=dev\n", "unknown setting BRICKTASKS_ENVV"),
    ("backend-unknown", ["checkout", "BI-1"], {"BRICKTASKS_BACKEND": "spark"}, None, "is not a backend"),
    # (an empty value unsets the emulator's host that the remote run sets)
    ("host-without-token", ["checkout", "BI-1"], {"DATABRICKS_HOST": "https://x.cloud.databricks.com"}, "", "DATABRICKS_TOKEN is not set"),
    ("databricks-without-host", ["checkout", "BI-1"], {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": ""},
     None, "DATABRICKS_HOST is not set"),
    ("ci-without-host", ["ci"], {"CI": "true", "DATABRICKS_HOST": ""}, None, "CI is set but DATABRICKS_HOST is not"),
    ("library-root-outside", ["upload-lib", "--branch", "BI-1"], {"BRICKTASKS_LIBRARY_ROOT": "/Shared/libs"},
     None, "outside the workspace root"),
    ("library-root-dbfs-root", ["upload-lib", "--branch", "BI-1"], {"BRICKTASKS_LIBRARY_ROOT": "dbfs:/"}, None, "DBFS root"),
    ("egg-new-runtime", ["build-egg"], {}, None, "build-wheel"),
    ("egg-upload-new-runtime", ["upload-lib", "--egg", "--branch", "BI-1"], {}, None, "build-wheel"),
    ("cluster-spec-invalid", ["ci"], {"BRICKTASKS_CLUSTER_SPEC": "bad.json", "BRICKTASKS_BUILD_ID": "1"}, None, "not valid JSON"),
    # the CI run's job definition (issue 13): checked before anything is built or uploaded
    ("ci-job-cycle", ["ci"], {"BRICKTASKS_CI_JOB": "cycle.json", "BRICKTASKS_BUILD_ID": "1"}, None,
     "cycle.json: tasks: the tasks' depends_on form a cycle: A -> B -> A"),
    ("ci-job-unknown-field", ["ci"], {"BRICKTASKS_CI_JOB": "typo.json", "BRICKTASKS_BUILD_ID": "1"}, None,
     "typo.json: tasks[0] (A).depend_on: unknown field 'depend_on'; did you mean 'depends_on'?"),
    ("ci-job-beside-notebooks", ["ci", "--notebooks", "ModelTraining"], {"BRICKTASKS_CI_JOB": "jobs/ci.json", "BRICKTASKS_BUILD_ID": "1"},
     None, "--notebooks applies only without a job definition, and jobs/ci.json defines the CI run's tasks"),
    ("ci-repair-without-a-run", ["ci", "--repair"], {"BRICKTASKS_BUILD_ID": "1"}, None, "build 1 of main has no run to repair"),
]
JOB_FILES = {
    "cycle.json": {"tasks": [
        {"task_key": "A", "notebook_task": {"notebook_path": "PrepareData"}, "depends_on": [{"task_key": "B"}]},
        {"task_key": "B", "notebook_task": {"notebook_path": "ModelTraining"}, "depends_on": [{"task_key": "A"}]},
    ]},
    "typo.json": {"tasks": [{"task_key": "A", "notebook_task": {"notebook_path": "PrepareData"}, "depend_on": []}]},
    "jobs/ci.json": json.loads((REPO / "jobs" / "ci.json").read_text()),
}


def _arrange(project: ProjectCopy, dotenv: str | None) -> None:
    (project.root / "bad.json").write_text("{not json")
    for name, job in JOB_FILES.items():
        (project.root / name).parent.mkdir(exist_ok=True)
        (project.root / name).write_text(json.dumps(job))
    if dotenv is not None:
        (project.root / ".env").write_text(dotenv)


def _assert_refused(result, expected: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_refusal(project, case):
    _, arguments, env, dotenv, expected = case
    assert project.invoke("checkout", "BI-1").returncode == 0  # something in the workspace that must stay as it is
    _arrange(project, dotenv)
    before = project.workspace_digest()
    _assert_refused(project.invoke(*arguments, env=env), expected)
    assert project.workspace_digest() == before


def _tree_digest(root: Path) -> str:
    """Every path and its bytes below the emulator's root, but its spooled uploads."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] != ".emulator-spool" and path.is_file() and path.name != ".lock":
            digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """One emulator for the module, holding a branch folder that must stay as it is."""
    folder = tmp_path_factory.mktemp("refusals-remote")
    with EmulatorProcess(folder / "emulated", token=SENTINEL_TOKEN) as emulator:
        seeding = ProjectCopy.create(folder / "project", repo=REPO)
        (seeding.root / ".env").write_text(f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\n")
        seeded = seeding.invoke("checkout", "BI-1", env=_remote_env(emulator))
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        assert SENTINEL_TOKEN not in seeded.stdout + seeded.stderr
        yield emulator


def _remote_env(emulator: EmulatorProcess) -> dict[str, str]:
    # the host in the environment, the token in .env (the project fixture's sentinel), as a CI
    # pipeline might have them; a case's own environment comes on top
    return {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_refusal_over_the_emulator(project, remote, end_checks, case):
    _, arguments, env, dotenv, expected = case
    end_checks.paths += [remote.root, remote.request_log]
    end_checks.request_logs.append(remote.request_log)
    _arrange(project, dotenv)
    seen, before = len(remote.requests()), _tree_digest(remote.root)
    _assert_refused(project.invoke(*arguments, env={**_remote_env(remote), **env}), expected)
    writes = [request for request in remote.requests()[seen:] if is_write(request)]
    assert writes == [], writes
    assert _tree_digest(remote.root) == before


def test_a_credential_in_the_source_refuses_the_upload(project):
    (project.root / "forecasting" / "conf" / "dev_config.py").write_text(f"# Databricks notebook source\nTOKEN = '{TOKEN}'\n")
    before = project.workspace_digest()
    result = project.invoke("checkout", "BI-1")
    assert result.returncode == 2
    assert "forecasting/conf/dev_config.py line 2 looks like a Databricks token" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert project.workspace_digest() == before


def test_a_tracked_dotenv_is_refused(project):
    (project.root / ".env").write_text("BRICKTASKS_ENV=dev\n")
    project.git("add", "-f", ".env")
    result = project.invoke("checkout", "BI-1")
    assert result.returncode == 2 and ".env is tracked by git" in result.stderr
