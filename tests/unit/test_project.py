"""The project: settings by precedence, its folders, branch, configs and notebooks, the refusals,
the local secrets and which backend it opens."""
from __future__ import annotations

import pytest

from bricktasks.backends.databricks import DatabricksBackend
from bricktasks.backends.local import LocalBackend
from bricktasks.backends.retry import DEFAULT_POLICY
from bricktasks.backends.retrying import RetryingBackend, without_retries
from bricktasks.errors import ConfigError, UserInputError
from bricktasks.project import load_project, local_secrets, open_backend

HEADER = "# Databricks notebook source\n"
NOTEBOOKS = ["ModelTraining", "PrepareData", "reports/Weekly"]


# ---- load_project -------------------------------------------------------------------------


def test_defaults(project, project_dir):
    settings = project.settings
    assert project.root == project_dir
    assert (settings.backend, settings.env, settings.workspace_root) == ("local", "dev", "/Projects/forecasting")
    assert (project.layout.workspace_root, project.layout.library_root) == ("/Projects/forecasting", "/Projects/forecasting/libraries")
    assert project.source_dir == project_dir / "forecasting"
    assert project.libs_dir == project_dir / "libs"
    assert project.dist_dir == project_dir / "dist"
    assert project.results_dir == project_dir / "ci-results"
    assert project.local_root == project_dir / ".databricks-local"
    assert project.cluster_spec_path == project_dir / "cluster.json"


def test_flags_beat_the_environment_which_beats_dotenv_which_beats_defaults(project_dir, make_project):
    (project_dir / ".env").write_text("BRICKTASKS_WORKSPACE_ROOT=/Projects/from-dotenv\nBRICKTASKS_ENV=ci\nBRICKTASKS_TIMEOUT=5m\n")
    environ = {"BRICKTASKS_WORKSPACE_ROOT": "/Projects/from-env", "BRICKTASKS_ENV": "dev"}
    flagged = make_project(environ=environ, workspace_root="/Projects/from-flag")
    assert flagged.layout.workspace_root == "/Projects/from-flag"
    assert flagged.layout.library_root == "/Projects/from-flag/libraries"
    from_env = make_project(environ=environ)
    assert (from_env.settings.workspace_root, from_env.settings.env, from_env.settings.timeout) == ("/Projects/from-env", "dev", "5m")
    from_dotenv = make_project()
    assert (from_dotenv.settings.workspace_root, from_dotenv.settings.env) == ("/Projects/from-dotenv", "ci")
    (project_dir / ".env").unlink()
    assert make_project().settings.workspace_root == "/Projects/forecasting"


def test_an_empty_flag_or_variable_counts_as_unset(project_dir, make_project):
    (project_dir / ".env").write_text("BRICKTASKS_ENV=ci\n")
    project = make_project(environ={"BRICKTASKS_ENV": ""}, env="")
    assert project.settings.env == "ci"


def test_folders_may_be_moved_and_absolute(project_dir, make_project, tmp_path):
    (project_dir / "notebooks").mkdir()
    elsewhere = tmp_path / "results-elsewhere"
    project = make_project(source_dir="notebooks", results_dir=str(elsewhere))
    assert project.source_dir == project_dir / "notebooks"
    assert project.results_dir == elsewhere
    assert project.notebooks() == [] and project.envs() == []


def test_a_missing_source_folder_is_refused(make_project):
    with pytest.raises(ConfigError) as refused:
        make_project(source_dir="nope")
    assert str(refused.value) == "BRICKTASKS_SOURCE_DIR 'nope' is not a folder"
    assert refused.value.hint == "point it at the notebooks folder"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"local_root": "."}, "is the project folder"),
        ({"local_root": ".."}, "contains the project folder"),
        ({"local_root": "forecasting/.local"}, "is inside BRICKTASKS_SOURCE_DIR (forecasting/)"),
        ({"local_root": "libs/.local"}, "is inside BRICKTASKS_LIBS_DIR (libs/)"),
        ({"results_dir": "forecasting/results"}, "is inside BRICKTASKS_SOURCE_DIR, whose files are uploaded"),
        ({"dist_dir": "forecasting/dist"}, "is inside BRICKTASKS_SOURCE_DIR, whose files are uploaded"),
    ],
)
def test_output_folders_that_would_be_uploaded_or_hold_the_project_are_refused(make_project, flags, message):
    with pytest.raises(ConfigError) as refused:
        make_project(**flags)
    setting = next(iter(flags)).upper()
    assert str(refused.value).startswith(f"BRICKTASKS_{setting}=") and message in str(refused.value)


def test_a_malformed_dotenv_is_refused(project_dir, make_project):
    (project_dir / ".env").write_text("BRICKTASKS_WORKSPCE_ROOT=/Projects/typo\n")
    with pytest.raises(ConfigError, match="unknown setting BRICKTASKS_WORKSPCE_ROOT in .env"):
        make_project()


# ---- the branch ---------------------------------------------------------------------------


def test_the_branch_flag_beats_the_setting_which_beats_git(git_project_dir, make_project):
    assert make_project().resolve_branch(None) == "BI-7"
    assert make_project().resolve_branch("feature/x") == "feature/x"
    from_env = make_project(environ={"BRICKTASKS_BRANCH": "from-env"})
    assert from_env.resolve_branch(None) == "from-env"
    assert from_env.resolve_branch("from-flag") == "from-flag"


def test_an_explicit_empty_branch_is_refused_not_defaulted(git_project_dir, make_project):
    with pytest.raises(UserInputError, match="the branch name is empty"):
        make_project().resolve_branch("")


def test_a_detached_head_or_no_git_leaves_the_branch_unknown(git_project_dir, make_project, run_git):
    run_git(git_project_dir, "checkout", "-q", "--detach")
    with pytest.raises(UserInputError) as refused:
        make_project().resolve_branch(None)
    assert str(refused.value).startswith("git HEAD is detached in ") and str(refused.value).endswith("so the branch is unknown")
    assert make_project().resolve_branch(None, default="local") == "local"  # invoke run's fallback
    assert refused.value.hint == "pass --branch or set BRICKTASKS_BRANCH to the branch"


def test_an_unsafe_branch_is_refused_from_any_source(project, make_project):
    with pytest.raises(UserInputError, match="has an empty part or one starting with '.'"):
        project.resolve_branch("feature/.x")
    with pytest.raises(UserInputError, match="contains '__', which is reserved for '/'"):
        make_project(environ={"BRICKTASKS_BRANCH": "a__b"}).resolve_branch(None)


# ---- configs and notebooks ----------------------------------------------------------------


def test_envs_are_the_conf_configs(project, add_files):
    assert project.envs() == ["ci", "dev"]
    add_files(project.source_dir / "conf", {"kyle_config.py": HEADER, "notes.py": HEADER, "shared_settings.txt": ""})
    assert project.envs() == ["ci", "dev", "kyle"]


def test_notebooks_leave_out_conf_helpers_hidden_folders_and_plain_files(project, add_files):
    assert project.notebooks() == NOTEBOOKS
    add_files(project.source_dir, {
        ".scratch/Draft.py": HEADER,  # hidden
        "conf/extra/Nested.py": HEADER,  # under conf/
        "lib/util.py": "def f(): pass\n",  # a file, not a notebook
        "late/header.py": "\n" + HEADER,  # the header is not the first line
        "reports/set_environment.py": HEADER,  # a helper's name only counts at the top
        "Query.sql": "-- Databricks notebook source\nSELECT 1\n",  # not Python
    })
    assert project.notebooks() == ["ModelTraining", "PrepareData", "reports/Weekly", "reports/set_environment"]


def test_a_notebook_saved_with_a_bom_is_a_notebook_for_ci_as_for_sync(project, add_files):
    (project.source_dir / "Windows.py").write_bytes(b"\xef\xbb\xbf" + HEADER.encode() + b"print(1)\n")
    assert "Windows" in project.notebooks()


def test_check_env(project):
    assert project.check_env("ci") == "ci"
    with pytest.raises(UserInputError) as refused:
        project.check_env("production")
    assert str(refused.value) == "there is no conf/production_config.py in forecasting"
    assert refused.value.hint == "use one of: ci, dev"


def test_check_env_without_any_config(project):
    for config in (project.source_dir / "conf").iterdir():
        config.unlink()
    with pytest.raises(UserInputError) as refused:
        project.check_env("dev")
    assert refused.value.hint == "use one of: none found"


def test_check_notebook(project):
    assert project.check_notebook("reports/Weekly.py") == "reports/Weekly"
    assert project.check_notebook("PrepareData") == "PrepareData"
    for name in ("install_libraries", "conf/dev_config", "modeltraining", "data.csv", "Weekly"):
        with pytest.raises(UserInputError) as refused:
            project.check_notebook(name)
        assert str(refused.value) == f"there is no notebook {name!r} in forecasting"
        assert refused.value.hint == "use one of: ModelTraining, PrepareData, reports/Weekly"


# ---- local secrets ------------------------------------------------------------------------


def test_secrets_from_the_environment(project_dir):
    environ = {
        "BRICKTASKS_SECRET__kv__token": "t0k",
        "BRICKTASKS_SECRET__kv__db__password": "pw",  # the key may hold '__'
        "BRICKTASKS_SECRET__other__key": "v",
        "BRICKTASKS_SECRET__noscope": "ignored",  # malformed in the environment: ignored
        "BRICKTASKS_SECRET____key": "ignored",
        "DATABRICKS_TOKEN": "not a local secret",
    }
    assert local_secrets(environ) == {"kv": {"token": "t0k", "db__password": "pw"}, "other": {"key": "v"}}
    assert local_secrets(environ, project_dir) == local_secrets(environ)  # no .env there


def test_secrets_from_dotenv_the_environment_winning(project_dir):
    (project_dir / ".env").write_text("BRICKTASKS_SECRET__kv__token=from-file\nBRICKTASKS_SECRET__kv__user=alice\nBRICKTASKS_ENV=dev\n")
    assert local_secrets({}, project_dir) == {"kv": {"token": "from-file", "user": "alice"}}
    assert local_secrets({"BRICKTASKS_SECRET__kv__token": "from-env"}, project_dir) == {"kv": {"token": "from-env", "user": "alice"}}
    assert local_secrets({"BRICKTASKS_SECRET__kv__token": ""}, project_dir)["kv"]["token"] == "from-file"  # empty is unset
    assert local_secrets({"BRICKTASKS_SECRET__kv__other": ""}) == {}  # with no .env value either: no secret, not ""


def test_a_malformed_secret_name_in_dotenv_is_an_error(project_dir):
    (project_dir / ".env").write_text("BRICKTASKS_SECRET__onlyscope=x\n")
    with pytest.raises(ConfigError) as refused:
        local_secrets({}, project_dir)
    assert str(refused.value) == "BRICKTASKS_SECRET__onlyscope in .env names no secret scope and key"
    assert refused.value.hint == "write it as BRICKTASKS_SECRET__<scope>__<key>=value"


# ---- open_backend -------------------------------------------------------------------------


def test_the_local_backend_lives_in_the_local_root_and_gets_the_secrets(project, project_dir):
    opened = open_backend(project, {"BRICKTASKS_SECRET__kv__token": "t0k"})
    assert isinstance(opened, RetryingBackend) and opened.policy == DEFAULT_POLICY  # wrapped once, where it is opened
    backend = opened.inner
    assert isinstance(backend, LocalBackend)
    assert backend.root == (project_dir / ".databricks-local").resolve()
    assert (backend.root / "workspace").is_dir() and (backend.root / "runs").is_dir()
    assert backend.runs.secrets == {"kv": {"token": "t0k"}}


def test_a_host_selects_the_databricks_backend(make_project):
    environ = {"DATABRICKS_HOST": "https://adb-123.azuredatabricks.net/", "DATABRICKS_TOKEN": "dapi0123456789"}
    project = make_project(environ=environ)
    assert project.settings.backend == "databricks"
    backend = open_backend(project, environ)
    assert isinstance(backend, RetryingBackend) and isinstance(backend.inner, DatabricksBackend)
    assert backend.inner.host == "https://adb-123.azuredatabricks.net"
    assert "dapi0123456789" not in repr(backend)


def test_the_local_backend_chosen_on_purpose_despite_a_host(project_dir):
    environ = {"DATABRICKS_HOST": "https://adb-123.azuredatabricks.net", "DATABRICKS_TOKEN": "dapi0123456789"}
    project = load_project(project_dir, environ, {"backend": "local"})
    assert isinstance(without_retries(open_backend(project, environ)), LocalBackend)
