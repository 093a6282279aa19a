"""Issue 11 item 10: the workspace, library and local roots are refused (exit 2, one line) wherever the tool's
writes or prunes would reach someone else's folders: a library root in a branch's folder, a local root that is
the project or inside the uploaded source, a workspace root with hidden characters or that is a shared folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from bricktasks.errors import BricktasksError, ConfigError
from bricktasks.layout import ProjectLayout, check_local_root, check_workspace_root
from bricktasks.project import load_project
from bricktasks.settings import load_settings

WORKSPACE = "/Projects/forecasting"

BAD_WORKSPACE_ROOTS = [
    ("/", "workspace's root folder"),
    ("/Workspace", "workspace's root folder"),
    ("/Workspace/", "workspace's root folder"),
    ("/Users", "shared by the whole workspace"),
    ("/Users/", "shared by the whole workspace"),
    ("/Users/joe@example.com", "home folder"),
    ("/Workspace/Users/joe@example.com", "home folder"),
    ("/Shared", "shared by the whole workspace"),
    ("/Repos/joe@example.com/forecasting", "/Repos"),
    ("/Repos", "/Repos"),
    ("/Workspace/Repos/joe/x", "/Repos"),
    ("/Volumes/ml/forecasting/v", "not a workspace folder"),
    ("/Projects//forecasting", "empty part"),
    ("//Projects/forecasting", "empty part"),
    ("/Projects/forecasting//", "empty part"),
    ("/Projects/../Shared", "'..'"),
    ("/Projects/./forecasting", "'..'"),
    ("/Projects/forecasting/..", "'..'"),
    ("/Projects/forecasting\n", "control"),
    ("/Projects/fore\x00casting", "control"),
    ("/Projects/fore\x1b[31mcasting", "control"),
    ("/Projects/forecasting\u200b", "invisible"),
    ("/Projects/forecasting\u202e", "invisible"),
    ("/Projects/forecasting ", "whitespace"),
    ("/Projects/ forecasting", "whitespace"),
    ("/Projects\\forecasting", "backslash"),
    ("Projects/forecasting", "absolute"),
    ("", "absolute"),
]


@pytest.mark.parametrize(("root", "reason"), BAD_WORKSPACE_ROOTS)
def test_bad_workspace_roots_are_refused_with_one_line(root, reason):
    with pytest.raises(ConfigError) as caught:
        check_workspace_root(root)
    line = caught.value.one_line()
    assert caught.value.exit_code == 2 and reason in line, line
    assert "\n" not in line and "\x00" not in line and "\x1b" not in line  # the value is shown escaped


@pytest.mark.parametrize(
    ("root", "normal"),
    [("/Projects/forecasting", WORKSPACE), ("/Projects/forecasting/", WORKSPACE), ("/Shared/forecasting", "/Shared/forecasting"),
     ("/Users/joe@example.com/forecasting", "/Users/joe@example.com/forecasting"), ("/forecasting", "/forecasting"),
     ("/Users/Shared/contract-1", "/Users/Shared/contract-1"), ("/Workspace/Shared/x", "/Workspace/Shared/x")],
)
def test_project_folders_of_their_own_are_accepted(root, normal):
    assert check_workspace_root(root) == normal


@pytest.mark.parametrize("root", ["/Users", "/Projects//x", "/Repos/me/x", "/Projects/x\t"])
def test_settings_refuse_a_bad_workspace_root(tmp_path, root):
    with pytest.raises(ConfigError):
        load_settings(tmp_path, {"BRICKTASKS_WORKSPACE_ROOT": root})


def test_the_reported_case_a_library_root_in_a_branch_folder_is_refused():
    """BRICKTASKS_LIBRARY_ROOT=<root>/BI-1 put master's libraries in BI-1/ and BI-2's in BI-1/BI-2/:
    `checkout BI-1 --prune` deleted them all."""
    with pytest.raises(BricktasksError) as caught:
        ProjectLayout(WORKSPACE, f"{WORKSPACE}/BI-1")
    assert caught.value.exit_code == 2 and "branch's folder" in caught.value.one_line()


def test_no_branch_folder_can_hold_an_allowed_library_root():
    """Whatever a branch is called, its folder never contains a library folder an allowed root gives."""
    layout = ProjectLayout(WORKSPACE, f"{WORKSPACE}/libraries")
    for branch in ("BI-1", "libs", "Libraries2", "feature/x", "master2", "lib"):
        folder = layout.branch(branch)
        for library_folder in (layout.master_libraries, layout.branch_libraries("BI-2"), layout.ci_libraries("1", "BI-2")):
            assert not library_folder.startswith(folder + "/") and library_folder != folder


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "forecasting").mkdir(parents=True)
    (root / "libs" / "regimecast").mkdir(parents=True)
    return root


@pytest.mark.parametrize(
    ("local_root", "reason"),
    [(".", "is the project folder"), ("{root}", "is the project folder"), ("..", "contains the project folder"),
     ("/", "contains the project folder"), ("forecasting", "BRICKTASKS_SOURCE_DIR"), ("forecasting/.local", "BRICKTASKS_SOURCE_DIR"),
     ("libs/regimecast/local", "BRICKTASKS_LIBS_DIR"), ("sub/../forecasting/x", "BRICKTASKS_SOURCE_DIR")],
)
def test_local_roots_that_would_be_uploaded_or_hold_the_project_are_refused(tmp_path, local_root, reason):
    root = _project(tmp_path)
    value = local_root.format(root=root)
    with pytest.raises(ConfigError) as caught:
        load_project(root, {"BRICKTASKS_LOCAL_ROOT": value})
    assert caught.value.exit_code == 2 and reason in caught.value.one_line()
    assert sorted(path.name for path in root.iterdir()) == ["forecasting", "libs"]  # nothing created


def test_a_symlinked_local_root_into_the_source_is_refused(tmp_path):
    root = _project(tmp_path)
    (root / "local").symlink_to(root / "forecasting")
    with pytest.raises(ConfigError):
        check_local_root(root / "local", project_dir=root, source_dir=root / "forecasting", libs_dir=root / "libs")


@pytest.mark.parametrize("local_root", [".databricks-local", "{tmp}/elsewhere", "local/state"])
def test_local_roots_of_their_own_are_accepted(tmp_path, local_root):
    root = _project(tmp_path)
    project = load_project(root, {"BRICKTASKS_LOCAL_ROOT": local_root.format(tmp=tmp_path)})
    assert project.local_root.name in (".databricks-local", "elsewhere", "state")


@pytest.mark.parametrize(("setting", "value"), [("BRICKTASKS_DIST_DIR", "forecasting/dist"), ("BRICKTASKS_RESULTS_DIR", "forecasting"),
                                                 ("BRICKTASKS_RESULTS_DIR", "x/../forecasting/r")])
def test_outputs_written_into_the_source_are_refused(tmp_path, setting, value):
    """The next upload would carry the wheels or the reports along with the notebooks."""
    root = _project(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_project(root, {setting: value})
    assert setting in caught.value.one_line() and "BRICKTASKS_SOURCE_DIR" in caught.value.one_line()
