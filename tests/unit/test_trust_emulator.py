"""Trust in the emulator (issue 11, items 5 and 14): it never serves unauthenticated writes by
accident, its token never reaches a run's notebook, its error answers never show its disk paths,
and malformed requests (NUL bytes, bad Content-Length, oversized or racing imports) get a 400 and
leave one consistent object.

Real HTTP throughout: raw sockets where a client library would refuse to send the request,
http.client/requests otherwise, and databricks-sdk where a client call fits.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

import bricktasks.backends.local as local_module
from bricktasks.emulator.__main__ import TOKEN_ENV
from bricktasks.testing.emulator import EmulatorProcess, start_emulator, workspace_client

REPO = Path(__file__).resolve().parents[2]
TOKEN = "emulator-trust-token-" + "7" * 12
HEADER = "# Databricks notebook source\n"
MAX_IMPORT = 10 * 1024 * 1024


def _env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != TOKEN_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _raw(url: str, request: bytes, timeout: float = 10.0) -> tuple[int | None, bytes]:
    """Send bytes as they are (clients refuse NULs and bad lengths) and read the whole answer."""
    host, port = url.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            data = connection.recv(65536)
            if not data:
                break
            answer += data
    if not answer:
        return None, b""
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in answer else b""


def _import(url: str, path: str, content: bytes, format: str, **fields: object) -> requests.Response:
    body = {"path": path, "content": base64.b64encode(content).decode(), "format": format, **fields}
    return requests.post(f"{url}/api/2.0/workspace/import", json=body, headers=_auth(), timeout=60)


@pytest.fixture
def emulator(tmp_path: Path):
    with start_emulator(tmp_path / "root", token=TOKEN, request_log=tmp_path / "emulator.requests.jsonl") as handle:
        requests.post(f"{handle.url}/api/2.0/workspace/mkdirs", json={"path": "/Projects/p"}, headers=_auth(), timeout=10)
        handle.backend.mkdirs_files("/Volumes/c/s/v")  # the volume the Files API cases write in, as if created
        yield handle


# -- item 5: no accidental open emulator -----------------------------------------------------------
def test_the_cli_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bricktasks.emulator", "--root", str(tmp_path / "root"), "--port", "0"],
        capture_output=True, text=True, env=_env(), timeout=20,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert "--token" in line and TOKEN_ENV in line and "--no-auth" in line
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "root").exists()  # nothing created


def test_an_empty_token_is_no_token(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bricktasks.emulator", "--root", str(tmp_path / "root")],
        capture_output=True, text=True, env=_env(**{TOKEN_ENV: "  "}), timeout=20,
    )
    assert done.returncode == 2 and "--no-auth" in done.stderr


def test_the_token_from_the_environment_is_required(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "root", token=TOKEN) as running:
        url = f"{running.url}/api/2.0/workspace/mkdirs"
        assert requests.post(url, json={"path": "/Projects/a"}, timeout=10).status_code == 401
        assert requests.post(url, json={"path": "/Projects/a"}, headers=_auth("wrong"), timeout=10).status_code == 401
        assert requests.post(url, json={"path": "/Projects/a"}, headers=_auth(), timeout=10).status_code == 200
    assert (tmp_path / "root" / "workspace" / "Projects" / "a").is_dir()  # the third one made it
    writes = [entry for entry in running.requests() if entry["path"].endswith("/mkdirs")]
    assert [entry["status"] for entry in writes] == [401, 401, 200]


def test_no_auth_is_explicit_and_accepts_any_request(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "root", no_auth=True) as running:
        assert "--no-auth" in running.command
        answer = requests.post(f"{running.url}/api/2.0/workspace/mkdirs", json={"path": "/Projects/open"}, timeout=10)
        assert answer.status_code == 200
    assert (tmp_path / "root" / "workspace" / "Projects" / "open").is_dir()


def test_a_token_and_no_auth_together_are_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bricktasks.emulator", "--root", str(tmp_path / "root"), "--no-auth"],
        capture_output=True, text=True, env=_env(**{TOKEN_ENV: TOKEN}), timeout=20,
    )
    assert done.returncode == 2 and TOKEN not in done.stderr + done.stdout


ENVIRONMENT_DUMP = HEADER + """import os

for name, value in sorted(os.environ.items()):
    print(f"{name}={value}")
dbutils.notebook.exit(str(len(os.environ)))
"""


def test_the_emulators_token_never_reaches_a_run(tmp_path: Path) -> None:
    """A notebook run through the emulator prints its whole environment: the token is not in it,
    nor in the run's logs, its output over the API, or the supervisor's and worker's environment."""
    root = tmp_path / "root"
    with EmulatorProcess(root, token=TOKEN) as running:
        client = workspace_client(running.url, TOKEN)
        from databricks.sdk.service import jobs, workspace

        client.workspace.mkdirs("/Projects/p")
        client.workspace.upload("/Projects/p/Dump", ENVIRONMENT_DUMP.encode(), format=workspace.ImportFormat.SOURCE,
                                language=workspace.Language.PYTHON)
        run = client.jobs.submit(
            run_name="dump", tasks=[jobs.SubmitTask(task_key="dump", notebook_task=jobs.NotebookTask(notebook_path="/Projects/p/Dump"))]
        ).result()
        assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
        output = client.jobs.get_run_output(run.tasks[0].run_id)
        assert int(output.notebook_output.result) > 3  # the environment was really printed
        logs = output.logs or ""
    stdout = "".join(path.read_text(errors="replace") for path in root.glob("runs/*/stdout.txt"))
    assert "PATH=" in stdout  # the dump ran
    assert TOKEN not in stdout and TOKEN not in logs
    # the logs over the API show where the run's Volumes are as a cluster would, not the emulator's disk
    assert "BRICKTASKS_VOLUMES_DIR=/Volumes" in logs and str(root.resolve()) not in logs
    leaked = [str(path) for path in root.rglob("*") if path.is_file() and TOKEN.encode() in path.read_bytes()]
    assert leaked == []


# -- item 5: error answers never show disk paths -------------------------------------------------
def _disk_path_answers(url: str) -> list[tuple[str, int, str]]:
    """Requests that make the local backend fail on the disk, and what each answered."""
    cases: list[tuple[str, Callable[[], requests.Response]]] = [
        ("a name too long for the disk", lambda: _import(url, "/Projects/p/" + "n" * 300, b"x", "RAW")),
        ("a folder name too long", lambda: requests.post(
            f"{url}/api/2.0/workspace/mkdirs", json={"path": "/Projects/p/" + "d" * 300}, headers=_auth(), timeout=10)),
        ("a DBFS file below a DBFS file", lambda: requests.post(
            f"{url}/api/2.0/dbfs/put", json={"path": "/f/g", "contents": "eA=="}, headers=_auth(), timeout=10)),
        ("a Volume file name too long", lambda: requests.put(
            f"{url}/api/2.0/fs/files/Volumes/c/s/v/{'v' * 300}", data=b"x", headers=_auth(), timeout=10)),
        ("a missing notebook", lambda: requests.get(
            f"{url}/api/2.0/workspace/get-status", params={"path": "/Projects/p/missing"}, headers=_auth(), timeout=10)),
        ("a missing DBFS file", lambda: requests.get(
            f"{url}/api/2.0/dbfs/read", params={"path": "/nothing/here"}, headers=_auth(), timeout=10)),
    ]
    requests.post(f"{url}/api/2.0/dbfs/put", json={"path": "/f", "contents": "eA=="}, headers=_auth(), timeout=10)
    answers = []
    for name, send in cases:
        answer = send()
        answers.append((name, answer.status_code, answer.text))
    return answers


def test_error_answers_never_show_the_emulators_disk_paths(emulator) -> None:
    root = str(emulator.root)
    answers = _disk_path_answers(emulator.url)
    for name, status, text in answers:
        assert status >= 400, (name, status)
        assert root not in text and os.path.dirname(root) not in text, (name, text)
        assert json.loads(text)["error_code"], name
    statuses = {name: status for name, status, _ in answers}
    # what the disk could not do is the client's fault, not a server failure
    assert statuses["a name too long for the disk"] == 400
    assert statuses["a DBFS file below a DBFS file"] == 400
    assert statuses["a missing notebook"] == 404


# -- item 14: NUL bytes ---------------------------------------------------------------------------
def _request(method: str, target: bytes, body: bytes = b"", *, headers: bytes = b"") -> bytes:
    length = b"Content-Length: %d\r\n" % len(body) if body or method == "POST" else b""
    return (
        method.encode() + b" " + target + b" HTTP/1.1\r\nHost: emulator\r\nConnection: close\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode() + length + headers + b"\r\n" + body
    )


NUL_REQUESTS = {
    "raw NUL in a query": _request("GET", b"/api/2.0/workspace/get-status?path=/Projects/p/a\x00b"),
    "%00 in a query": _request("GET", b"/api/2.0/workspace/get-status?path=/Projects/p/a%00b"),
    "%00 in a list query": _request("GET", b"/api/2.0/workspace/list?path=/Projects/p%00"),
    "%00 in a DBFS query": _request("GET", b"/api/2.0/dbfs/get-status?path=/a%00"),
    "%00 in a Files API path": _request("GET", b"/api/2.0/fs/files/Volumes/c/s/v/a%00b"),
    "raw NUL in a Files API path": _request("PUT", b"/api/2.0/fs/directories/Volumes/c/s/v/a\x00b"),
    "NUL in a JSON mkdirs": _request("POST", b"/api/2.0/workspace/mkdirs", json.dumps({"path": "/Projects/p/a\u0000b"}).encode()),
    "NUL in a JSON import": _request("POST", b"/api/2.0/workspace/import", json.dumps(
        {"path": "/Projects/p/n\u0000b", "content": "eA==", "format": "RAW"}).encode()),
    "NUL in a JSON delete": _request("POST", b"/api/2.0/workspace/delete", json.dumps({"path": "/Projects/p\u0000"}).encode()),
    "NUL in a DBFS put": _request("POST", b"/api/2.0/dbfs/put", json.dumps({"path": "/x\u0000y", "contents": "eA=="}).encode()),
    "NUL in a notebook path to run": _request("POST", b"/api/2.1/jobs/runs/submit", json.dumps(
        {"run_name": "n", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Projects/p/a\u0000"}}]}).encode()),
}


@pytest.mark.parametrize("case", sorted(NUL_REQUESTS))
def test_a_nul_byte_in_a_path_answers_400(emulator, case: str) -> None:
    status, body = _raw(emulator.url, NUL_REQUESTS[case])
    assert status == 400, (case, status, body)
    assert json.loads(body)["error_code"] in ("INVALID_PARAMETER_VALUE", "MALFORMED_REQUEST")
    assert b"Traceback" not in body and str(emulator.root).encode() not in body
    assert sorted(path.name for path in (emulator.root / "workspace" / "Projects" / "p").iterdir()) == []


def test_the_sdk_gets_a_bad_request_for_a_nul_in_an_uploaded_path(emulator) -> None:
    from databricks.sdk.errors import BadRequest, DatabricksError
    from databricks.sdk.service.workspace import ImportFormat

    client = workspace_client(emulator.url, TOKEN)
    # a multipart form; the SDK re-raises an upload's 400 as a plain DatabricksError with a hint
    with pytest.raises(DatabricksError, match="NUL byte"):
        client.workspace.upload("/Projects/p/a\x00b.txt", b"x", format=ImportFormat.AUTO)
    with pytest.raises(BadRequest, match="NUL byte"):
        client.workspace.get_status("/Projects/p/a\x00b")
    assert _object_files(emulator) == []


# -- item 14: Content-Length ----------------------------------------------------------------------
BODY = json.dumps({"path": "/Projects/p/made"}).encode()
LENGTHS = {"negative": b"-5", "negative zero-padded": b"-0005", "not a number": b"abc", "a float": b"3.5",
           "with an underscore": b"1_0", "hex": b"0x10", "two values that differ": b"5, 9"}


@pytest.mark.parametrize("case", sorted(LENGTHS))
def test_a_malformed_content_length_answers_400_and_changes_nothing(emulator, case: str) -> None:
    request = (
        b"POST /api/2.0/workspace/mkdirs HTTP/1.1\r\nHost: emulator\r\n" + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Length: " + LENGTHS[case] + b"\r\n\r\n" + BODY
    )
    started = time.monotonic()
    status, body = _raw(emulator.url, request)
    assert status == 400, (case, status, body)
    assert json.loads(body)["error_code"] == "MALFORMED_REQUEST"
    assert time.monotonic() - started < 9  # answered, not left waiting for a body that never comes
    assert not (emulator.root / "workspace" / "Projects" / "p" / "made").exists()
    assert emulator.requests[-1]["status"] == 400


@pytest.mark.parametrize("size", [b"zz", b"-5", b"+5"])
def test_a_malformed_chunk_size_answers_400_and_changes_nothing(emulator, size: bytes) -> None:
    request = (
        b"POST /api/2.0/workspace/mkdirs HTTP/1.1\r\nHost: emulator\r\n" + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\n" + BODY + b"\r\n0\r\n\r\n"
    )
    status, body = _raw(emulator.url, request)
    assert status == 400, (size, status, body)
    assert json.loads(body)["error_code"] == "MALFORMED_REQUEST"
    assert not (emulator.root / "workspace" / "Projects" / "p" / "made").exists()


def test_a_good_content_length_still_works_on_the_same_socket_format(emulator) -> None:
    status, body = _raw(emulator.url, _request("POST", b"/api/2.0/workspace/mkdirs", BODY))
    assert (status, json.loads(body)) == (200, {})
    assert (emulator.root / "workspace" / "Projects" / "p" / "made").is_dir()


# -- item 14: the 10 MB import limit applies to files too ------------------------------------------
@pytest.mark.parametrize("format", ["AUTO", "RAW"])
def test_a_file_over_10_mb_is_refused_like_a_notebook(emulator, format: str) -> None:
    answer = _import(emulator.url, "/Projects/p/big.bin", b"\0" * (MAX_IMPORT + 1), format)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "MAX_NOTEBOOK_SIZE_EXCEEDED"
    assert "10485760" in answer.json()["message"]
    assert not (emulator.root / "workspace" / "Projects" / "p" / "big.bin").exists()
    exactly = _import(emulator.url, "/Projects/p/edge.bin", b"\1" * MAX_IMPORT, format)
    assert exactly.status_code == 200, exactly.text
    assert (emulator.root / "workspace" / "Projects" / "p" / "edge.bin").stat().st_size == MAX_IMPORT


def test_the_sdk_sees_the_limit_as_a_bad_request(emulator) -> None:
    from databricks.sdk.errors import BadRequest
    from databricks.sdk.service.workspace import ImportFormat

    client = workspace_client(emulator.url, TOKEN)
    with pytest.raises(BadRequest, match="exceeded max size"):
        client.workspace.upload("/Projects/p/big.txt", b"x" * (MAX_IMPORT + 1), format=ImportFormat.AUTO)


# -- item 14: a FILE and a NOTEBOOK imported at once to one path ----------------------------------
def _object_files(emulator) -> list[str]:
    return sorted(path.name for path in (emulator.root / "workspace" / "Projects" / "p").iterdir())


@pytest.fixture
def writes_meet(monkeypatch):
    """Make two imports reach the disk write together if nothing keeps them apart: each write waits
    (up to a bound) until the other import has reached its write too. With a per-path lock the second
    import cannot get there while the first holds the path, so the first waits out the bound alone."""
    arrived = threading.Barrier(2)
    real_write = local_module._atomic_write

    def meeting_write(target: Path, content: bytes) -> None:
        try:
            arrived.wait(timeout=1.5)
        except threading.BrokenBarrierError:
            pass
        real_write(target, content)

    monkeypatch.setattr(local_module, "_atomic_write", meeting_write)
    return arrived


def _race(emulator, overwrite: bool) -> list[requests.Response]:
    imports = [
        lambda: _import(emulator.url, "/Projects/p/utils", b"plain bytes\n", "RAW", overwrite=overwrite),
        lambda: _import(emulator.url, "/Projects/p/utils", b"print('notebook')\n", "SOURCE", language="PYTHON", overwrite=overwrite),
    ]
    answers: list[requests.Response] = [None, None]  # type: ignore[list-item]

    def send(index: int) -> None:
        answers[index] = imports[index]()

    threads = [threading.Thread(target=send, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


@pytest.mark.parametrize("overwrite", [True, False], ids=["overwrite", "no-overwrite"])
def test_a_file_and_a_notebook_imported_at_once_leave_one_object(emulator, writes_meet, overwrite: bool) -> None:
    answers = _race(emulator, overwrite)
    statuses = sorted(answer.status_code for answer in answers)
    # as Databricks: even with overwrite, an import never replaces an object of the other type, so
    # the second of the two is refused either way (RESOURCE_ALREADY_EXISTS)
    assert statuses == [200, 400], [answer.text for answer in answers]
    assert "RESOURCE_ALREADY_EXISTS" in next(answer.text for answer in answers if answer.status_code == 400)
    assert len(_object_files(emulator)) == 1, _object_files(emulator)
    listed = requests.get(f"{emulator.url}/api/2.0/workspace/list", params={"path": "/Projects/p"}, headers=_auth(), timeout=10)
    assert [entry["path"] for entry in listed.json()["objects"]] == ["/Projects/p/utils"]


def test_racing_imports_of_one_path_over_many_rounds_always_leave_one_object(emulator) -> None:
    """Without the hook: real threads, real requests, 30 rounds of a FILE, two NOTEBOOKs and a folder."""
    for round_ in range(30):
        path = f"/Projects/p/r{round_}"
        sends = [
            lambda path=path: _import(emulator.url, path, b"bytes", "RAW", overwrite=True),
            lambda path=path: _import(emulator.url, path, b"x = 1\n", "SOURCE", language="PYTHON", overwrite=True),
            lambda path=path: _import(emulator.url, path + ".py", (HEADER + "y = 2\n").encode(), "AUTO", overwrite=True),
            lambda path=path: requests.post(
                f"{emulator.url}/api/2.0/workspace/mkdirs", json={"path": path}, headers=_auth(), timeout=60
            ),
        ]
        threads = [threading.Thread(target=send) for send in sends]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        names = [name for name in _object_files(emulator) if name in (f"r{round_}", f"r{round_}.py")]
        assert len(names) == 1, (round_, names)
