"""Build targets: which version stamp and which folders a branch, CI build, master or local build
gets, which target the flags choose, and which library kinds the runtime takes."""
from __future__ import annotations

import re
import sys

import pytest

from bricktasks.buildinfo import BuildInfo
from bricktasks.errors import ConfigError, UserInputError
from bricktasks.libraries.targets import BuildTarget, build_for, check_kind_supported, target_for

STAMP = r"\d{8}t\d{6}"  # UTC, lower-case t: lossless in a version's local label
RUNNING_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture
def git_project(git_project_dir, make_project, run_git):
    """The project as a git working copy on BI-7, and its HEAD commit."""
    return make_project(), run_git(git_project_dir, "rev-parse", "HEAD")


# ---- the four targets ---------------------------------------------------------------------


def test_a_branch_target_stamps_a_b_id_and_uses_the_branch_folders(git_project):
    project, head = git_project
    target = BuildTarget.branch(project, "feature/x")
    assert target.kind == "branch"
    assert re.fullmatch(f"b{STAMP}", target.build.build_id)
    assert (target.build.branch, target.build.commit, target.build.ci_system) == ("feature/x", head, None)
    assert target.library_folder(project.layout) == "/Projects/forecasting/libraries/feature__x"
    assert target.workspace_folder(project.layout) == "/Projects/forecasting/feature__x"


def test_a_local_target_uses_the_branch_libraries_and_no_notebook_folder(git_project):
    project, head = git_project
    target = BuildTarget.local(project, "BI-7")
    assert target.kind == "local" and re.fullmatch(f"local-{STAMP}", target.build.build_id)
    assert target.build.commit == head
    assert target.library_folder(project.layout) == "/Projects/forecasting/libraries/BI-7"
    assert target.workspace_folder(project.layout) is None


def test_a_ci_target_keeps_its_build_and_uses_the_build_folders(project):
    build = BuildInfo("123-2", "feature/x", None, "github-actions")
    target = BuildTarget.ci(build)
    assert target.kind == "ci" and target.build is build
    assert target.library_folder(project.layout) == "/Projects/forecasting/libraries/CI/123-2-feature__x"
    assert target.workspace_folder(project.layout) == "/Projects/forecasting/CI/123-2-feature__x"


def test_a_master_target_uses_the_library_root_and_no_notebook_folder(git_project, make_project):
    project, head = git_project
    target = BuildTarget.master(project)
    assert (target.kind, target.build) == ("master", BuildInfo("master", "master", head, None))
    assert target.library_folder(project.layout) == "/Projects/forecasting/libraries"
    assert target.workspace_folder(project.layout) is None  # only deploy writes master/
    on_a_volume = make_project(library_root="/Volumes/main/ml/libs")
    assert target.library_folder(on_a_volume.layout) == "/Volumes/main/ml/libs"


def test_without_git_the_commit_is_none(project):
    assert BuildTarget.branch(project, "BI-7").build.commit is None
    assert BuildTarget.master(project).build.commit is None


def test_each_target_stamps_its_own_version(git_project, recording):
    """build_for in a dry run names the version each target would build (one setup.py call each)."""
    project, head = git_project
    short = head[:7]
    ci = BuildTarget.ci(BuildInfo("17", "feature/x", head, "azure-pipelines"))
    for target in (ci, BuildTarget.master(project), BuildTarget.branch(project, "BI-7")):
        build_for(project, target, kind="wheel", console=recording.console, dry_run=True)
    ci, master, branch = recording.lines
    assert ci == f"would build tinylib 0.3.1.dev17+feature.x.g{short} (wheel)"
    assert master == f"would build tinylib 0.3.1+g{short} (wheel)"
    assert re.fullmatch(rf"would build tinylib 0\.3\.1\.dev0\+b{STAMP}\.bi\.7\.g{short} \(wheel\)", branch)
    assert not project.dist_dir.exists()  # a dry run builds nothing


# ---- target_for ---------------------------------------------------------------------------


def test_master_wins_alone_and_refuses_company(git_project):
    project, head = git_project
    assert target_for(project, branch=None, build_id=None, master=True).build == BuildInfo("master", "master", head, None)
    for branch, build_id in (("BI-7", None), (None, "12"), ("BI-7", "12")):
        with pytest.raises(UserInputError) as refused:
            target_for(project, branch=branch, build_id=build_id, master=True)
        assert str(refused.value) == "--master cannot be combined with --branch or --build-id"
        assert refused.value.hint == "pick one target"


def test_a_build_id_makes_a_ci_target_of_the_chosen_branch(git_project):
    project, head = git_project
    target = target_for(project, branch="feature/x", build_id="12", master=False)
    assert (target.kind, target.build) == ("ci", BuildInfo("12", "feature/x", head, "bricktasks"))
    from_git = target_for(project, branch=None, build_id="12", master=False)
    assert from_git.build.branch == "BI-7"


def test_the_build_id_setting_counts_when_no_flag_is_given(git_project_dir, make_project):
    project = make_project(environ={"BRICKTASKS_BUILD_ID": "77"})
    target = target_for(project, branch=None, build_id=None, master=False)
    assert (target.kind, target.build.build_id, target.build.branch) == ("ci", "77", "BI-7")
    assert target_for(project, branch=None, build_id="78", master=False).build.build_id == "78"  # the flag first


def test_the_branch_flag_beats_the_setting_which_beats_git(git_project_dir, make_project):
    project = make_project(environ={"BRICKTASKS_BRANCH": "from-env"})
    assert target_for(project, branch="from-flag", build_id=None, master=False).build.branch == "from-flag"
    assert target_for(project, branch=None, build_id=None, master=False).build.branch == "from-env"
    plain = make_project()
    chosen = target_for(plain, branch=None, build_id=None, master=False)
    assert (chosen.kind, chosen.build.branch) == ("branch", "BI-7")


@pytest.mark.parametrize(
    ("branch", "build_id", "message"),
    [
        ("BI-7", "../up", "the build id '../up' is not a safe name"),
        ("BI-7", "a/b", "the build id 'a/b' is not a safe name"),
        ("", None, "the branch name is empty"),
        ("a__b", None, "the branch name 'a__b' contains '__', which is reserved for '/'"),
        ("libraries", None, "the branch name 'libraries' is reserved for the project's libraries folder"),
    ],
)
def test_unsafe_names_are_refused(project, branch, build_id, message):
    with pytest.raises(UserInputError) as refused:
        target_for(project, branch=branch, build_id=build_id, master=False)
    assert str(refused.value) == message


def test_no_branch_anywhere_is_refused(project):
    with pytest.raises(UserInputError) as refused:
        target_for(project, branch=None, build_id=None, master=False)
    assert str(refused.value).startswith("no branch given and ") and str(refused.value).endswith("is not a git working copy")
    assert refused.value.hint == "pass --branch or set BRICKTASKS_BRANCH to the branch"


# ---- library kinds ------------------------------------------------------------------------


def test_wheels_are_always_supported(make_project):
    check_kind_supported(make_project(runtime_version="12.2", target_python="3.6"), "wheel")


def test_eggs_only_before_runtime_14(make_project):
    with pytest.raises(ConfigError) as refused:
        check_kind_supported(make_project(runtime_version="15.4"), "egg")
    assert str(refused.value) == "eggs are not supported on Databricks Runtime 15 (15.4); only Runtime 13 and earlier install them"
    with pytest.raises(ConfigError, match="Databricks Runtime 14 "):
        check_kind_supported(make_project(runtime_version="14.3 LTS", target_python=RUNNING_PYTHON), "egg")
    check_kind_supported(make_project(runtime_version="13.3 LTS", target_python=RUNNING_PYTHON), "egg")


def test_eggs_only_from_the_runtimes_python(make_project):
    other = "3.6" if RUNNING_PYTHON != "3.6" else "3.7"
    with pytest.raises(ConfigError) as refused:
        check_kind_supported(make_project(runtime_version="13.3", target_python=other), "egg")
    assert str(refused.value).startswith(f"the target runtime runs Python {other} but the egg would be built with Python {RUNNING_PYTHON}")
    with pytest.raises(ConfigError, match="is not a Python version"):
        check_kind_supported(make_project(runtime_version="13.3", target_python="three"), "egg")


def test_an_egg_build_is_refused_before_anything_is_built(make_project, recording):
    project = make_project(runtime_version="15.4")
    with pytest.raises(ConfigError):
        build_for(project, BuildTarget.ci(BuildInfo("1", "BI-7", None, None)), kind="egg", console=recording.console)
    assert recording.lines == [] and not project.dist_dir.exists()


def test_master_names_the_commit_that_last_changed_the_library_not_head(git_project, recording, run_git):
    """A commit outside the library keeps master's wheel name (the deployed classic jobs stay unchanged);
    a commit inside it gives a new name. Branch and CI builds keep stamping HEAD."""
    project, first = git_project
    (project.root / "README.md").write_text("a change outside the library\n")
    run_git(project.root, "add", "-A")
    run_git(project.root, "commit", "-q", "-m", "docs only")
    head = run_git(project.root, "rev-parse", "HEAD")
    [library] = [child for child in project.libs_dir.iterdir() if (child / "setup.py").is_file() or (child / "pyproject.toml").is_file()]
    (library / "CHANGES.txt").write_text("a change inside the library\n")
    build_for(project, BuildTarget.master(project), kind="wheel", console=recording.console, dry_run=True)
    run_git(project.root, "add", "-A")
    run_git(project.root, "commit", "-q", "-m", "library changed")
    changed = run_git(project.root, "rev-parse", "HEAD")
    build_for(project, BuildTarget.master(project), kind="wheel", console=recording.console, dry_run=True)
    build_for(project, BuildTarget.ci(BuildInfo("17", "main", changed, None)), kind="wheel", console=recording.console,
              dry_run=True)
    assert head != first and recording.lines == [
        f"would build tinylib 0.3.1+g{first[:7]} (wheel)", f"would build tinylib 0.3.1+g{changed[:7]} (wheel)",
        f"would build tinylib 0.3.1.dev17+main.g{changed[:7]} (wheel)"]
