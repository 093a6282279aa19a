"""Issue 11, items 1, 2 and 9, end to end: what the tasks read from the source and the libraries.

- A committed symbolic link (a fork's pull request) is refused by every task that reads the
  source — checkout, ci, deploy, upload-lib and the builds —, wherever it points: exit 2, one line
  naming the link, nothing uploaded. The headline: `forecasting/e -> /proc/self/environ` would
  have made `invoke ci` upload the runner's environment, DATABRICKS_TOKEN included.
- A credential in a library file packed into the wheel is refused by upload-lib and deploy.
- Files git ignores under the source folder (build/, derby.log, spark-warehouse/) are neither
  uploaded nor scanned by checkout, ci and deploy.
Each case runs on the local backend (its root does not change) and over the emulator (its request
log shows no write request while a refused case runs); the end checks prove the sentinel token in
.env, and the runner's environment holding it, leak nowhere.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_helpers import HEADER, REPO, SENTINEL_TOKEN, ProjectCopy, is_write

from bricktasks.testing.emulator import EmulatorProcess

LIBRARY_TOKEN = "dapi" + "0badc0de" * 4  # not the sentinel: the end checks would find that one in the copy's own file
HELLO = HEADER + 'dbutils.notebook.exit("hello")\n'
CI_ENV = {"BRICKTASKS_BUILD_ID": "31", "BRICKTASKS_BRANCH": "BI-31", "BRICKTASKS_CI_NOTEBOOKS": "Hello"}


def _link(target: str, name: str) -> Callable[[ProjectCopy], None]:
    def arrange(project: ProjectCopy) -> None:
        path = project.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)

    return arrange


def _chain(project: ProjectCopy) -> None:
    os.symlink("/proc/self/environ", project.source / "hop")
    os.symlink("hop", project.source / "Start.py")


def _library_token(project: ProjectCopy) -> None:
    (project.root / "libs/regimecast/regimecast/_c.py").write_text(f"TOKEN = '{LIBRARY_TOKEN}'\n")


LINK_IN_LIBRARY = _link("../../../.env", "libs/regimecast/regimecast/_c.py")
CASES = [
    # (id, arrange the committed change, invoke arguments, expected text in the error line)
    ("ci-proc-environ", _link("/proc/self/environ", "forecasting/e"), ["ci"],
     "forecasting/e is a symbolic link to a file outside forecasting/"),
    ("checkout-etc-hostname", _link("/etc/hostname", "forecasting/hostname"), ["checkout", "BI-1"],
     "forecasting/hostname is a symbolic link to a file outside"),
    ("checkout-dotenv", _link("../../.env", "forecasting/conf/env.py"), ["checkout", "BI-1"],
     "forecasting/conf/env.py is a symbolic link to a file outside"),
    ("deploy-folder-outside", _link("/etc", "forecasting/shared"), ["deploy"], "forecasting/shared is a symbolic link to a folder outside"),
    ("ci-chain", _chain, ["ci"], "forecasting/Start.py is a symbolic link to a file outside"),
    ("checkout-inside", _link("PrepareData.py", "forecasting/Prepare.py"), ["checkout", "BI-1"],
     "forecasting/Prepare.py is a symbolic link to a file inside"),
    ("upload-lib-link-in-library", LINK_IN_LIBRARY, ["upload-lib", "--branch", "BI-1"],
     "libs/regimecast/regimecast/_c.py is a symbolic link to a file outside"),
    ("ci-link-in-library", LINK_IN_LIBRARY, ["ci"], "libs/regimecast/regimecast/_c.py is a symbolic link to a file outside"),
    ("deploy-link-in-library", LINK_IN_LIBRARY, ["deploy"], "libs/regimecast/regimecast/_c.py is a symbolic link to a file outside"),
    ("upload-lib-token-in-library", _library_token, ["upload-lib", "--branch", "BI-1"],
     "libs/regimecast/regimecast/_c.py line 1 looks like a Databricks token"),
    ("deploy-token-in-library", _library_token, ["deploy"], "libs/regimecast/regimecast/_c.py line 1 looks like a Databricks token"),
]
# the CI runner's environment holds the token, as a pipeline's secret variable would
RUNNER_ENV = {"BRICKTASKS_BUILD_ID": "9", "BRICKTASKS_BRANCH": "BI-9", "DATABRICKS_TOKEN": SENTINEL_TOKEN}


def _arrange(project: ProjectCopy, arrange: Callable[[ProjectCopy], None]) -> None:
    arrange(project)
    project.commit_all("a pull request")  # committed: deploy needs a clean tree, and a fork's PR is commits


def _assert_refused(result, expected: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0], lines[0]
    assert "nothing was uploaded" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert LIBRARY_TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_refused_on_the_local_backend(project, case):
    _, arrange, arguments, expected = case
    assert project.invoke("checkout", "BI-1").returncode == 0  # something in the workspace that must stay as it is
    _arrange(project, arrange)
    before = project.workspace_digest()
    _assert_refused(project.invoke(*arguments, env=RUNNER_ENV), expected)
    assert project.workspace_digest() == before
    if "token" in expected:
        assert list((project.root / "dist").glob("*.whl")) == []  # the refused wheel is not left in dist/ either


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """One emulator for the module, holding a branch folder that must stay as it is."""
    folder = tmp_path_factory.mktemp("trust-source-remote")
    with EmulatorProcess(folder / "emulated", token=SENTINEL_TOKEN) as emulator:
        seeding = ProjectCopy.create(folder / "project", repo=REPO)
        (seeding.root / ".env").write_text(f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\n")
        seeded = seeding.invoke("checkout", "BI-1", env=_remote_env(emulator))
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        yield emulator


def _remote_env(emulator: EmulatorProcess) -> dict[str, str]:
    return {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_refused_over_the_emulator_with_no_write_request(project, remote, end_checks, case):
    _, arrange, arguments, expected = case
    end_checks.paths += [remote.root, remote.request_log]
    end_checks.request_logs.append(remote.request_log)
    end_checks.master_allowed = "deploy" in arguments
    _arrange(project, arrange)
    seen = len(remote.requests())
    _assert_refused(project.invoke(*arguments, env={**_remote_env(remote), **RUNNER_ENV}), expected)
    writes = [request for request in remote.requests()[seen:] if is_write(request)]
    assert writes == [], writes


# ---- .gitignore ---------------------------------------------------------------------------

IGNORED = ["build/helper.py", "derby.log", "spark-warehouse/sales/part-0.parquet"]


def _leave_ignored_outputs(project: ProjectCopy) -> None:
    """What a local Spark session and a build leave in the notebooks folder, all ignored by the
    project's .gitignore; one holds a credential, which must not stop a task that does not send it."""
    for rel in IGNORED:
        path = project.source / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"password = 'Hunter2-{rel}'\nTOKEN = '{LIBRARY_TOKEN}'\n")
    assert project.git("status", "--porcelain") == ""  # git sees nothing new: the tree stays clean for deploy


def _workspace_paths(project: ProjectCopy, folder: str) -> list[str]:
    backend = project.backend()
    found, pending = [], [folder]
    while pending:
        for info in backend.list(pending.pop()):
            found.append(info.path[len(folder) + 1:])
            if info.object_type.name == "DIRECTORY":
                pending.append(info.path)
    return found


def _assert_none_ignored(paths: list[str]) -> None:
    assert paths, "nothing was uploaded at all"
    ignored = {"build", "derby.log", "derby", "spark-warehouse"}  # a notebook loses its extension; derby.log is a file
    assert not [path for path in paths if ignored & set(path.split("/"))], paths


@pytest.mark.parametrize(
    "arguments, env, folder",
    [
        (["checkout", "BI-1"], {}, "/Projects/forecasting/BI-1"),
        (["ci"], CI_ENV, "/Projects/forecasting/CI/31-BI-31"),
        (["deploy"], {}, "/Projects/forecasting/master"),
    ],
    ids=["checkout", "ci", "deploy"],
)
def test_ignored_files_are_not_uploaded_on_the_local_backend(project, arguments, env, folder):
    project.write_notebook("Hello", HELLO)
    project.commit_all("hello")
    _leave_ignored_outputs(project)
    result = project.invoke(*arguments, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    paths = _workspace_paths(project, folder)
    _assert_none_ignored(paths)
    assert "Hello" in paths


@pytest.mark.parametrize(
    "arguments, env",
    [(["checkout", "BI-7"], {}), (["ci"], CI_ENV), (["deploy"], {})],
    ids=["checkout", "ci", "deploy"],
)
def test_ignored_files_are_not_uploaded_over_the_emulator(project, remote, end_checks, arguments, env):
    end_checks.paths += [remote.root, remote.request_log]
    end_checks.request_logs.append(remote.request_log)
    end_checks.master_allowed = "deploy" in arguments
    project.write_notebook("Hello", HELLO)
    project.commit_all("hello")
    _leave_ignored_outputs(project)
    seen = len(remote.requests())
    result = project.invoke(*arguments, env={**_remote_env(remote), **env})
    assert result.returncode == 0, result.stdout + result.stderr
    targets = [request.get("target") or "" for request in remote.requests()[seen:] if is_write(request)]
    _assert_none_ignored([target for target in targets if target.startswith("/Projects/forecasting/") and "/libraries/" not in target])
    assert any(target.endswith("/Hello.py") or target.endswith("/Hello") for target in targets), targets


def test_outside_a_git_work_tree_the_gitignore_files_are_honoured(project):
    """An exported copy (no .git): the project's .gitignore is read with pathspec's git rules."""
    project.write_notebook("Hello", HELLO)
    project.commit_all("hello")
    _leave_ignored_outputs(project)
    for path in sorted((project.root / ".git").rglob("*"), reverse=True):
        path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()
    (project.root / ".git").rmdir()
    result = project.invoke("checkout", "BI-1")
    assert result.returncode == 0, result.stdout + result.stderr
    paths = _workspace_paths(project, "/Projects/forecasting/BI-1")
    _assert_none_ignored(paths)
    assert "Hello" in paths
