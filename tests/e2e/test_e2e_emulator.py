"""The tasks with BRICKTASKS_BACKEND=databricks, against the emulator over real HTTP.

The same sequence runs on the local backend in the same working copy; the workspace the real
databricks-sdk sees through the emulator must be what the local backend holds. Every test here ends
with conftest's checks: the .env token shows nowhere, and no write went outside the project's folders.
"""
from __future__ import annotations

import io
import os
import re
import signal
import time
import zipfile

import pytest
from e2e_helpers import HEADER, SENTINEL_TOKEN, SLOW, SMOKE, WORKSPACE_ROOT, is_write, terminate, wait_until

from bricktasks.backends.databricks_files import DBFS_BLOCK
from bricktasks.backends.local import LocalBackend
from bricktasks.errors import NotFound
from bricktasks.libraries.upload import newest_libraries
from bricktasks.testing.emulator import EmulatorProcess, client_environment, databricks_backend, workspace_client

TOKEN = SENTINEL_TOKEN  # the token in the project's .env: the emulator accepts it, and nothing may show it
ROOT = WORKSPACE_ROOT
CI_ENV = {"BRICKTASKS_BUILD_ID": "7", "BRICKTASKS_BRANCH": "BI-5613", "BRICKTASKS_CI_NOTEBOOKS": "Smoke"}
# a branch build's version carries its time; the manifests carry times and run ids
STAMP = re.compile(rb"\+b\d{8}t\d{6}")
VOLATILE = (".bricktasks-sync.json", ".bricktasks-build.json")


def _tasks(project, env: dict[str, str]) -> None:
    """checkout, switch-env, upload-lib, ci, clean-ci in turn; all must succeed."""
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


# A flaky, rate-limited workspace: random 503s and dropped connections, 429 beyond 5 requests/s.
FAULTY = {"fault_rate": 0.1, "seed": 7, "rate_limit": 5}


@pytest.mark.parametrize("conditions", [{}, FAULTY], ids=["clean", "faults-and-rate-limit"])
def test_the_tasks_over_the_emulator_leave_what_the_local_backend_holds(project, tmp_path, conditions):
    project.write_notebook("Smoke", SMOKE)
    project.commit_all()
    emulated = tmp_path / "emulated"
    with EmulatorProcess(emulated, token=TOKEN, **conditions) as emulator:
        # host and token come from .env, as a developer would keep them
        (project.root / ".env").write_text(f"DATABRICKS_HOST={emulator.url}\nDATABRICKS_TOKEN={TOKEN}\n")
        _tasks(project, {})
        remote = _sdk_tree(workspace_client(emulator.url, TOKEN))
        requests = emulator.requests()

    assert f"{ROOT}/BI-5613/ModelTraining" in remote
    assert remote[f"{ROOT}/BI-5613/set_environment"].endswith(b"%run ./conf/ci_config\n")
    [wheel] = [path for path in remote if path.startswith(f"{ROOT}/libraries/BI-5613/") and path.endswith(".whl")]
    assert wheel.encode() in remote[f"{ROOT}/BI-5613/install_libraries"]
    assert not [path for path in remote if path.startswith((f"{ROOT}/CI/", f"{ROOT}/libraries/CI/"))]  # cleaned
    assert not [path for path in remote if ".tmp" in path.rsplit("/", 1)[1]], "no temporary upload is left behind"

    # one run only, even when a submit was retried (idempotency token), and it went through the emulator
    assert len([r for r in requests if r["path"].endswith("/jobs/runs/submit") and r["status"] == 200]) >= 1
    assert len(list(LocalBackend(emulated).list_runs())) == 1
    if conditions:
        faults, limited = sum(1 for r in requests if r.get("fault")), sum(1 for r in requests if r["status"] == 429)
        print(f"{len(requests)} requests: {faults} faults injected, {limited} answered 429")  # docs/reliability.md's figures (pytest -s)
        assert faults and limited, "faults were injected"

    # conftest's confinement check (nothing written outside the project's folders, nor into master/)
    # reads this request log; it has writes to check
    assert len([r for r in requests if is_write(r) and (r["status"] or 999) < 300]) > 20

    (project.root / ".env").unlink()
    _tasks(project, {"BRICKTASKS_BACKEND": "local"})  # the same tasks on the local backend, same working copy
    local = _local_tree(LocalBackend(project.local_root))
    assert _comparable(remote) == _comparable(local)


def test_a_wrong_token_is_refused_in_one_line_and_changes_nothing(project, emulator):
    # the emulator answers 401 with the real error body; the task says which setting to fix
    result = project.invoke("checkout", "BI-5613", env=client_environment(emulator.url, "dapi-wrong-token"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and "DATABRICKS_TOKEN" in lines[0], result.stderr
    assert "dapi-wrong-token" not in result.stdout + result.stderr
    assert not [r for r in emulator.requests() if r.get("method") == "POST"]
    assert _sdk_tree(workspace_client(emulator.url, TOKEN), "/") == {}


def test_the_wait_survives_an_emulator_restart_and_reports_the_true_result(project, tmp_path):
    project.write_notebook("Slow", SLOW)
    project.commit_all()
    emulated = tmp_path / "emulated"
    first = EmulatorProcess(emulated, token=TOKEN).start()
    port = int(first.url.rsplit(":", 1)[1])
    env = {**client_environment(first.url, TOKEN), **CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Slow"}
    process = project.start("ci", env=env)
    second = None
    try:
        runs = LocalBackend(emulated)
        wait_until(lambda: any(r.life_cycle_state == "RUNNING" for r in runs.list_runs()), timeout=120)
        first.stop()  # the workspace API goes away mid-wait; the run itself goes on
        time.sleep(3)
        second = EmulatorProcess(emulated, token=TOKEN, port=port).start()
        stdout, stderr = process.communicate(timeout=300)
    finally:
        terminate(process, signal.SIGKILL)
        first.stop()
        if second:
            second.stop()
    assert process.returncode == 0, stdout + stderr
    assert "Slow: SUCCESS; exit value: done" in stdout
    assert len(list(LocalBackend(emulated).list_runs())) == 1


def test_a_checkout_killed_halfway_converges_when_run_again(project, tmp_path):
    notebooks = project.root / "forecasting" / "many"
    for index in range(60):
        (notebooks / f"folder{index % 6}").mkdir(parents=True, exist_ok=True)
        (notebooks / f"folder{index % 6}" / f"nb{index}.py").write_text(f"{HEADER}print({index})\n")
    project.commit_all()
    # checkout imports 16 at a time: 300 ms a request leaves several rounds to kill it in
    with EmulatorProcess(tmp_path / "emulated", token=TOKEN, latency_ms=300) as emulator:
        env = client_environment(emulator.url, TOKEN)
        process = project.start("checkout", "BI-5613", env=env)
        try:
            def imports():
                return [r for r in emulator.requests() if r["path"].endswith("/workspace/import") and r["status"] == 200]

            wait_until(lambda: len(imports()) >= 10, timeout=60, interval=0.02)
            process.send_signal(signal.SIGKILL)  # no chance to clean up
            process.wait(timeout=30)
        finally:
            terminate(process, signal.SIGKILL)
        assert 10 <= len(imports()) < 68, "killed halfway"
        print(f"checkout killed after {len(imports())} of 68 imports")  # docs/reliability.md's figures (pytest -s)
        again = project.invoke("checkout", "BI-5613", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        remote = _sdk_tree(workspace_client(emulator.url, TOKEN), f"{ROOT}/BI-5613")
    for index in range(60):
        assert remote[f"{ROOT}/BI-5613/many/folder{index % 6}/nb{index}"] == f"{HEADER}print({index})\n".encode()
    assert remote[f"{ROOT}/BI-5613/set_environment"].endswith(b"%run ./conf/dev_config\n")


DBFS_LIBRARIES = "dbfs:/FileStore/forecasting/libraries"


def _add_ballast(project, size: int) -> None:
    """Random (incompressible) package data in the library, so its wheel takes several DBFS blocks."""
    library = project.root / "libs" / "regimecast"
    (library / "regimecast" / "ballast.bin").write_bytes(os.urandom(size))
    with open(library / "pyproject.toml", "a") as pyproject:
        pyproject.write('\n[tool.setuptools.package-data]\nregimecast = ["ballast.bin"]\n')
    project.commit_all()


def _dbfs_names(backend: LocalBackend, folder: str) -> list[str]:
    try:
        return sorted(info.path.rsplit("/", 1)[1] for info in backend.list_files(folder))
    except NotFound:
        return []


# add-block: killed while the blocks stream into the temporary name; close: killed once the
# temporary is complete, before it is moved under the final name
@pytest.mark.parametrize("kill_at", ["add-block", "close"])
def test_an_upload_lib_killed_halfway_never_shows_a_partial_library_and_converges(project, tmp_path, end_checks, kill_at):
    end_checks.library_roots.append(DBFS_LIBRARIES)
    _add_ballast(project, 3 * DBFS_BLOCK)
    folder = f"{DBFS_LIBRARIES}/CI/7-BI-5613"  # a CI build's wheel keeps its name from one build to the next
    arguments = ("upload-lib", "--branch", "BI-5613", "--build-id", "7")
    emulated = tmp_path / "emulated"
    stored = LocalBackend(emulated)  # what the emulator holds
    # each request waits 300 ms: the kill lands between two requests, well before the move
    with EmulatorProcess(emulated, token=TOKEN, latency_ms=300) as emulator:
        # the token stays in .env (the project fixture's); the host and library root come from the environment
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url, "BRICKTASKS_LIBRARY_ROOT": DBFS_LIBRARIES}
        process = project.start(*arguments, env=env)
        try:
            def dbfs_calls():
                return [r["path"].rsplit("/", 1)[1] for r in emulator.requests() if "/dbfs/" in r["path"]]

            wait_until(lambda: kill_at in dbfs_calls(), timeout=300, interval=0.02)
            process.send_signal(signal.SIGKILL)  # no chance to clean up
            process.wait(timeout=30)
        finally:
            terminate(process, signal.SIGKILL)
        assert "move" not in dbfs_calls(), "killed before the library was moved into place"
        [wheel] = (project.root / "dist").glob("*.whl")
        assert wheel.stat().st_size > 3 * DBFS_BLOCK, "the upload takes several blocks"
        blocks = -(-wheel.stat().st_size // DBFS_BLOCK)
        print(f"upload-lib killed at {kill_at} after {dbfs_calls().count('add-block')} of {blocks} blocks")  # docs/reliability.md's figures

        left = _dbfs_names(stored, folder)
        assert wheel.name not in left, "no library under its final name"
        stale = [name for name in left if name.startswith(f".{wheel.name}.") and name.endswith(".tmp")]
        assert left == stale, left
        if kill_at == "add-block":
            assert stale == []  # DBFS publishes a streamed file on close only
        else:
            # complete but under a hidden temporary name: nothing reads it as a library
            [temporary] = stale
            assert stored.read_file(f"{folder}/{temporary}") == wheel.read_bytes()

        again = project.invoke(*arguments, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        [rebuilt] = (project.root / "dist").glob("*.whl")
        assert rebuilt.name == wheel.name
        assert stored.read_file(f"{folder}/{wheel.name}") == rebuilt.read_bytes()
        # the re-run leaves no temporary of its own; a killed upload's stays (nobody can tell a dead
        # upload's temporary from a live one's), hidden, and install_libraries never names it
        assert _dbfs_names(stored, folder) == sorted([wheel.name, *stale])
        remote = databricks_backend(emulator.url, TOKEN)
        assert newest_libraries(remote, folder) == [f"{folder}/{wheel.name}"]
