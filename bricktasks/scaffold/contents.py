"""What each file init writes holds: the templates (package data) filled in, the helper notebooks as
the tasks write them, .env.example from the settings' own declarations, the job definitions from the
notebooks found. Pure: nothing here touches the disk but reading the templates and the notebook list."""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from bricktasks import __version__
from bricktasks.scaffold.options import InitOptions
from bricktasks.settings import setting_specs
from bricktasks.workspace.helpers import INSTALL_LIBRARIES_FILE, SET_ENVIRONMENT_FILE, install_libraries_source, set_environment_source

__all__ = ["PlannedFile", "planned_files", "CI_TEMPLATES", "EXAMPLE_NOTEBOOK", "task_key"]

# the CI system -> (template, where it goes)
CI_TEMPLATES = {
    "github": ("ci/github.yml", ".github/workflows/ci.yml"),
    "azure": ("ci/azure-pipelines.yml", "azure-pipelines.yml"),
    "gitlab": ("ci/gitlab-ci.yml", ".gitlab-ci.yml"),
    "jenkins": ("ci/Jenkinsfile", "Jenkinsfile"),
}
EXAMPLE_NOTEBOOK = "Example"
CONFIGS = ("production_config.py", "ci_config.py", "dev_config.py")


@dataclass(frozen=True)
class PlannedFile:
    path: str  # relative to the target, posix
    content: bytes
    append_lines: bool = False  # .gitignore: add the missing lines, never rewrite what is there
    edit: bool = False  # a change the user asked for (--wire-notebooks): written over the file without --force


def template(name: str) -> str:
    return resources.files("bricktasks.scaffold").joinpath("templates", *name.split("/")).read_text(encoding="utf-8")


def _filled(name: str, values: dict[str, str]) -> bytes:
    text = template(name)
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text.encode()


def _python_text(value: str) -> str:
    """`value` as it may stand between double quotes in Python source."""
    return json.dumps(value)[1:-1]


def task_key(notebook: str) -> str:
    """A notebook path as a Jobs API task key (letters, digits, '_', '-')."""
    return "".join(char if char.isalnum() or char in "_-" else "_" for char in notebook)[:100]


def _env_example(options: InitOptions) -> bytes:
    layout = {
        "BRICKTASKS_SOURCE_DIR": options.source, "BRICKTASKS_LIBS": options.libs_setting,
        "BRICKTASKS_WORKSPACE_ROOT": options.workspace_root,
    }
    lines = [
        "# bricktasks settings. Copy to .env (gitignored) and fill in what you need.",
        "# Precedence: task flags > process environment > .env > tasks.py's settings > defaults.",
        "# tasks.py sets this project's layout (the values shown for it); the others show the defaults.",
        "",
    ]
    for spec in setting_specs():
        env = spec.metadata["env"]
        default = layout.get(env, "" if spec.default is None else str(spec.default))
        lines.append(f"# {spec.metadata['doc']}")
        if spec.metadata["sensitive"]:
            lines.append("# Secret: keep it in .env or your CI system's secret store, never in git.")
        lines += [f"{env}={default}", ""]
    lines.append("# Secrets for local runs: dbutils.secrets.get(scope, key) reads BRICKTASKS_SECRET__<scope>__<key>.")
    return ("\n".join(lines) + "\n").encode()


def _ci_job(options: InitOptions, notebooks: list[str]) -> dict:
    return {
        "$comment": f"The CI run (invoke ci), in the Jobs API's shape: notebook paths relative to {options.source}/. ci fills in "
        "the build: the notebooks' copy in CI/<build>-<branch>, parameters, tags, the run name. Serverless: the notebooks' "
        "install_libraries installs the build's wheel, the environment's dependencies the rest. Add depends_on to order tasks.",
        "timeout_seconds": 3600,
        "environments": [{"environment_key": "ci", "spec": {"environment_version": "2", "dependencies": []}}],
        "tasks": [_task(notebook, "ci") for notebook in notebooks],
    }


def _production_job(options: InitOptions, notebooks: list[str]) -> dict:
    return {
        "$comment": f"A production job: invoke deploy creates or updates it from git, notebook paths relative to {options.source}/ "
        "become master/'s. Its schedule is PAUSED until you set pause_status to UNPAUSED (and the cron and zone you want).",
        "name": options.name,
        "description": f"{options.name} on master's notebooks",
        "schedule": {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "UTC", "pause_status": "PAUSED"},
        "max_concurrent_runs": 1,
        "timeout_seconds": 7200,
        "tags": {"project": options.name},
        "environments": [{"environment_key": "production", "spec": {"environment_version": "2", "dependencies": []}}],
        "tasks": [_task(notebook, "production") for notebook in notebooks],
    }


def _task(notebook: str, environment: str) -> dict:
    return {
        "task_key": task_key(notebook), "notebook_task": {"notebook_path": notebook}, "environment_key": environment,
        "timeout_seconds": 1800,
    }


def _json(data: dict) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


def planned_files(options: InitOptions, notebooks: list[str]) -> list[PlannedFile]:
    """Every file init writes, for a source folder holding `notebooks` (none: the example notebook is written)."""
    values = {"NAME": options.name, "WORKSPACE_ROOT": options.workspace_root, "VERSION": __version__}
    python_values = {
        "SOURCE": _python_text(options.source), "LIBS": _python_text(options.libs_setting),
        "WORKSPACE_ROOT": _python_text(options.workspace_root),
    }
    source = options.source
    files = [
        PlannedFile("tasks.py", _filled("tasks.py", python_values)),
        PlannedFile(".env.example", _env_example(options)),
        *(PlannedFile(f"{source}/conf/{config}", _filled(f"conf/{config}", {**values, **python_values})) for config in CONFIGS),
        # the committed helpers select production (what master/ runs); checkout and ci write their own
        PlannedFile(f"{source}/{SET_ENVIRONMENT_FILE}", set_environment_source("production")),
        PlannedFile(f"{source}/{INSTALL_LIBRARIES_FILE}", install_libraries_source([])),
    ]
    if not notebooks:
        files.append(PlannedFile(f"{source}/{EXAMPLE_NOTEBOOK}.py", _filled(f"notebooks/{EXAMPLE_NOTEBOOK}.py", values)))
        notebooks = [EXAMPLE_NOTEBOOK]
    template_name, destination = CI_TEMPLATES[options.ci]
    files += [
        PlannedFile("jobs/ci.json", _json(_ci_job(options, notebooks))),
        PlannedFile(f"jobs/production/{options.name}.json", _json(_production_job(options, notebooks))),
        PlannedFile(destination, _filled(template_name, values)),
        PlannedFile(".gitignore", template("gitignore").encode(), append_lines=True),
    ]
    return files
