"""Git, asked through its command line (no shell): the branch, the commit, a dirty tree."""
from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bricktasks.errors import UserInputError

__all__ = ["git_output", "current_git_branch", "current_git_commit", "last_commit_touching", "git_tree_is_dirty",
           "hex_commit"]

GIT_TIMEOUT_SECONDS = 30
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")


def hex_commit(value: str | None) -> str | None:
    """`value` lower-cased when it is a commit SHA (7 to 64 hex digits), else None."""
    return value.lower() if value and _COMMIT.match(value) else None


def git_output(args: Sequence[str], cwd: Path) -> str | None:
    """Run `git <args>` in `cwd` (no shell); its stripped stdout, or None if git failed or is missing."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=GIT_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired):
        return None  # no git, no such folder, or a hung git: the caller reports what it could not find
    return result.stdout.strip() if result.returncode == 0 else None


def current_git_branch(cwd: Path) -> str | None:
    """The checked-out branch in `cwd`; None when HEAD is detached or cwd is not a git working copy."""
    # symbolic-ref (unlike rev-parse --abbrev-ref) also names the branch of a repo with no commits yet
    return git_output(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd) or None


def current_git_commit(cwd: Path) -> str | None:
    """The full SHA of HEAD in `cwd`; None when there is no commit or no git working copy."""
    return hex_commit(git_output(["rev-parse", "--verify", "--quiet", "HEAD"], cwd))


def last_commit_touching(path: Path, cwd: Path) -> str | None:
    """The full SHA of the last commit that changed anything under `path`; None without git or history."""
    return hex_commit(git_output(["log", "-1", "--format=%H", "--", str(path)], cwd))


def git_tree_is_dirty(cwd: Path) -> bool:
    """True when the working copy has uncommitted changes, untracked files included (they would be deployed)."""
    status = git_output(["status", "--porcelain"], cwd)
    if status is None:
        raise UserInputError(f"{cwd} is not a git working copy", "run the task from the project's git checkout")
    return status != ""
