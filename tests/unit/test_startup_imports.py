"""What a task's start-up imports (issue 15: the fixed cost of a remote task is mostly imports).

`invoke --list`, and every task before it runs, imports `tasks.py`: that must not import what only
some tasks need (the SDK, pyspark, rich, the HTML report, the CI pipeline, the library build).
Checked in a fresh interpreter with `python -X importtime`, which names every module imported.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# heavy (0.05-1.5 s each on the 2-core CI machine) and needed by some tasks only, at the moment they run
NOT_AT_START_UP = [
    "pyspark", "databricks.sdk", "requests", "rich", "markdown", "pandas", "mlflow",
    "bricktasks.backends.databricks", "bricktasks.runtime", "bricktasks.emulator", "bricktasks.ci.pipeline",
    "bricktasks.report.html", "bricktasks.jobs.deploy", "bricktasks.libraries.build",
]


def imported_modules(code: str, cwd: Path) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def loaded(modules: set[str], package: str) -> list[str]:
    return sorted(name for name in modules if name == package or name.startswith(package + "."))


def test_importing_the_tasks_imports_no_module_only_some_tasks_need():
    modules = imported_modules("import tasks", REPO)
    assert "bricktasks.tasks" in modules  # the measurement sees our imports at all
    assert {package: loaded(modules, package) for package in NOT_AT_START_UP if loaded(modules, package)} == {}


def test_the_databricks_backend_imports_only_the_sdk_services_it_calls():
    modules = imported_modules("import bricktasks.backends.databricks", REPO)
    services = {name.rsplit(".", 1)[1] for name in loaded(modules, "databricks.sdk.service") if name.count(".") == 3}
    # workspace and files (DBFS, Files API); provisioning comes with the SDK's auth (credentials_provider)
    assert services <= {"workspace", "files", "provisioning", "_internal"}, services
    assert "pyspark" not in modules and "rich" not in modules
