"""The tasks with BRICKTASKS_BACKEND=databricks, against the emulator over real HTTP.

The same sequence runs on the local backend in the same working copy; the workspace the real
databricks-sdk sees through the emulator must be what the local backend holds.
"""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from bricktasks.backends.local import LocalBackend
from bricktasks.emulator.testing import EmulatorProcess, client_environment, workspace_client

from e2e_helpers import SMOKE

TOKEN = "dapi-e2e-emulator-token-0123456789"
ROOT = "/Projects/forecasting"
CI_ENV = {"BRICKTASKS_BUILD_ID": "7", "BRICKTASKS_BRANCH": "BI-5613", "BRICKTASKS_CI_NOTEBOOKS": "Smoke"}
# a branch build's version carries its time; the manifests carry times and run ids
STAMP = re.compile(rb"\+b\d{8}t\d{6}")
VOLATILE = (".bricktasks-sync.json", ".bricktasks-build.json")


def _tasks(project, env: dict[str, str]) -> None:
    steps = [
        (["checkout", "BI-5613"], {}),
        (["switch-env", "ci", "--branch", "BI-5613"], {}),
        (["upload-lib", "--branch", "BI-5613"], {}),
        (["ci"], CI_ENV),
        (["clean-ci", "--older-than", "0d"], {}),
    ]
    for args, extra in steps:
        result = project.invoke(*args, env={**env, **extra})
        assert result.returncode == 0, f"invoke {' '.join(args)}:\n{result.stdout}{result.stderr}"
        assert TOKEN not in result.stdout + result.stderr


def _sdk_tree(client, path: str = ROOT) -> dict[str, bytes]:
    """Every notebook and file below `path`, as the SDK lists and exports it."""
    from databricks.sdk.service.workspace import ExportFormat, ObjectType

    tree: dict[str, bytes] = {}
    for info in client.workspace.list(path):
        if info.object_type == ObjectType.DIRECTORY:
            tree.update(_sdk_tree(client, info.path))
        else:
            with client.workspace.download(info.path, format=ExportFormat.SOURCE) as stream:
                tree[info.path] = stream.read()
    return tree


def _local_tree(backend: LocalBackend, path: str = ROOT) -> dict[str, bytes]:
    tree: dict[str, bytes] = {}
    for info in backend.list(path):
        if info.object_type.value == "DIRECTORY":
            tree.update(_local_tree(backend, info.path))
        else:
            tree[info.path] = backend.export(info.path)
    return tree


def _comparable(tree: dict[str, bytes]) -> dict[bytes, bytes]:
    """Paths and contents with the build stamps masked; manifests by name only; a wheel (two
    builds differ in their zip timestamps) by the files it holds."""

    def content(path: str, data: bytes) -> bytes:
        if path.endswith(VOLATILE):
            return b""
        if path.endswith(".whl"):
            return "\n".join(sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())).encode()
        return data

    return {STAMP.sub(b"+bSTAMP", path.encode()): STAMP.sub(b"+bSTAMP", content(path, data)) for path, data in tree.items()}


@pytest.fixture
def emulator(tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=TOKEN) as running:
        yield running


def test_the_tasks_over_the_emulator_leave_what_the_local_backend_holds(project, emulator):
    project.write_notebook("Smoke", SMOKE)
    project.commit_all()

    _tasks(project, client_environment(emulator.url, TOKEN))
    remote = _sdk_tree(workspace_client(emulator.url, TOKEN))
    assert f"{ROOT}/BI-5613/ModelTraining" in remote
    assert remote[f"{ROOT}/BI-5613/set_environment"].endswith(b"%run ./conf/ci_config\n")
    [wheel] = [path for path in remote if path.startswith(f"{ROOT}/libraries/BI-5613/") and path.endswith(".whl")]
    assert wheel.encode() in remote[f"{ROOT}/BI-5613/install_libraries"]
    assert not [path for path in remote if path.startswith((f"{ROOT}/CI/", f"{ROOT}/libraries/CI/"))]  # cleaned

    mutating = [r for r in emulator.requests() if r.get("method") == "POST" and "/get" not in r.get("path", "")]
    assert any("/jobs/runs/submit" in r["path"] for r in mutating), "ci submitted its run through the emulator"

    _tasks(project, {})  # the same tasks on the local backend, in the same working copy
    local = _local_tree(LocalBackend(project.local_root))
    assert _comparable(remote) == _comparable(local)


def test_a_wrong_token_is_refused_in_one_line_and_changes_nothing(project, emulator):
    result = project.invoke("checkout", "BI-5613", env=client_environment(emulator.url, "dapi-wrong-token"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and "DATABRICKS_TOKEN" in lines[0], result.stderr
    assert "dapi-wrong-token" not in result.stdout + result.stderr
    assert not [r for r in emulator.requests() if r.get("method") == "POST"]
    assert _sdk_tree(workspace_client(emulator.url, TOKEN), "/") == {}
