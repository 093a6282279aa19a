"""The package as a user gets it: the wheel built from this checkout, its contents and metadata, and a
fresh virtual environment (no system site packages) where `pip install <wheel>` brings every runtime
dependency (from the package index; pip's cache makes a second run fast), the console script works,
`pip check` is clean, and a repository scaffolded by `bricktasks init` passes `invoke ci` locally.
pyspark is the `spark` extra: without it a notebook using Spark is refused in one line naming the pip command."""
from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from e2e_helpers import REPO
from packaging.requirements import Requirement

import bricktasks
from bricktasks.testing.emulator import EmulatorProcess
from bricktasks.testing.package import FreshVenv, build_wheel

# a top-level import of bricktasks/ -> the distribution that brings it
BASE_IMPORTS = {
    "databricks": "databricks-sdk", "dotenv": "python-dotenv", "invoke": "invoke", "rich": "rich", "markdown": "markdown",
    "nbformat": "nbformat", "requests": "requests", "packaging": "packaging", "pathspec": "pathspec", "watchfiles": "watchfiles",
}
# imported only where the feature is used, each declared as an extra or looked for first (find_spec)
OPTIONAL_IMPORTS = {"pyspark": "spark", "cryptography": "tls", "matplotlib": None, "py4j": "spark"}
GIT_ENV = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(REPO, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> FreshVenv:
    environment = FreshVenv.create(tmp_path_factory.mktemp("venv") / "venv")
    installed = environment.pip_install(str(wheel))
    assert installed.returncode == 0, installed.stderr[-4000:]
    return environment


def _metadata(wheel: Path) -> tuple[list[str], dict]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = next(name for name in names if name.endswith(".dist-info/METADATA"))
        return names, Parser().parsestr(archive.read(meta).decode())


def test_the_wheel_holds_the_package_and_nothing_of_the_example(wheel: Path):
    names, _ = _metadata(wheel)
    tops = {name.split("/")[0] for name in names}
    assert tops == {"bricktasks", f"bricktasks-{bricktasks.__version__}.dist-info"}
    for needed in ("bricktasks/main.py", "bricktasks/emulator/__main__.py", "bricktasks/runtime/__main__.py", "bricktasks/py.typed",
                   "bricktasks/scaffold/templates/tasks.py", "bricktasks/scaffold/templates/ci/github.yml",
                   "bricktasks/scaffold/templates/conf/production_config.py", "bricktasks/scaffold/templates/gitignore"):
        assert needed in names, needed
    assert not [name for name in names if any(part in ("forecasting", "libs", "tests", "benchmarks") for part in name.split("/"))]
    assert not [name for name in names if name.endswith(".pyc")]


def test_the_wheel_declares_every_import_of_the_package(wheel: Path):
    _, meta = _metadata(wheel)
    requirements = [Requirement(line) for line in meta.get_all("Requires-Dist")]
    base = {req.name.lower() for req in requirements if req.marker is None}
    extras = {req.name.lower(): str(req.marker) for req in requirements if req.marker is not None}
    for requirement in requirements:
        assert requirement.specifier, f"{requirement.name} has no version range"
    stdlib = set(sys.stdlib_module_names)
    imported: set[str] = set()
    for path in (REPO / "bricktasks").rglob("*.py"):
        if "templates" in path.parts or "testing" in path.parts:
            continue  # init's templates are notebooks; testing/ runs only under the test requirements
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - stdlib - {"bricktasks"}
    assert third_party <= set(BASE_IMPORTS) | set(OPTIONAL_IMPORTS), third_party - set(BASE_IMPORTS) - set(OPTIONAL_IMPORTS)
    for module in third_party & set(BASE_IMPORTS):
        assert BASE_IMPORTS[module] in base, f"{module} is imported but {BASE_IMPORTS[module]} is not a dependency"
    assert "pyspark" not in base and 'extra == "spark"' in extras["pyspark"]
    assert 'extra == "tls"' in extras["cryptography"]
    assert {"setuptools", "wheel", "build"} <= base  # the libraries are built without isolation


def test_the_console_script_names_the_one_version(venv: FreshVenv):
    shown = venv.run(str(venv.bin / "bricktasks"), "--version")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"bricktasks {bricktasks.__version__}"
    metadata = venv.run(str(venv.python), "-c", "import importlib.metadata as m; print(m.version('bricktasks'))")
    assert metadata.stdout.strip() == bricktasks.__version__


def test_init_and_emulator_answer_help(venv: FreshVenv):
    init = venv.run(str(venv.bin / "bricktasks"), "init", "--help")
    assert init.returncode == 0, init.stderr
    for flag in ("--name", "--source", "--libs", "--workspace-root", "--ci", "--force", "--wire-notebooks", "--dry-run"):
        assert flag in init.stdout
    emulator = venv.run(str(venv.bin / "bricktasks"), "emulator", "--help")
    assert emulator.returncode == 0, emulator.stderr
    assert "--root" in emulator.stdout and "--fault-rate" in emulator.stdout  # the emulator's own parser


def test_pip_check_finds_nothing_broken(venv: FreshVenv):
    checked = venv.run(str(venv.python), "-m", "pip", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    spark = venv.run(str(venv.python), "-c", "import importlib.util as u; print(u.find_spec('pyspark') is None)")
    assert spark.stdout.strip() == "True"  # the base install is light: Spark is the extra


def _scaffolded(venv: FreshVenv, root: Path) -> dict[str, str]:
    root.mkdir()
    env = venv.environment(GIT_ENV)
    subprocess.run(["git", "init", "-q", "-b", "BI-1"], cwd=root, check=True, env=env)
    init = venv.run(str(venv.bin / "bricktasks"), "init", "--name", "churn", "--source", "notebooks", "--ci", "github", cwd=root, env=env)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "wrote notebooks/Example.py" in init.stdout
    return env


def test_an_empty_folder_scaffolded_from_the_wheel_passes_ci_locally_and_over_its_emulator(venv: FreshVenv, tmp_path: Path,
                                                                                          end_checks):
    root = tmp_path / "churn"
    env = _scaffolded(venv, root)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "scaffold"], cwd=root, check=True, env=env)
    ci = venv.run(str(venv.bin / "invoke"), "ci", cwd=root, env=env)
    assert ci.returncode == 0, ci.stdout + ci.stderr
    assert "Example: SUCCESS" in ci.stdout + ci.stderr
    assert (root / "ci-results" / "test-results.xml").is_file()
    end_checks.library_roots.append("/Projects/churn")  # init's workspace root for --name churn, not the example's
    # and over the emulator the wheel brings (`bricktasks emulator`), through the databricks-sdk it brings
    with EmulatorProcess(tmp_path / "served", token="wheel-token", program=(str(venv.bin / "bricktasks"), "emulator")) as emulator:
        remote = {**env, "DATABRICKS_HOST": emulator.url, "DATABRICKS_TOKEN": "wheel-token", "BRICKTASKS_BACKEND": "databricks",
                  "BRICKTASKS_BUILD_ID": "2"}
        over = venv.run(str(venv.bin / "invoke"), "ci", cwd=root, env=remote)
        assert over.returncode == 0, over.stdout + over.stderr
        assert "Example: SUCCESS" in over.stdout + over.stderr
        assert any(entry["path"].endswith("/jobs/runs/submit") for entry in emulator.requests())


def test_a_spark_notebook_without_the_extra_is_refused_in_one_line(venv: FreshVenv, tmp_path: Path):
    root = tmp_path / "churn"
    env = _scaffolded(venv, root)
    (root / "notebooks" / "Counts.py").write_text("# Databricks notebook source\nprint(spark.range(3).count())\n")
    ran = venv.run(str(venv.bin / "invoke"), "run", "Counts", cwd=root, env=env)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert lines == ["error: Counts uses Spark, and pyspark is not installed for the local backend; pip install 'bricktasks[spark]'"]
    assert not (root / ".databricks-local" / "runs").exists()  # nothing ran
