"""bricktasks.scaffold: the files init plans (templates filled in, CI templates valid, jobs checked by
jobdef), the option checks, detection, writing (append, skip, links) and wiring, on real folders."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from bricktasks.errors import UserInputError
from bricktasks.jobdef.definition import load_job_definition
from bricktasks.jobdef.production import load_production_job
from bricktasks.scaffold.contents import CI_TEMPLATES, planned_files
from bricktasks.scaffold.detect import detect, notebooks_in
from bricktasks.scaffold.options import CI_SYSTEMS, check_options
from bricktasks.scaffold.wire import wired
from bricktasks.scaffold.write import apply_writes, plan_writes
from bricktasks.workspace.overwritten import Keeper

HEADER = "# Databricks notebook source\n"


def _options(target: Path, ci: str = "github", libs: list[str] | None = None):
    return check_options(target, name="churn", source="notebooks", libs=libs or [], workspace_root="/Projects/churn", ci=ci)


@pytest.mark.parametrize("ci", CI_SYSTEMS)
def test_every_planned_file_is_filled_in_and_its_ci_template_runs_ci_and_deploy(tmp_path: Path, ci: str):
    files = {item.path: item.content.decode() for item in planned_files(_options(tmp_path, ci), ["Train", "deep/Score"])}
    for path, text in files.items():
        assert not re.search(r"@[A-Z_]+@", text), path
    ci_file = files[CI_TEMPLATES[ci][1]]
    assert "invoke ci" in ci_file and "invoke deploy" in ci_file and "ci-results" in ci_file
    assert "DATABRICKS_TOKEN" in ci_file and "dapi" not in ci_file
    if ci != "jenkins":
        yaml.safe_load(ci_file)  # valid YAML
    compile(files["tasks.py"], "tasks.py", "exec")
    for config in ("production_config", "ci_config", "dev_config"):
        assert files[f"notebooks/conf/{config}.py"].startswith(HEADER)
    assert files["notebooks/set_environment.py"] == HEADER + "# MAGIC %run ./conf/production_config\n"


def test_the_job_definitions_pass_jobdefs_checks(tmp_path: Path):
    files = planned_files(_options(tmp_path), ["Train", "deep/Score"])
    for item in files:
        if item.path.startswith("jobs/"):
            (tmp_path / item.path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / item.path).write_bytes(item.content)
    notebooks = ["Train", "deep/Score"]
    job = load_job_definition(tmp_path / "jobs/ci.json", shown="ci", notebooks=notebooks, source_dir="notebooks")
    assert [task.task_key for task in job.tasks] == ["Train", "deep_Score"]
    production = load_production_job(tmp_path / "jobs/production/churn.json", shown="p", notebooks=notebooks, source_dir="notebooks")
    assert production.name == "churn"


def test_without_notebooks_the_example_is_planned_and_run_by_the_jobs(tmp_path: Path):
    files = {item.path: item.content for item in planned_files(_options(tmp_path), [])}
    assert files["notebooks/Example.py"].startswith(HEADER.encode())
    assert json.loads(files["jobs/ci.json"])["tasks"][0]["notebook_task"]["notebook_path"] == "Example"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "a b"}, "--name 'a b' is not a valid folder name"),
        ({"name": ".."}, "is not a valid folder name"),
        ({"source": "."}, "is the target itself"),
        ({"source": "a/../../b"}, "leaves the target"),
        ({"source": "note books"}, "has characters"),
        ({"workspace_root": "relative"}, "--workspace-root 'relative' must be an absolute project folder"),
        ({"workspace_root": "/"}, "--workspace-root"),
        ({"ci": "circle"}, "--ci 'circle'"),
        ({"libs": ["missing"]}, "--libs 'missing' has no pyproject.toml or setup.py"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, overrides: dict, message: str):
    given = {"name": "churn", "source": "notebooks", "libs": [], "workspace_root": "/Projects/churn", "ci": "github", **overrides}
    with pytest.raises(UserInputError) as refused:
        check_options(tmp_path, **given)
    assert message in refused.value.one_line()


def test_a_source_link_out_of_the_target_is_refused(tmp_path: Path):
    target, outside = tmp_path / "repo", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (target / "notebooks").symlink_to(outside)
    with pytest.raises(UserInputError, match="is a link that leaves the target"):
        check_options(target, name="churn", source="notebooks", libs=[], workspace_root="/Projects/churn", ci="github")


def test_detect_finds_the_notebook_folder_the_library_and_the_name(tmp_path: Path):
    (tmp_path / "notebooks" / "conf").mkdir(parents=True)
    for name in ("A", "B"):
        (tmp_path / "notebooks" / f"{name}.py").write_text(HEADER + "print(1)\n")
    (tmp_path / "notebooks" / "conf" / "x_config.py").write_text(HEADER)
    (tmp_path / "notebooks" / "helper.py").write_text("print('not a notebook')\n")
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "One.py").write_text(HEADER)
    (tmp_path / "Top.py").write_text(HEADER)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "churn"\n')
    (tmp_path / "azure-pipelines.yml").write_text("trigger: none\n")
    found = detect(tmp_path)
    assert (found.name, found.source, found.libs, found.ci) == ("churn", "notebooks", (".",), "azure")
    assert found.notebook_folders == ("notebooks", "scratch")
    assert notebooks_in(tmp_path / "notebooks") == ["A", "B"]


def test_detect_libraries_in_packages_and_the_defaults_of_an_empty_folder(tmp_path: Path):
    empty = tmp_path / "My Repo!"
    empty.mkdir()
    found = detect(empty)
    assert (found.name, found.source, found.libs, found.ci) == ("My-Repo", "notebooks", (), "github")
    (empty / "packages" / "churn").mkdir(parents=True)
    (empty / "packages" / "churn" / "setup.py").write_text("")
    (empty / "packages" / "docs").mkdir()
    assert detect(empty).libs == ("packages/churn",)


def test_gitignore_gets_only_its_missing_lines_and_a_differing_file_is_skipped(tmp_path: Path):
    (tmp_path / ".gitignore").write_text("dist/\n.env")  # no final newline
    (tmp_path / "tasks.py").write_text("# ours\n")
    result = plan_writes(tmp_path, planned_files(_options(tmp_path), ["Train"]), force=False)
    assert result.of("skip") == ["tasks.py"] and ".gitignore" in result.of("append")
    assert apply_writes(tmp_path, result, Keeper(tmp_path, "init")) == []  # an append keeps every old line: nothing to keep
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["dist/", ".env"] and lines.count("dist/") == 1 and ".databricks-local/" in lines
    assert (tmp_path / "tasks.py").read_text() == "# ours\n"
    again = plan_writes(tmp_path, planned_files(_options(tmp_path), ["Train"]), force=False)
    assert not again.changed and again.of("skip") == ["tasks.py"]


def test_a_linked_folder_on_the_way_refuses_the_whole_write(tmp_path: Path):
    target, outside = tmp_path / "repo", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (target / ".github").symlink_to(outside)
    with pytest.raises(UserInputError, match=r"\.github is a symbolic link; nothing was written"):
        plan_writes(target, planned_files(_options(target), ["Train"]), force=True)
    assert not list(target.iterdir())[1:] and not list(outside.iterdir())


def test_wiring_adds_the_missing_cells_keeps_the_rest_and_is_idempotent():
    text = HEADER + "# MAGIC %md\n# MAGIC # Title\n\n# COMMAND ----------\n\nx = 1\n"
    once = wired("Train", text)
    assert once.startswith(HEADER + "\n# MAGIC %run ./install_libraries\n")
    assert once.endswith(text[len(HEADER):]) and wired("Train", once) == once
    nested = wired("a/b/Score", HEADER + "# MAGIC %run ../../install_libraries\n")
    assert "%run ../../set_environment" in nested and nested.count("install_libraries") == 1
    assert wired("Plain", "print(1)\n") == "print(1)\n"  # not a notebook: untouched
