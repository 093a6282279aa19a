"""Pushing a working copy into a folder, checkout and switch-env, and the helper notebooks, on a
real local backend."""
from __future__ import annotations

import pytest

from bricktasks.backends.base import ObjectType
from bricktasks.errors import NotFound, UserInputError
from bricktasks.workspace.checkout import checkout, folder_exists, push_source, switch_env
from bricktasks.workspace.helpers import (
    INSTALL_LIBRARIES_FILE,
    SET_ENVIRONMENT_FILE,
    desired_items,
    install_libraries_source,
    pip_path,
    set_environment_source,
    write_install_libraries,
)

HEADER = "# Databricks notebook source\n"
TARGET = "/Projects/forecasting/BI-7"
ALL = [
    "ModelTraining", "PrepareData", "conf/ci_config", "conf/dev_config", "data.csv", "helper.py",
    "install_libraries", "reports/Weekly", "set_environment",
]
NOTE = (
    "# MAGIC %md\n# MAGIC Written by bricktasks (`upload-lib`, `checkout`, `ci`, `deploy`): installs this folder's "
    "build of the project libraries.\n# MAGIC Do not edit; it is rewritten on every upload.\n"
)
SEPARATOR = "\n# COMMAND ----------\n\n"


def push(backend, project, console, **options):
    arguments = {"env": "dev", "prune": False, "dry_run": False, "libraries": None, "keeper": None, **options}
    return push_source(backend, project.source_dir, TARGET, console=console, **arguments)


def remote_names(backend, folder: str) -> list[str]:
    return sorted(info.path.rsplit("/", 1)[1] for info in backend.list(folder))


# ---- push_source --------------------------------------------------------------------------


def test_a_first_push_uploads_the_working_copy_with_the_helpers_replaced(project, backend, console):
    result = push(backend, project, console, env="ci", libraries=["dbfs:/libs/BI-7/tinylib-1-py3-none-any.whl"])
    assert result.target == TARGET
    assert result.uploaded == ALL and result.unchanged == [] and result.pruned == [] and result.extra == []
    assert backend.get_status(f"{TARGET}/ModelTraining").object_type is ObjectType.NOTEBOOK
    assert backend.get_status(f"{TARGET}/helper.py").object_type is ObjectType.FILE
    assert backend.get_status(f"{TARGET}/reports").object_type is ObjectType.DIRECTORY
    assert backend.export(f"{TARGET}/set_environment") == b"# Databricks notebook source\n# MAGIC %run ./conf/ci_config\n"
    assert backend.export(f"{TARGET}/install_libraries") == install_libraries_source(["dbfs:/libs/BI-7/tinylib-1-py3-none-any.whl"])
    assert backend.export(f"{TARGET}/PrepareData") == (HEADER + "print('prepare')\n").encode()


def test_without_env_or_libraries_the_committed_helpers_go_up(project, backend, console):
    push(backend, project, console, env=None, libraries=None)
    assert backend.export(f"{TARGET}/set_environment") == (HEADER + "# MAGIC %run ./conf/dev_config\n").encode()
    assert backend.export(f"{TARGET}/install_libraries") == (HEADER + "# committed copy\n").encode()


def test_a_second_push_uploads_nothing_and_a_changed_file_only_itself(project, backend, console):
    push(backend, project, console)
    again = push(backend, project, console)
    assert again.uploaded == [] and again.unchanged == ALL
    (project.source_dir / "PrepareData.py").write_text(HEADER + "print('prepare v2')\n")
    changed = push(backend, project, console)
    assert changed.uploaded == ["PrepareData"] and len(changed.unchanged) == len(ALL) - 1
    assert backend.export(f"{TARGET}/PrepareData") == (HEADER + "print('prepare v2')\n").encode()


def test_another_env_rewrites_only_set_environment(project, backend, console):
    push(backend, project, console, env="dev")
    switched = push(backend, project, console, env="ci")
    assert switched.uploaded == ["set_environment"]
    assert backend.export(f"{TARGET}/set_environment") == set_environment_source("ci")


def test_what_is_not_in_the_working_copy_is_kept_unless_pruned(project, backend, recording):
    push(backend, project, recording.console)
    backend.import_object(f"{TARGET}/Stale.py", (HEADER + "1\n").encode())
    backend.mkdirs(f"{TARGET}/old/deeper")

    kept = push(backend, project, recording.console, prune=False)
    assert kept.extra == ["Stale", "old"] and kept.pruned == []
    assert {"Stale", "old"} <= set(remote_names(backend, TARGET))
    assert "not in the working copy (pass --prune to remove): Stale" in recording.lines

    pruned = push(backend, project, recording.console, prune=True)
    assert pruned.pruned == ["Stale", "old"]
    assert "Stale" not in remote_names(backend, TARGET) and "old" not in remote_names(backend, TARGET)
    assert "pruned old" in recording.lines
    assert push(backend, project, recording.console, prune=True).pruned == []


def test_a_dry_run_reports_what_it_would_do_and_changes_nothing(project, backend, recording):
    first = push(backend, project, recording.console, dry_run=True)
    assert first.uploaded == ALL
    assert [line for line in recording.lines if line.startswith("would")] == [f"would upload {rel}" for rel in ALL]
    with pytest.raises(NotFound):
        backend.get_status(TARGET)

    push(backend, project, recording.console)
    backend.import_object(f"{TARGET}/Stale.py", (HEADER + "1\n").encode())
    (project.source_dir / "data.csv").write_text("a,b\n3,4\n")
    before = backend.export(f"{TARGET}/data.csv")
    recording.out.truncate(0)
    recording.out.seek(0)
    planned = push(backend, project, recording.console, prune=True, dry_run=True)
    assert planned.uploaded == ["data.csv"] and planned.extra == ["Stale"] and planned.pruned == []
    assert recording.lines == ["would upload data.csv", "would prune Stale"]
    assert backend.export(f"{TARGET}/data.csv") == before
    assert backend.get_status(f"{TARGET}/Stale").object_type is ObjectType.NOTEBOOK


def test_a_file_of_another_type_in_the_way_is_replaced(project, backend, recording):
    backend.mkdirs(f"{TARGET}/data.csv")  # a folder where the working copy has a file
    result = push(backend, project, recording.console)
    assert result.replaced == ["data.csv"]
    assert backend.get_status(f"{TARGET}/data.csv").object_type is ObjectType.FILE
    assert "replaced data.csv: the directory there was in the way" in recording.lines


# ---- checkout -----------------------------------------------------------------------------


@pytest.mark.parametrize("branch", ["master", "main", "Master", "MAIN"])
def test_checkout_refuses_the_protected_branches(project, backend, console, branch):
    with pytest.raises(UserInputError) as refused:
        checkout(backend, project.layout, project.source_dir, branch, env="dev", prune=False, dry_run=False, console=console, keeper=None)
    assert str(refused.value) == f"refusing to check out {branch}: master/ is written only by deploy"
    assert refused.value.hint == "use invoke deploy"
    with pytest.raises(NotFound):
        backend.list("/Projects")


def test_checkout_fills_the_branch_folder_and_installs_its_newest_library(project, backend, recording, tmp_path):
    library = tmp_path / "lib.whl"
    library.write_bytes(b"wheel")
    folder = project.layout.branch_libraries("feature/x")
    assert folder == "/Projects/forecasting/libraries/feature__x"
    backend.upload_file(f"{folder}/tinylib-0.3.1.dev0+b1-py3-none-any.whl", library)

    result = checkout(
        backend, project.layout, project.source_dir, "feature/x", env="dev", prune=False, dry_run=False, console=recording.console,
        keeper=None,
    )
    target = "/Projects/forecasting/feature__x"
    assert result.target == target and result.uploaded == ALL
    assert backend.export(f"{target}/install_libraries") == install_libraries_source([f"{folder}/tinylib-0.3.1.dev0+b1-py3-none-any.whl"])
    assert backend.export(f"{target}/set_environment") == set_environment_source("dev")
    assert recording.lines[0] == f"checking out feature/x into {target} (env dev)"
    assert recording.lines[-1] == f"uploaded {len(ALL)}, unchanged 0, pruned 0"


def test_checkout_without_a_library_says_so_and_counts_the_leftovers(project, backend, recording):
    target = project.layout.branch("BI-7")
    backend.mkdirs(target)
    backend.import_object(f"{target}/Mine.py", (HEADER + "1\n").encode())
    checkout(backend, project.layout, project.source_dir, "BI-7", env="ci", prune=False, dry_run=True, console=recording.console,
        keeper=None)
    assert "no library uploaded for BI-7 yet: run invoke upload-lib to have its notebooks install one" in recording.lines
    assert recording.lines[-1] == f"would upload {len(ALL)}, unchanged 0, pruned 0, not in the working copy 1"
    assert remote_names(backend, target) == ["Mine"]  # the dry run wrote nothing
    checkout(backend, project.layout, project.source_dir, "BI-7", env="ci", prune=False, dry_run=False, console=recording.console,
        keeper=None)
    assert backend.export(f"{target}/install_libraries") == install_libraries_source([])


# ---- switch_env and folder_exists ---------------------------------------------------------


def test_switch_env_rewrites_set_environment(project, backend, recording):
    push(backend, project, recording.console, env="dev")
    switch_env(backend, TARGET, "ci", valid_envs=["ci", "dev"], dry_run=True, console=recording.console)
    assert recording.lines[-1] == f"would point {TARGET}/set_environment at conf/ci_config"
    assert backend.export(f"{TARGET}/set_environment") == set_environment_source("dev")
    switch_env(backend, TARGET, "ci", valid_envs=["ci", "dev"], dry_run=False, console=recording.console)
    assert recording.lines[-1] == f"{TARGET}/set_environment now runs ./conf/ci_config"
    assert backend.export(f"{TARGET}/set_environment") == set_environment_source("ci")
    assert backend.get_status(f"{TARGET}/set_environment").object_type is ObjectType.NOTEBOOK


def test_switch_env_refusals(backend, console):
    with pytest.raises(UserInputError) as unknown:
        switch_env(backend, TARGET, "qa", valid_envs=["ci", "dev"], dry_run=False, console=console)
    assert (str(unknown.value), unknown.value.hint) == ("there is no conf/qa_config", "use one of: ci, dev")
    with pytest.raises(UserInputError) as none_found:
        switch_env(backend, TARGET, "qa", valid_envs=[], dry_run=False, console=console)
    assert none_found.value.hint == "use one of: none found"
    with pytest.raises(UserInputError) as missing:
        switch_env(backend, TARGET, "dev", valid_envs=["dev"], dry_run=False, console=console)
    assert (str(missing.value), missing.value.hint) == (f"{TARGET} does not exist", "run invoke checkout first")
    backend.mkdirs("/Projects/forecasting")
    backend.import_object(TARGET, b"a file, not a folder")
    with pytest.raises(UserInputError) as not_folder:
        switch_env(backend, TARGET, "dev", valid_envs=["dev"], dry_run=False, console=console)
    assert str(not_folder.value) == f"{TARGET} is not a folder"
    assert backend.export(TARGET) == b"a file, not a folder"


def test_folder_exists_only_for_a_folder(backend):
    assert folder_exists(backend, TARGET) is False
    backend.mkdirs(TARGET)
    backend.import_object(f"{TARGET}/notes.txt", b"x")
    assert folder_exists(backend, TARGET) is True
    assert folder_exists(backend, f"{TARGET}/notes.txt") is False


# ---- the helper notebooks -----------------------------------------------------------------


def test_desired_items_replace_exactly_the_helpers(project):
    committed = {item.remote_rel: item.content for item in desired_items(project.source_dir, env=None, libraries=None)}
    replaced = {item.remote_rel: item.content for item in desired_items(project.source_dir, env="ci", libraries=["/Volumes/c/s/v/a.whl"])}
    assert sorted(committed) == sorted(replaced) == ALL
    assert replaced["set_environment"] == set_environment_source("ci")
    assert replaced["install_libraries"] == install_libraries_source(["/Volumes/c/s/v/a.whl"])
    assert committed["set_environment"] == (project.source_dir / SET_ENVIRONMENT_FILE).read_bytes()
    assert committed["install_libraries"] == (project.source_dir / INSTALL_LIBRARIES_FILE).read_bytes()
    assert {rel: content for rel, content in replaced.items() if rel not in ("set_environment", "install_libraries")} == {
        rel: content for rel, content in committed.items() if rel not in ("set_environment", "install_libraries")
    }
    only_env = {item.remote_rel: item.content for item in desired_items(project.source_dir, env="dev", libraries=None)}
    assert only_env["install_libraries"] == committed["install_libraries"]
    assert only_env["set_environment"] == set_environment_source("dev")
    no_libraries = {item.remote_rel: item.content for item in desired_items(project.source_dir, env=None, libraries=[])}
    assert no_libraries["install_libraries"] == install_libraries_source([])


def test_a_project_without_helpers_gets_them_written(tmp_path, add_files):
    source = add_files(tmp_path / "src", {"Main.py": HEADER + "1\n"})
    items = {item.remote_rel: item for item in desired_items(source, env="dev", libraries=[])}
    assert sorted(items) == ["Main", "install_libraries", "set_environment"]
    assert items["set_environment"].object_type is ObjectType.NOTEBOOK and items["install_libraries"].local_rel == INSTALL_LIBRARIES_FILE


def test_set_environment_source_is_one_run_line():
    assert set_environment_source("kyle") == b"# Databricks notebook source\n# MAGIC %run ./conf/kyle_config\n"


@pytest.mark.parametrize(
    ("remote", "pip"),
    [
        ("dbfs:/libs/BI-7/a-1-py3-none-any.whl", "/dbfs/libs/BI-7/a-1-py3-none-any.whl"),
        ("/Volumes/main/ml/libs/BI-7/a-1-py3-none-any.whl", "/Volumes/main/ml/libs/BI-7/a-1-py3-none-any.whl"),
        ("/Projects/forecasting/libraries/a-1-py3-none-any.whl", "/Workspace/Projects/forecasting/libraries/a-1-py3-none-any.whl"),
        ("/Workspace/Projects/x/a-1-py3-none-any.whl", "/Workspace/Projects/x/a-1-py3-none-any.whl"),
    ],
)
def test_wheels_are_pip_installed_by_their_cluster_path(remote, pip):
    assert pip_path(remote) == pip
    assert install_libraries_source([remote]).decode() == HEADER + NOTE + SEPARATOR + f"# MAGIC %pip install {pip}\n"


def test_wheels_share_one_pip_line_and_eggs_go_through_dbutils():
    source = install_libraries_source(["dbfs:/l/a-1.whl", "/Projects/p/l/b-2.egg", "/Volumes/c/s/v/c-3.whl"]).decode()
    assert source == (
        HEADER + NOTE + SEPARATOR + "# MAGIC %pip install /dbfs/l/a-1.whl /Volumes/c/s/v/c-3.whl\n"
        + SEPARATOR + 'dbutils.library.install("/Projects/p/l/b-2.egg")\n'
    )


def test_no_library_leaves_a_note_and_no_install():
    source = install_libraries_source([]).decode()
    assert source == (
        HEADER + NOTE + SEPARATOR
        + "# no library uploaded for this folder yet (run `invoke upload-lib`): the cluster's libraries are used\n"
    )
    assert "%pip" not in source and "dbutils.library" not in source


def test_write_install_libraries(backend, recording):
    backend.mkdirs(TARGET)
    write_install_libraries(backend, TARGET, ["dbfs:/l/a-1.whl"], console=recording.console, dry_run=True)
    assert recording.lines == [f"would point {TARGET}/install_libraries at dbfs:/l/a-1.whl"]
    assert backend.list(TARGET) == []
    write_install_libraries(backend, TARGET, ["dbfs:/l/a-1.whl", "dbfs:/l/b-2.egg"], console=recording.console)
    assert recording.lines[-1] == f"{TARGET}/install_libraries installs a-1.whl, b-2.egg"
    assert backend.get_status(f"{TARGET}/install_libraries").object_type is ObjectType.NOTEBOOK
    assert backend.export(f"{TARGET}/install_libraries") == install_libraries_source(["dbfs:/l/a-1.whl", "dbfs:/l/b-2.egg"])
