"""Tests for bricktasks.buildinfo: every CI system's variables, the overrides and the git fallback."""
from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bricktasks.buildinfo import (
    BranchUnknown,
    BuildInfo,
    branch_from_ref,
    build_page_url,
    ci_system_of,
    detect_build_info,
    refuse_protected,
    resolve_branch,
)
from bricktasks.errors import UserInputError
from bricktasks.git import current_git_branch, current_git_commit, git_output, git_tree_is_dirty

SHA = "0123456789abcdef0123456789abcdef01234567"
NOW = datetime(2026, 11, 28, 16, 30, 0, tzinfo=timezone.utc)


def git(cwd: Path, *args: str) -> str:
    """Run git with a fixed identity so commits work on a machine without git config."""
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository on branch feature/x with one commit."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "feature/x")
    (path / "README.md").write_text("hello\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "first")
    return path


@pytest.fixture
def nogit(tmp_path: Path) -> Path:
    """A folder that is not a git working copy, so every value must come from the environment."""
    path = tmp_path / "plain"
    path.mkdir()
    return path


def detect(env: dict[str, str], cwd: Path) -> BuildInfo:
    """As the tasks call it: BRICKTASKS_BUILD_ID and BRICKTASKS_BRANCH come from the settings."""
    env = dict(env)
    build_id, branch = env.pop("BRICKTASKS_BUILD_ID", None), env.pop("BRICKTASKS_BRANCH", None)
    return detect_build_info(env, cwd=cwd, build_id=build_id, branch=branch, now=NOW)


# ---- CI systems ---------------------------------------------------------------------------


def test_azure_pipelines_push(nogit: Path) -> None:
    env = {"TF_BUILD": "True", "BUILD_BUILDID": "812", "BUILD_SOURCEBRANCH": "refs/heads/feature/BI-5613",
           "BUILD_SOURCEBRANCHNAME": "BI-5613", "BUILD_SOURCEVERSION": SHA}
    assert detect(env, nogit) == BuildInfo("812", "feature/BI-5613", SHA, "azure-pipelines")


def test_azure_pipelines_pull_request_uses_source_branch(nogit: Path) -> None:
    env = {"TF_BUILD": "True", "BUILD_BUILDID": "813", "BUILD_SOURCEBRANCH": "refs/pull/42/merge",
           "SYSTEM_PULLREQUEST_SOURCEBRANCH": "refs/heads/BI-5613", "BUILD_SOURCEVERSION": SHA}
    assert detect(env, nogit) == BuildInfo("813", "BI-5613", SHA, "azure-pipelines")


def test_azure_pipelines_falls_back_to_source_branch_name(nogit: Path) -> None:
    env = {"TF_BUILD": "True", "BUILD_BUILDID": "814", "BUILD_SOURCEBRANCHNAME": "BI-1"}
    assert detect(env, nogit).branch == "BI-1"


def test_github_actions_push(nogit: Path) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "9876543210", "GITHUB_RUN_ATTEMPT": "1",
           "GITHUB_REF": "refs/heads/BI-5613", "GITHUB_REF_NAME": "BI-5613", "GITHUB_HEAD_REF": "",
           "GITHUB_SHA": SHA}
    assert detect(env, nogit) == BuildInfo("9876543210", "BI-5613", SHA, "github-actions")


def test_github_actions_pull_request_uses_head_ref(nogit: Path) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "55", "GITHUB_REF": "refs/pull/7/merge",
           "GITHUB_REF_NAME": "7/merge", "GITHUB_HEAD_REF": "feature/x", "GITHUB_SHA": SHA}
    assert detect(env, nogit) == BuildInfo("55", "feature/x", SHA, "github-actions")


def test_github_actions_rerun_gets_its_own_build_id(nogit: Path) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "55", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_REF_NAME": "main"}
    assert detect(env, nogit).build_id == "55-2"


def test_gitlab_ci_push(nogit: Path) -> None:
    env = {"GITLAB_CI": "true", "CI_PIPELINE_IID": "31", "CI_PIPELINE_ID": "123456",
           "CI_COMMIT_REF_NAME": "BI-5613", "CI_COMMIT_SHA": SHA}
    assert detect(env, nogit) == BuildInfo("31", "BI-5613", SHA, "gitlab-ci")


def test_gitlab_ci_merge_request_uses_source_branch(nogit: Path) -> None:
    env = {"GITLAB_CI": "true", "CI_PIPELINE_ID": "123456", "CI_COMMIT_REF_NAME": "refs/merge-requests/3/head",
           "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/y", "CI_COMMIT_SHA": SHA}
    assert detect(env, nogit) == BuildInfo("123456", "feature/y", SHA, "gitlab-ci")


def test_jenkins_branch_build(nogit: Path) -> None:
    env = {"JENKINS_URL": "https://ci.example.com/", "BUILD_NUMBER": "17", "JOB_NAME": "forecasting/BI-5613",
           "BRANCH_NAME": "BI-5613", "GIT_BRANCH": "origin/BI-5613", "GIT_COMMIT": SHA}
    assert detect(env, nogit) == BuildInfo("17", "BI-5613", SHA, "jenkins")


def test_jenkins_pull_request_uses_change_branch(nogit: Path) -> None:
    env = {"JENKINS_URL": "https://ci.example.com/", "BUILD_NUMBER": "3", "BRANCH_NAME": "PR-9",
           "CHANGE_BRANCH": "feature/z", "GIT_COMMIT": SHA}
    assert detect(env, nogit).branch == "feature/z"


def test_jenkins_freestyle_strips_origin_from_git_branch(nogit: Path) -> None:
    # no JENKINS_URL: BUILD_NUMBER + JOB_NAME is the marker; GIT_BRANCH is the git plugin's, not the article's
    env = {"BUILD_NUMBER": "4", "JOB_NAME": "forecasting", "GIT_BRANCH": "origin/feature/x", "GIT_COMMIT": SHA}
    assert detect(env, nogit) == BuildInfo("4", "feature/x", SHA, "jenkins")


def test_circleci(nogit: Path) -> None:
    env = {"CIRCLECI": "true", "CIRCLE_BUILD_NUM": "1201", "CIRCLE_BRANCH": "BI-5613", "CIRCLE_SHA1": SHA}
    assert detect(env, nogit) == BuildInfo("1201", "BI-5613", SHA, "circleci")


def test_bitbucket_pipelines(nogit: Path) -> None:
    env = {"BITBUCKET_BUILD_NUMBER": "88", "BITBUCKET_BRANCH": "feature/x", "BITBUCKET_COMMIT": SHA,
           "BITBUCKET_PR_ID": "5"}
    assert detect(env, nogit) == BuildInfo("88", "feature/x", SHA, "bitbucket")


def test_buildkite(nogit: Path) -> None:
    env = {"BUILDKITE": "true", "BUILDKITE_BUILD_NUMBER": "642", "BUILDKITE_BRANCH": "BI-5613",
           "BUILDKITE_COMMIT": SHA, "BUILDKITE_PULL_REQUEST": "false"}
    assert detect(env, nogit) == BuildInfo("642", "BI-5613", SHA, "buildkite")


def test_buildkite_commit_head_falls_back_to_git(repo: Path) -> None:
    env = {"BUILDKITE": "true", "BUILDKITE_BUILD_NUMBER": "643", "BUILDKITE_BRANCH": "BI-5613",
           "BUILDKITE_COMMIT": "HEAD"}
    assert detect(env, repo).commit == git(repo, "rev-parse", "HEAD")


def test_ci_without_its_build_id_is_refused(nogit: Path) -> None:
    with pytest.raises(UserInputError, match="GITHUB_RUN_ID") as info:
        detect({"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main"}, nogit)
    assert "BRICKTASKS_BUILD_ID" in (info.value.hint or "")


def test_false_marker_is_not_a_ci_system(repo: Path) -> None:
    assert detect({"GITHUB_ACTIONS": "false", "CIRCLECI": ""}, repo).ci_system is None


# ---- the article and the overrides --------------------------------------------------------


def test_article_variables(nogit: Path) -> None:
    env = {"PIPELINES_BUILD_ID": "1234", "GIT_BRANCH": "BI-5613"}
    assert detect(env, nogit) == BuildInfo("1234", "BI-5613", None, "article")


def test_article_variables_win_over_the_ci_system(nogit: Path) -> None:
    # the article's azure-pipelines.yml sets both on top of Azure's own variables
    env = {"TF_BUILD": "True", "BUILD_BUILDID": "99", "BUILD_SOURCEBRANCH": "refs/heads/other",
           "BUILD_SOURCEVERSION": SHA, "PIPELINES_BUILD_ID": "1234", "GIT_BRANCH": "BI-5613"}
    assert detect(env, nogit) == BuildInfo("1234", "BI-5613", SHA, "article")


def test_bricktasks_overrides_win_everywhere(repo: Path) -> None:
    env = {"BRICKTASKS_BUILD_ID": "nightly-7", "BRICKTASKS_BRANCH": "BI-1", "PIPELINES_BUILD_ID": "1234",
           "GIT_BRANCH": "BI-2", "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "55", "GITHUB_REF_NAME": "BI-3",
           "GITHUB_SHA": SHA}
    assert detect(env, repo) == BuildInfo("nightly-7", "BI-1", SHA, "bricktasks")


def test_overrides_are_per_field(repo: Path) -> None:
    info = detect({"BRICKTASKS_BRANCH": "BI-9"}, repo)
    assert (info.build_id, info.branch, info.ci_system) == ("local-20261128t163000", "BI-9", None)
    info = detect({"BRICKTASKS_BUILD_ID": "77"}, repo)
    assert (info.build_id, info.branch, info.ci_system) == ("77", "feature/x", "bricktasks")


@pytest.mark.parametrize(
    "var, value",
    [("BRICKTASKS_BUILD_ID", "../etc"), ("BRICKTASKS_BUILD_ID", "a b"), ("PIPELINES_BUILD_ID", "x" * 65),
     ("PIPELINES_BUILD_ID", ".."), ("BRICKTASKS_BUILD_ID", "12/3")],
)
def test_unsafe_build_ids_are_refused(nogit: Path, var: str, value: str) -> None:
    with pytest.raises(UserInputError, match=var) as info:
        detect({var: value, "BRICKTASKS_BRANCH": "main"}, nogit)
    assert info.value.exit_code == 2


def test_unsafe_ci_build_id_is_refused(nogit: Path) -> None:
    with pytest.raises(UserInputError, match="CIRCLE_BUILD_NUM"):
        detect({"CIRCLECI": "true", "CIRCLE_BUILD_NUM": "1;rm -rf /", "CIRCLE_BRANCH": "main"}, nogit)


def test_longest_safe_build_id_is_accepted(nogit: Path) -> None:
    build_id = "A1._-" + "z" * 59
    assert detect({"BRICKTASKS_BUILD_ID": build_id, "BRICKTASKS_BRANCH": "main"}, nogit).build_id == build_id


# ---- git fallback -------------------------------------------------------------------------


def test_local_build_uses_git_branch_commit_and_a_utc_timestamp(repo: Path) -> None:
    now = datetime(2026, 11, 28, 17, 30, tzinfo=timezone(timedelta(hours=1)))
    info = detect_build_info({}, cwd=repo, now=now)
    assert info == BuildInfo("local-20261128t163000", "feature/x", git(repo, "rev-parse", "HEAD"), None)
    assert info.is_local


def test_local_build_without_now_uses_the_clock(repo: Path) -> None:
    assert detect_build_info({}, cwd=repo).build_id.startswith("local-20")


def test_detached_head_asks_for_bricktasks_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(UserInputError, match="detached") as info:
        detect({}, repo)
    assert "BRICKTASKS_BRANCH" in (info.value.hint or "")
    # with the branch given, the commit still comes from git
    assert detect({"BRICKTASKS_BRANCH": "feature/x"}, repo).commit == git(repo, "rev-parse", "HEAD")


def test_no_git_and_no_branch_is_refused(nogit: Path) -> None:
    with pytest.raises(UserInputError, match="not a git working copy") as info:
        detect({}, nogit)
    assert "BRICKTASKS_BRANCH" in (info.value.hint or "")


def test_repo_without_commits_has_a_branch_but_no_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "BI-5613")
    assert (current_git_branch(tmp_path), current_git_commit(tmp_path)) == ("BI-5613", None)


def test_git_helpers(repo: Path, nogit: Path) -> None:
    assert git_output(["rev-parse", "--abbrev-ref", "HEAD"], repo) == "feature/x"
    assert git_output(["no-such-command"], repo) is None
    assert git_output(["status"], nogit / "missing") is None
    assert current_git_branch(nogit) is None and current_git_commit(nogit) is None


def test_git_tree_is_dirty(repo: Path, nogit: Path) -> None:
    assert git_tree_is_dirty(repo) is False
    (repo / "new.py").write_text("x = 1\n")  # untracked files count: deploy would upload them
    assert git_tree_is_dirty(repo) is True
    (repo / "new.py").unlink()
    (repo / "README.md").write_text("changed\n")
    assert git_tree_is_dirty(repo) is True
    with pytest.raises(UserInputError):
        git_tree_is_dirty(nogit)


@pytest.mark.parametrize(
    "ref, branch",
    [("refs/heads/feature/x", "feature/x"), ("refs/remotes/origin/BI-1", "BI-1"), ("refs/tags/v1.0", "v1.0"),
     ("refs/pull/12/merge", "pr-12"), ("refs/merge-requests/7/head", "mr-7"), ("feature/x", "feature/x"),
     ("  BI-1 ", "BI-1"), ("", None), (None, None)],
)
def test_branch_from_ref(ref: str | None, branch: str | None) -> None:
    assert branch_from_ref(ref) == branch


# ---- the one branch rule (issue 12): flag > BRICKTASKS_BRANCH > CI system > git --------------

GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_NUMBER": "7", "GITHUB_REF_NAME": "BI-ci"}


@pytest.mark.parametrize(
    ("flag", "configured", "env", "expected"),
    [
        ("BI-flag", "BI-set", GITHUB, "BI-flag"),
        (None, "BI-set", GITHUB, "BI-set"),
        (None, None, GITHUB, "BI-ci"),
        (None, None, {}, "feature/x"),
        (None, "refs/heads/BI-ref", {}, "BI-ref"),
    ],
)
def test_the_branch_comes_from_the_flag_then_the_setting_then_the_ci_system_then_git(repo, flag, configured, env, expected):
    assert resolve_branch(flag=flag, configured=configured, env=env, cwd=repo) == expected


def test_an_explicit_empty_or_unsafe_branch_is_refused_not_defaulted(repo):
    for flag in ("", "..", "a/../b"):
        with pytest.raises(UserInputError):
            resolve_branch(flag=flag, configured="BI-1", env={}, cwd=repo)
    with pytest.raises(UserInputError) as caught:
        resolve_branch(flag=None, configured="../master", env={}, cwd=repo)
    assert not isinstance(caught.value, BranchUnknown)  # a bad name is never replaced by a default


def test_nothing_naming_the_branch_is_branch_unknown(nogit):
    with pytest.raises(BranchUnknown):
        resolve_branch(flag=None, configured=None, env={}, cwd=nogit)


@pytest.mark.parametrize("branch", ["master", "main", "MAIN"])
def test_master_and_main_are_written_only_by_deploy(branch):
    with pytest.raises(UserInputError, match="written only by deploy"):
        refuse_protected(branch, action="check out")
    refuse_protected("BI-1", action="check out")  # any other branch passes


@pytest.mark.parametrize(("env", "url"), [
    ({"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com/", "GITHUB_REPOSITORY": "acme/f", "GITHUB_RUN_ID": "9"},
     "https://github.com/acme/f/actions/runs/9"),
    ({"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://ghe.acme.com", "GITHUB_REPOSITORY": "acme/f", "GITHUB_RUN_ID": "9",
      "GITHUB_RUN_ATTEMPT": "3"}, "https://ghe.acme.com/acme/f/actions/runs/9/attempts/3"),
    ({"TF_BUILD": "True", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/", "SYSTEM_TEAMPROJECT": "Demand Forecast",
      "BUILD_BUILDID": "812"}, "https://dev.azure.com/acme/Demand%20Forecast/_build/results?buildId=812"),
    ({"GITLAB_CI": "true", "CI_JOB_URL": "https://gitlab.com/acme/f/-/jobs/5"}, "https://gitlab.com/acme/f/-/jobs/5"),
    ({"JENKINS_URL": "https://ci/", "BUILD_URL": "https://ci/job/f/5/"}, "https://ci/job/f/5/"),
    ({"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/f", "GITHUB_RUN_ID": "9"}, None),  # no server: no link
    ({"JENKINS_URL": "https://ci/", "BUILD_URL": "javascript:alert(1)"}, None),  # only http(s) becomes a link
    ({"BUILD_URL": "https://ci/job/f/5/"}, None),  # no CI system detected
])
def test_the_ci_systems_page_of_the_build(env: dict[str, str], url: str | None) -> None:
    assert build_page_url(env) == url


def test_ci_system_of_names_the_system_by_its_markers() -> None:
    assert ci_system_of({"TF_BUILD": "True"}) == "azure-pipelines"
    assert ci_system_of({"GITHUB_STEP_SUMMARY": "/tmp/x"}) is None  # the summary file alone is no CI system
