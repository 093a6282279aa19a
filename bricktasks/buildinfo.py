"""Which build is this: build id, branch and commit, from any CI system or from git.

Each field is resolved on its own, highest precedence first:

build id   BRICKTASKS_BUILD_ID > the article's PIPELINES_BUILD_ID > the CI system's id
           > a local id `local-<UTC timestamp>` (`local-20261128t163000`) (only when no CI system is detected)
branch     BRICKTASKS_BRANCH > the article's GIT_BRANCH > the CI system's branch
           > `git symbolic-ref` in cwd
commit     the CI system's commit > `git rev-parse HEAD` in cwd > None

`BuildInfo.ci_system` names where the build id came from: "bricktasks" (the override),
"article" (PIPELINES_BUILD_ID), a CI system ("azure-pipelines", "github-actions",
"gitlab-ci", "circleci", "bitbucket", "buildkite", "jenkins") or None for a local build.

Branch names are returned raw (`feature/x`, not a folder name: `layout` maps them), with
ref prefixes removed: `refs/heads/x` -> `x`, `refs/pull/12/merge` -> `pr-12`,
`refs/merge-requests/7/head` -> `mr-7`.

GitHub Actions re-runs keep their run id, so attempt n > 1 becomes the build id
`<run id>-<n>` (`123-2`): a re-run gets its own CI folder and library version.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from bricktasks.errors import UserInputError
from bricktasks.git import current_git_branch, current_git_commit, git_output, hex_commit
from bricktasks.layout import PROTECTED_BRANCHES, branch_folder, validate_build_id

__all__ = [
    "BuildInfo",
    "detect_build_info",
    "branch_from_ref",
    "resolve_branch",
    "BranchUnknown",
    "refuse_protected",
    "ci_system_of",
    "build_page_url",
]

TRUTHY = {"1", "true", "yes", "on"}
_BRANCH_HINT = "pass --branch or set BRICKTASKS_BRANCH to the branch"


class BranchUnknown(UserInputError):
    """Nothing names the branch: no flag, no BRICKTASKS_BRANCH, no CI system's branch, no git branch."""


@dataclass(frozen=True)
class BuildInfo:
    """The identity of one build: its id, the raw git branch, the commit and where the id came from."""

    build_id: str
    branch: str
    commit: str | None
    ci_system: str | None

    @property
    def is_local(self) -> bool:
        """True for a developer's build (no CI system and no explicit build id)."""
        return self.ci_system is None


@dataclass(frozen=True)
class _CiFacts:
    """What one CI system's variables say; any field may be missing."""

    system: str
    build_id_var: str
    build_id: str | None
    branch: str | None
    commit: str | None


def detect_build_info(
    env: Mapping[str, str],
    *,
    cwd: Path,
    build_id: str | None = None,
    branch: str | None = None,
    now: datetime | None = None,
) -> BuildInfo:
    """Work out the build id, branch and commit: `build_id` and `branch` are the settings'
    (BRICKTASKS_BUILD_ID, BRICKTASKS_BRANCH, from flags, the environment or .env), then what the
    CI system's variables in `env` say, then git in `cwd`."""
    ci = _detect_ci(env)
    build_id, source = _resolve_build_id(env, ci, now, configured=build_id)
    branch = resolve_branch(flag=None, configured=branch, env=env, cwd=cwd, ci=ci)
    commit = hex_commit(ci.commit if ci else None) or current_git_commit(cwd)
    return BuildInfo(build_id=build_id, branch=branch, commit=commit, ci_system=source)


def branch_from_ref(ref: str | None) -> str | None:
    """A branch name from a git ref or plain name; None for a missing or empty value."""
    if ref is None or not ref.strip():
        return None
    ref = ref.strip()
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):] or None
    if ref.startswith("refs/remotes/"):
        # refs/remotes/<remote>/<branch>: the remote's name is not part of the branch
        _, _, branch = ref[len("refs/remotes/"):].partition("/")
        return branch or None
    review = re.match(r"^refs/(pull|merge-requests)/(\d+)(/.*)?$", ref)
    if review:
        # a pull/merge request's synthetic ref when the source branch is not given
        return f"{'pr' if review.group(1) == 'pull' else 'mr'}-{review.group(2)}"
    return ref


# ---- CI systems --------------------------------------------------------------------------


def _get(env: Mapping[str, str], name: str) -> str | None:
    """The stripped value of `name`, treating an empty value as unset (CI systems export empty vars)."""
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def _flag(env: Mapping[str, str], name: str) -> bool:
    return (_get(env, name) or "").lower() in TRUTHY


def _azure(env: Mapping[str, str]) -> _CiFacts | None:
    if not _flag(env, "TF_BUILD"):
        return None
    branch = (
        branch_from_ref(_get(env, "SYSTEM_PULLREQUEST_SOURCEBRANCH"))
        or branch_from_ref(_get(env, "BUILD_SOURCEBRANCH"))
        or _get(env, "BUILD_SOURCEBRANCHNAME")
    )
    return _CiFacts("azure-pipelines", "BUILD_BUILDID", _get(env, "BUILD_BUILDID"), branch, _get(env, "BUILD_SOURCEVERSION"))


def _github(env: Mapping[str, str]) -> _CiFacts | None:
    if not _flag(env, "GITHUB_ACTIONS"):
        return None
    build_id = _get(env, "GITHUB_RUN_ID")
    attempt = _get(env, "GITHUB_RUN_ATTEMPT") or "1"
    if build_id and attempt.isdigit() and int(attempt) > 1:
        build_id = f"{build_id}-{int(attempt)}"
    # GITHUB_HEAD_REF is set only for pull_request events; GITHUB_REF_NAME is then "<n>/merge"
    branch = (
        branch_from_ref(_get(env, "GITHUB_HEAD_REF"))
        or _get(env, "GITHUB_REF_NAME")
        or branch_from_ref(_get(env, "GITHUB_REF"))
    )
    return _CiFacts("github-actions", "GITHUB_RUN_ID", build_id, branch, _get(env, "GITHUB_SHA"))


def _gitlab(env: Mapping[str, str]) -> _CiFacts | None:
    if not _flag(env, "GITLAB_CI"):
        return None
    build_id = _get(env, "CI_PIPELINE_IID") or _get(env, "CI_PIPELINE_ID")
    branch = branch_from_ref(
        _get(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or _get(env, "CI_COMMIT_REF_NAME") or _get(env, "CI_COMMIT_BRANCH")
    )
    return _CiFacts("gitlab-ci", "CI_PIPELINE_IID", build_id, branch, _get(env, "CI_COMMIT_SHA"))


def _circleci(env: Mapping[str, str]) -> _CiFacts | None:
    if not _flag(env, "CIRCLECI"):
        return None
    return _CiFacts(
        "circleci", "CIRCLE_BUILD_NUM", _get(env, "CIRCLE_BUILD_NUM"), _get(env, "CIRCLE_BRANCH"), _get(env, "CIRCLE_SHA1")
    )


def _bitbucket(env: Mapping[str, str]) -> _CiFacts | None:
    build_id = _get(env, "BITBUCKET_BUILD_NUMBER")
    if build_id is None:
        return None
    # for pull-request pipelines BITBUCKET_BRANCH is already the source branch
    return _CiFacts("bitbucket", "BITBUCKET_BUILD_NUMBER", build_id, _get(env, "BITBUCKET_BRANCH"), _get(env, "BITBUCKET_COMMIT"))


def _buildkite(env: Mapping[str, str]) -> _CiFacts | None:
    if not _flag(env, "BUILDKITE"):
        return None
    # BUILDKITE_COMMIT may be the literal "HEAD" for builds started by hand; _hex_commit drops it
    return _CiFacts(
        "buildkite", "BUILDKITE_BUILD_NUMBER", _get(env, "BUILDKITE_BUILD_NUMBER"),
        _get(env, "BUILDKITE_BRANCH"), _get(env, "BUILDKITE_COMMIT"),
    )


def _jenkins(env: Mapping[str, str]) -> _CiFacts | None:
    if not (_get(env, "JENKINS_URL") or (_get(env, "BUILD_NUMBER") and _get(env, "JOB_NAME"))):
        return None
    git_branch = branch_from_ref(_get(env, "GIT_BRANCH"))
    if git_branch and git_branch.startswith("origin/"):
        git_branch = git_branch[len("origin/"):]
    # multibranch pipelines: CHANGE_BRANCH for pull requests, BRANCH_NAME otherwise; the git plugin's GIT_BRANCH last
    branch = _get(env, "CHANGE_BRANCH") or _get(env, "BRANCH_NAME") or git_branch
    return _CiFacts("jenkins", "BUILD_NUMBER", _get(env, "BUILD_NUMBER"), branch, _get(env, "GIT_COMMIT"))


# Strong, system-specific markers first; Jenkins last because BUILD_NUMBER + JOB_NAME are generic names.
_DETECTORS: tuple[Callable[[Mapping[str, str]], _CiFacts | None], ...] = (
    _azure, _github, _gitlab, _circleci, _bitbucket, _buildkite, _jenkins,
)


def _detect_ci(env: Mapping[str, str]) -> _CiFacts | None:
    for detector in _DETECTORS:
        facts = detector(env)
        if facts is not None:
            return facts
    return None


# ---- resolution ---------------------------------------------------------------------------


def _resolve_build_id(
    env: Mapping[str, str], ci: _CiFacts | None, now: datetime | None, *, configured: str | None
) -> tuple[str, str | None]:
    """The build id and the name of its source (see BuildInfo.ci_system)."""
    if configured is not None and configured.strip():
        return _checked_build_id(configured.strip(), "BRICKTASKS_BUILD_ID"), "bricktasks"
    value = _get(env, "PIPELINES_BUILD_ID")  # the article's scripts' name
    if value is not None:
        return _checked_build_id(value, "PIPELINES_BUILD_ID"), "article"
    if ci is not None:
        if ci.build_id is None:
            raise UserInputError(
                f"running on {ci.system} but {ci.build_id_var} is not set", "set BRICKTASKS_BUILD_ID to the build's id"
            )
        return _checked_build_id(ci.build_id, ci.build_id_var), ci.system
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # a naive time is taken to be UTC already
    # lower-case "t" keeps the id lossless in a version's local label (see build.stamp_version)
    return f"local-{moment.astimezone(timezone.utc):%Y%m%dt%H%M%S}", None


def _checked_build_id(value: str, var: str) -> str:
    try:
        return validate_build_id(value)
    except UserInputError as exc:
        raise UserInputError(f"{var}={value!r} is not a safe build id", exc.hint) from exc


def resolve_branch(
    *, flag: str | None, configured: str | None, env: Mapping[str, str], cwd: Path, ci: _CiFacts | None = None
) -> str:
    """The one rule for the branch a task acts on: the task's flag, else BRICKTASKS_BRANCH (the
    settings' value: environment or .env), else the CI system's branch (the article's GIT_BRANCH
    included), else the checked-out git branch. Validated as a folder name before anything is
    touched; an explicit empty flag is refused, not defaulted."""
    if flag is not None:
        branch_folder(flag)
        return flag
    branch = branch_from_ref(configured)
    ci = ci if ci is not None else _detect_ci(env)
    if branch is None and not (ci and ci.system == "jenkins"):
        # the article's GIT_BRANCH; under Jenkins that name is the git plugin's `origin/<branch>`, handled there
        branch = branch_from_ref(_get(env, "GIT_BRANCH"))
    if branch is None and ci is not None:
        branch = ci.branch
    if branch is None:
        branch = current_git_branch(cwd)
    if branch is not None:
        branch_folder(branch)
        return branch
    if git_output(["rev-parse", "--git-dir"], cwd) is not None:
        raise BranchUnknown(f"git HEAD is detached in {cwd}, so the branch is unknown", _BRANCH_HINT)
    raise BranchUnknown(f"no branch given and {cwd} is not a git working copy", _BRANCH_HINT)


def refuse_protected(branch: str, *, action: str) -> None:
    """The one protected-branch rule: master/ (and main) is written only by deploy."""
    if branch.lower() in PROTECTED_BRANCHES:
        raise UserInputError(f"refusing to {action} {branch}: master/ is written only by deploy", "use invoke deploy")




# ---- the CI system's own page of this build (for summaries) -------------------------------


def ci_system_of(env: Mapping[str, str]) -> str | None:
    """The CI system running us by its own markers ("azure-pipelines", "github-actions", ...), or None."""
    ci = _detect_ci(env)
    return ci.system if ci else None


def build_page_url(env: Mapping[str, str]) -> str | None:
    """The CI system's page of this build (where its artifacts are), from the variables it sets; None
    when there is none or a variable is missing. Only http(s) URLs: the value ends up as a link."""
    system = ci_system_of(env)
    url: str | None = None
    if system == "github-actions":
        server, repo, run = _get(env, "GITHUB_SERVER_URL"), _get(env, "GITHUB_REPOSITORY"), _get(env, "GITHUB_RUN_ID")
        attempt = _get(env, "GITHUB_RUN_ATTEMPT")
        if server and repo and run:
            url = f"{server.rstrip('/')}/{repo}/actions/runs/{run}" + (f"/attempts/{attempt}" if attempt and attempt != "1" else "")
    elif system == "azure-pipelines":
        collection, team, build = _get(env, "SYSTEM_COLLECTIONURI"), _get(env, "SYSTEM_TEAMPROJECT"), _get(env, "BUILD_BUILDID")
        if collection and team and build:
            url = f"{collection.rstrip('/')}/{quote(team)}/_build/results?buildId={quote(build)}"
    elif system == "gitlab-ci":
        url = _get(env, "CI_JOB_URL") or _get(env, "CI_PIPELINE_URL")
    elif system is not None:
        url = _get(env, "BUILD_URL") or _get(env, "BUILDKITE_BUILD_URL") or _get(env, "CIRCLE_BUILD_URL")
    return url if url and re.match(r"^https?://", url, re.IGNORECASE) else None
