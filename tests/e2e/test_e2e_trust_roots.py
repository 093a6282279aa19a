"""Issue 11 item 10 end to end: roots that would let the tool write or prune someone else's folders are
refused by every task before anything is touched (exit 2, one line, the workspace and project unchanged)."""
from __future__ import annotations

import pytest

CASES = [
    # (id, arguments, environment, expected in the line)
    ("library-root-in-a-branch", ["checkout", "BI-1", "--prune"], {"BRICKTASKS_LIBRARY_ROOT": "/Projects/forecasting/BI-1"},
     "branch's folder"),
    ("library-root-in-another-branch", ["upload-lib", "--branch", "BI-2"], {"BRICKTASKS_LIBRARY_ROOT": "/Projects/forecasting/libs"},
     "branch's folder"),
    ("library-root-in-ci-lowercase", ["clean-ci", "--older-than", "0d"], {"BRICKTASKS_LIBRARY_ROOT": "/Projects/forecasting/ci/libs"},
     "inside CI/"),
    ("local-root-is-the-project", ["checkout", "BI-1"], {"BRICKTASKS_LOCAL_ROOT": "."}, "is the project folder"),
    ("local-root-in-the-source", ["checkout", "BI-1"], {"BRICKTASKS_LOCAL_ROOT": "forecasting/.local"}, "BRICKTASKS_SOURCE_DIR"),
    ("local-root-above-the-project", ["clean-ci", "--older-than", "0d"], {"BRICKTASKS_LOCAL_ROOT": ".."}, "contains the project folder"),
    ("workspace-root-users", ["checkout", "BI-1"], {"BRICKTASKS_WORKSPACE_ROOT": "/Users"}, "shared by the whole workspace"),
    ("workspace-root-home", ["checkout", "BI-1"], {"BRICKTASKS_WORKSPACE_ROOT": "/Users/joe@example.com"}, "home folder"),
    ("workspace-root-repos", ["checkout", "BI-1"], {"BRICKTASKS_WORKSPACE_ROOT": "/Repos/joe/forecasting"}, "/Repos"),
    ("workspace-root-slash", ["clean-ci", "--older-than", "0d"], {"BRICKTASKS_WORKSPACE_ROOT": "/"}, "root folder"),
    ("workspace-root-double-slash", ["checkout", "BI-1"], {"BRICKTASKS_WORKSPACE_ROOT": "/Projects//forecasting"}, "empty part"),
    ("workspace-root-newline", ["checkout", "BI-1"], {"BRICKTASKS_WORKSPACE_ROOT": "/Projects/forecasting\n"}, "control"),
    ("workspace-root-escape", ["builds"], {"BRICKTASKS_WORKSPACE_ROOT": "/Projects/fore\x1b[2Jcasting"}, "control"),
    ("workspace-root-trailing-space", ["checkout", "BI-1"], {"BRICKTASKS_WORKSPACE_ROOT": "/Projects/forecasting "}, "whitespace"),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_roots_are_refused_and_nothing_changes(project, case):
    _, arguments, env, expected = case
    assert project.invoke("checkout", "BI-1").returncode == 0  # something in the workspace that must stay as it is
    before_workspace = project.workspace_digest()
    before_files = sorted(path.relative_to(project.root) for path in project.root.rglob("*") if ".git" not in path.parts)
    result = project.invoke(*arguments, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr and "\x1b" not in result.stderr
    assert project.workspace_digest() == before_workspace
    after_files = sorted(path.relative_to(project.root) for path in project.root.rglob("*") if ".git" not in path.parts)
    assert after_files == before_files
