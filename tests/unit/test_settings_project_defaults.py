"""A project's own defaults (its tasks.py's `settings`) and BRICKTASKS_LIBS, the libraries named by folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from bricktasks.errors import ConfigError
from bricktasks.libraries.build import clean_build_leftovers, named_libraries
from bricktasks.project import load_project
from bricktasks.settings import load_settings


def test_project_defaults_sit_between_dotenv_and_the_built_in_defaults(tmp_path: Path):
    defaults = {"BRICKTASKS_SOURCE_DIR": "notebooks", "BRICKTASKS_WORKSPACE_ROOT": "/Projects/churn"}
    assert load_settings(tmp_path, {}, project_defaults=defaults).source_dir == "notebooks"
    (tmp_path / ".env").write_text("BRICKTASKS_SOURCE_DIR=from_dotenv\n")
    settings = load_settings(tmp_path, {"BRICKTASKS_WORKSPACE_ROOT": "/Projects/env"}, project_defaults=defaults)
    assert (settings.source_dir, settings.workspace_root) == ("from_dotenv", "/Projects/env")
    assert load_settings(tmp_path, {}).source_dir == "from_dotenv"


def test_a_token_or_an_unknown_name_is_no_project_default(tmp_path: Path):
    with pytest.raises(ConfigError, match="tasks.py sets DATABRICKS_TOKEN"):
        load_settings(tmp_path, {}, project_defaults={"DATABRICKS_TOKEN": "x"})
    with pytest.raises(ConfigError, match="tasks.py sets BRICKTASKS_NOPE"):
        load_settings(tmp_path, {}, project_defaults={"BRICKTASKS_NOPE": "x"})


def test_a_committed_local_backend_does_not_let_a_ci_without_host_run_locally(tmp_path: Path):
    with pytest.raises(ConfigError, match="CI is set but DATABRICKS_HOST is not"):
        load_settings(tmp_path, {"CI": "true"}, project_defaults={"BRICKTASKS_BACKEND": "local"})
    assert load_settings(tmp_path, {"CI": "true", "BRICKTASKS_BACKEND": "local"}).backend == "local"


@pytest.mark.parametrize(("value", "folders"), [(None, None), ("none", []), ("NONE", []), (". , packages/x", [".", "packages/x"])])
def test_bricktasks_libs_names_the_library_folders(tmp_path: Path, value: str | None, folders: list[str] | None):
    environ = {} if value is None else {"BRICKTASKS_LIBS": value}
    assert load_settings(tmp_path, environ).library_folders == folders


def test_named_libraries_are_folders_inside_the_project_with_a_build_file(tmp_path: Path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname='churn'\n")
    project = load_project(tmp_path, {"BRICKTASKS_LIBS": ".", "BRICKTASKS_SOURCE_DIR": "notebooks"})
    dirs = project.library_dirs()
    assert dirs is not None and named_libraries(dirs, tmp_path) == [tmp_path.resolve()]
    with pytest.raises(ConfigError, match="is outside the project"):
        named_libraries([tmp_path.parent], tmp_path)
    with pytest.raises(ConfigError, match="has no pyproject.toml or setup.py"):
        named_libraries([tmp_path / "notebooks"], tmp_path)


def test_a_repositorys_own_build_folder_is_never_cleaned_away(tmp_path: Path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "release.sh").write_text("echo ours\n")  # the team's, beside a library that is the repository
    clean_build_leftovers(tmp_path)
    assert (tmp_path / "build" / "release.sh").is_file()
    (tmp_path / "build" / "release.sh").unlink()
    (tmp_path / "build" / "lib").mkdir()
    (tmp_path / "build" / "bdist.linux-x86_64").mkdir()
    clean_build_leftovers(tmp_path)
    assert not (tmp_path / "build").exists()
