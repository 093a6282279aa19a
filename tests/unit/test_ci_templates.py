"""The CI templates: each installs, runs `invoke ci` with host and token from the CI system's
secret store, publishes the JUnit XML, keeps the results folder (with summary.md), and deploys from main."""
from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SECRETS = ("DATABRICKS_HOST", "DATABRICKS_TOKEN")


def _load(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


def _commands(steps: list) -> list[str]:
    return [step.get("script") or step.get("run") or "" for step in steps]


def _no_secret_in_arguments(text: str) -> None:
    for line in text.splitlines():
        if "invoke " in line:
            assert "--token" not in line and "dapi" not in line and "DATABRICKS_TOKEN" not in line, line


def test_azure_pipelines() -> None:
    pipeline = _load("azure-pipelines.yml")
    assert pipeline["pr"]["autoCancel"] is True
    test, deploy = pipeline["stages"]
    steps = test["jobs"][0]["steps"]
    [python] = [s for s in steps if s.get("task") == "UsePythonVersion@0"]
    assert python["inputs"]["versionSpec"] == "3.11"
    assert any(s.get("task") == "Cache@2" and "pip" in str(s["inputs"]["path"]).lower() for s in steps)
    [ci] = [s for s in steps if s.get("script") == "invoke ci"]
    assert set(ci["env"]) == set(SECRETS) and all(value.startswith("$(") for value in ci["env"].values())
    [junit] = [s for s in steps if s.get("task") == "PublishTestResults@2"]
    published = junit["inputs"]["testResultsFiles"]
    assert "unit-test-results.xml" in published and "ci-results/test-results.xml" in published
    assert junit["condition"] == "succeededOrFailed()"
    assert any(s.get("task") == "PublishPipelineArtifact@1" and s["inputs"]["targetPath"] == "ci-results" for s in steps)
    assert "refs/heads/main" in deploy["condition"]
    assert "invoke deploy" in _commands(deploy["jobs"][0]["steps"])[-1]
    _no_secret_in_arguments((REPO / "azure-pipelines.yml").read_text())


def test_github_actions() -> None:
    workflow = _load(".github/workflows/ci.yml")
    assert workflow["concurrency"]["cancel-in-progress"] is True
    test, deploy = workflow["jobs"]["test"], workflow["jobs"]["deploy"]
    [ci] = [s for s in test["steps"] if s.get("run") == "invoke ci"]
    assert ci["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in SECRETS}
    [setup] = [s for s in test["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")]
    assert setup["with"]["cache"] == "pip"
    commands = [s.get("run", "") for s in test["steps"]]
    lint = next(i for i, command in enumerate(commands) if "ruff check" in command and "mypy" in command)
    assert lint < next(i for i, command in enumerate(commands) if "pytest" in command)  # the linters first, as .ci/run
    [artifact] = [s for s in test["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert "ci-results/" in artifact["with"]["path"] and artifact["if"] == "always()"
    assert any("junit" in str(s.get("uses", "")) and s.get("if") == "always()" for s in test["steps"])
    assert "refs/heads/main" in deploy["if"] and deploy["needs"] == "test"
    assert "invoke deploy" in _commands(deploy["steps"])
    _no_secret_in_arguments((REPO / ".github/workflows/ci.yml").read_text())


def test_gitlab_ci() -> None:
    pipeline = _load(".gitlab-ci.yml")
    ci, deploy = pipeline["ci"], pipeline["deploy"]
    assert ci["interruptible"] is True and pipeline["workflow"]["auto_cancel"]["on_new_commit"] == "interruptible"
    assert "invoke ci" in ci["script"] and any("requirements.txt" in line for line in ci["before_script"])
    assert "ci-results/test-results.xml" in ci["artifacts"]["reports"]["junit"]
    assert "ci-results/" in ci["artifacts"]["paths"] and ci["artifacts"]["when"] == "always"
    assert "CI_DEFAULT_BRANCH" in deploy["rules"][0]["if"] and "invoke deploy" in deploy["script"]
    text = (REPO / ".gitlab-ci.yml").read_text()
    assert not re.search(r"^\s*DATABRICKS_(HOST|TOKEN):", text, re.MULTILINE), "secrets come from CI/CD variables"
    _no_secret_in_arguments(text)


def test_jenkinsfile() -> None:
    text = (REPO / "Jenkinsfile").read_text()
    for name in SECRETS:
        assert re.search(rf"{name} = credentials\('[a-z-]+'\)", text), name
    assert "sh 'invoke ci'" in text and "pip install -r requirements.txt" in text
    assert "abortPrevious: true" in text
    assert re.search(r"junit testResults: '\*\*/\*test-results\.xml'", text)
    assert "archiveArtifacts artifacts: 'ci-results/**'" in text
    assert re.search(r"stage\('Deploy'\) \{\s*when \{ branch 'main' \}\s*steps \{ sh 'invoke deploy' \}", text)
    _no_secret_in_arguments(text)


def test_every_template_keeps_the_markdown_summary() -> None:
    """summary.md is kept wherever the results are; GitHub and Azure show it from what invoke ci does
    itself (the step summary file the runner names, the uploadsummary command on the step's output)."""
    summary = "ci-results/summary.md"
    github = _load(".github/workflows/ci.yml")["jobs"]["test"]["steps"]
    [ci] = [s for s in github if s.get("run") == "invoke ci"]
    assert "GITHUB_STEP_SUMMARY" not in ci["env"]  # the runner's own file, never redirected
    [artifact] = [s for s in github if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert any(summary.startswith(path.strip()) for path in artifact["with"]["path"].split())
    azure = _load("azure-pipelines.yml")["stages"][0]["jobs"][0]["steps"]
    [ci] = [s for s in azure if s.get("script") == "invoke ci"]  # a script step: the agent reads its logging commands
    assert any(s.get("task") == "PublishPipelineArtifact@1" and summary.startswith(s["inputs"]["targetPath"] + "/") for s in azure)
    gitlab = _load(".gitlab-ci.yml")["ci"]["artifacts"]
    assert gitlab["expose_as"] and gitlab["when"] == "always"
    assert any(summary.startswith(path) for path in gitlab["paths"] if path.endswith("/"))
    [pattern] = re.findall(r"archiveArtifacts artifacts: '([^']+)'", (REPO / "Jenkinsfile").read_text())
    assert fnmatch(summary, pattern)


def _deploy_fetches_all_history(github: dict, azure: dict, gitlab: dict) -> None:
    """A shallow clone's one commit touches every file, so each deploy would name a new library version
    (and upload it, and rewrite every classic job): the deploy jobs check out the whole history."""
    [checkout] = [step for step in github["jobs"]["deploy"]["steps"] if str(step.get("uses", "")).startswith("actions/checkout")]
    assert checkout["with"]["fetch-depth"] == 0
    [azure_checkout] = [step for step in azure["stages"][1]["jobs"][0]["steps"] if "checkout" in step]
    assert azure_checkout == {"checkout": "self", "fetchDepth": 0}
    assert gitlab["deploy"]["variables"]["GIT_DEPTH"] == 0


def test_the_deploy_jobs_check_out_the_whole_history() -> None:
    _deploy_fetches_all_history(_load(".github/workflows/ci.yml"), _load("azure-pipelines.yml"), _load(".gitlab-ci.yml"))
    templates = REPO / "bricktasks" / "scaffold" / "templates" / "ci"
    _deploy_fetches_all_history(*(yaml.safe_load((templates / name).read_text())
                                  for name in ("github.yml", "azure-pipelines.yml", "gitlab-ci.yml")))
