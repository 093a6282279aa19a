"""Every refusal: exit 2, one line that says what to fix, no traceback, nothing changed."""
from __future__ import annotations

import pytest

TOKEN = "dapi" + "feedc0de" * 4

CASES = [
    # (id, invoke arguments, extra environment, .env text, expected text in the error line)
    ("checkout-dotdot", ["checkout", ".."], {}, None, "empty part or one starting with '.'"),
    ("checkout-escape", ["checkout", "../master"], {}, None, "starting with '.'"),
    ("checkout-empty", ["checkout", ""], {}, None, "branch name is empty"),
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
    ("dotenv-malformed", ["checkout", "BI-1"], {}, "BRICKTASKS_ENV=dev\nnot a line\n", ".env line 2 is malformed"),
    ("dotenv-unknown", ["checkout", "BI-1"], {}, "BRICKTASKS_ENVV=dev\n", "unknown setting BRICKTASKS_ENVV"),
    ("backend-unknown", ["checkout", "BI-1"], {"BRICKTASKS_BACKEND": "spark"}, None, "is not a backend"),
    ("host-without-token", ["checkout", "BI-1"], {"DATABRICKS_HOST": "https://x.cloud.databricks.com"}, None, "DATABRICKS_TOKEN is not set"),
    ("databricks-without-host", ["checkout", "BI-1"], {"BRICKTASKS_BACKEND": "databricks"}, None, "DATABRICKS_HOST is not set"),
    ("ci-without-host", ["ci"], {"CI": "true"}, None, "CI is set but DATABRICKS_HOST is not"),
    ("library-root-outside", ["upload-lib", "--branch", "BI-1"], {"BRICKTASKS_LIBRARY_ROOT": "/Shared/libs"}, None, "outside the workspace root"),
    ("library-root-dbfs-root", ["upload-lib", "--branch", "BI-1"], {"BRICKTASKS_LIBRARY_ROOT": "dbfs:/"}, None, "DBFS root"),
    ("egg-new-runtime", ["build-egg"], {}, None, "build-wheel"),
    ("egg-upload-new-runtime", ["upload-lib", "--egg", "--branch", "BI-1"], {}, None, "build-wheel"),
    ("cluster-spec-invalid", ["ci"], {"BRICKTASKS_CLUSTER_SPEC": "bad.json", "BRICKTASKS_BUILD_ID": "1"}, None, "not valid JSON"),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_refusal(project, case):
    _, arguments, env, dotenv, expected = case
    assert project.invoke("checkout", "BI-1").returncode == 0  # something in the workspace that must stay as it is
    (project.root / "bad.json").write_text("{not json")
    if dotenv is not None:
        (project.root / ".env").write_text(dotenv)
    before = project.workspace_digest()
    result = project.invoke(*arguments, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert project.workspace_digest() == before


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
