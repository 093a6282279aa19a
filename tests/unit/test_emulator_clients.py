"""Real clients agree with the emulator: databricks-sdk and plain HTTP, on the wire formats of databricks-api.md."""
from __future__ import annotations

import base64
import http.client
import io
import os
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from databricks.sdk.errors import NotFound as SdkNotFound
from databricks.sdk.errors import ResourceAlreadyExists
from databricks.sdk.service import jobs
from databricks.sdk.service.workspace import ImportFormat, Language, ObjectType

from bricktasks.backends.base import ExistingCluster, NewCluster, Serverless
from bricktasks.backends.local import LocalBackend
from bricktasks.emulator.jobs_api import spec_from_body
from bricktasks.testing.emulator import raw_api, start_emulator, workspace_client

HEADER = b"# Databricks notebook source\n"
TOKEN = "client-token"


@pytest.fixture
def emulator(tmp_path):
    with start_emulator(tmp_path / "root", token=TOKEN) as handle:
        for volume in ("/Volumes/c/s/v", "/Volumes/main/default/v"):  # the volumes these tests use, as if created
            handle.backend.mkdirs_files(volume)
        yield handle


@pytest.fixture
def w(emulator):
    return workspace_client(emulator.url, TOKEN)


@pytest.fixture
def api(emulator):
    with raw_api(emulator.url, TOKEN) as call:
        yield call


# -- workspace ------------------------------------------------------------------------
def test_sdk_upload_list_export_and_download(w, emulator):
    w.workspace.mkdirs("/Projects/p")
    w.workspace.upload("/Projects/p/train.py", io.BytesIO(HEADER + b"print(1)\n"), format=ImportFormat.AUTO)
    w.workspace.upload("/Projects/p/conf.yml", b"a: 1\n", format=ImportFormat.AUTO)
    w.workspace.upload("/Projects/p/src.py", b"x = 1\n", language=Language.PYTHON)  # SOURCE keeps the name
    listed = {o.path: o.object_type for o in w.workspace.list("/Projects/p")}
    assert listed == {
        "/Projects/p/train": ObjectType.NOTEBOOK,
        "/Projects/p/conf.yml": ObjectType.FILE,
        "/Projects/p/src.py": ObjectType.NOTEBOOK,
    }
    assert all(o.object_id for o in w.workspace.list("/Projects/p"))
    assert base64.b64decode(w.workspace.export("/Projects/p/conf.yml").content) == b"a: 1\n"
    assert w.workspace.download("/Projects/p/train").read() == HEADER + b"print(1)\n"
    with pytest.raises(ResourceAlreadyExists):
        w.workspace.upload("/Projects/p/conf.yml", b"again", format=ImportFormat.AUTO)
    assert emulator.backend.export("/Projects/p/conf.yml") == b"a: 1\n"


def test_json_import_and_an_empty_listing_without_objects_key(api, emulator):
    assert api("POST", "/api/2.0/workspace/mkdirs", json={"path": "/Projects/empty"}).json() == {}
    assert api("GET", "/api/2.0/workspace/list", params={"path": "/Projects/empty"}).json() == {}
    content = base64.b64encode(b"print(2)\n").decode()
    body = {"path": "/Projects/empty/nb", "content": content, "format": "SOURCE", "language": "PYTHON", "overwrite": True}
    assert api("POST", "/api/2.0/workspace/import", json=body, headers={"Content-Type": "text/json"}).status_code == 200
    status = api("GET", "/api/2.0/workspace/get-status", params={"path": "/Projects/empty/nb"}).json()
    assert status["object_type"] == "NOTEBOOK" and status["language"] == "PYTHON" and status["object_id"]
    raw = api("GET", "/api/2.0/workspace/export", params={"path": "/Projects/empty/nb", "direct_download": "true"})
    assert raw.headers["Content-Type"] == "application/octet-stream" and raw.content == HEADER + b"print(2)\n"


@pytest.mark.parametrize("method, path, params, status, code", [
    ("GET", "/api/2.0/workspace/get-status", {"path": "/nope"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "/api/2.0/workspace/export", {"path": "/nope"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "/api/2.0/dbfs/get-status", {"path": "/nope"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "/api/2.2/jobs/runs/get", {"run_id": "424242"}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "/api/2.0/instance-pools/list", {}, 404, "ENDPOINT_NOT_FOUND"),
    ("GET", "/api/2.0/fs/files/Volumes/c/s/v/nope", {}, 404, "RESOURCE_DOES_NOT_EXIST"),
])
def test_error_bodies_carry_databricks_codes(api, method, path, params, status, code):
    answer = api(method, path, params=params)
    assert answer.status_code == status
    body = answer.json()
    assert body["error_code"] == code and body["message"]
    if path.endswith("runs/get"):
        assert body["message"] == "Run 424242 does not exist."


def test_non_empty_deletes_answer_each_apis_code(api, emulator):
    emulator.backend.mkdirs("/Projects/full/inner")
    assert api("POST", "/api/2.0/workspace/delete", json={"path": "/Projects/full"}).json()["error_code"] == "DIRECTORY_NOT_EMPTY"
    api("POST", "/api/2.0/dbfs/mkdirs", json={"path": "dbfs:/full/inner"})
    assert api("POST", "/api/2.0/dbfs/delete", json={"path": "/full"}).json()["error_code"] == "IO_ERROR"
    api("PUT", "/api/2.0/fs/directories/Volumes/c/s/v/full/inner")
    answer = api("DELETE", "/api/2.0/fs/directories/Volumes/c/s/v/full")
    assert (answer.status_code, answer.json()["error_code"]) == (400, "FILES_API_DIRECTORY_IS_NOT_EMPTY")


# -- DBFS ---------------------------------------------------------------------------------
def test_sdk_dbfs_upload_and_download_of_several_blocks(w, emulator):
    content = os.urandom(2 * 1024 * 1024 + 7)
    w.dbfs.upload("dbfs:/libs/big.whl", io.BytesIO(content), overwrite=True)
    assert w.dbfs.download("dbfs:/libs/big.whl").read() == content
    assert emulator.backend.read_file("dbfs:/libs/big.whl") == content
    assert [f.path for f in w.dbfs.list("dbfs:/libs")] == ["/libs/big.whl"]


def test_dbfs_put_json_and_legacy_multipart(api, emulator):
    body = {"path": "dbfs:/put/a.txt", "contents": base64.b64encode(b"json").decode(), "overwrite": False}
    assert api("POST", "/api/2.0/dbfs/put", json=body).status_code == 200
    assert api("POST", "/api/2.0/dbfs/put", json=body).json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    form = {"path": "/put/a.txt", "overwrite": "True"}  # what databricks-cli 0.18 sends
    answer = api("POST", "/api/2.0/dbfs/put", data=form, files={"file": ("a.txt", b"multi\r\npart\x00")})
    assert answer.status_code == 200
    assert emulator.backend.read_file("dbfs:/put/a.txt") == b"multi\r\npart\x00"
    read = api("GET", "/api/2.0/dbfs/read", params={"path": "/put/a.txt", "offset": 6, "length": 100}).json()
    assert base64.b64decode(read["data"]) == b"\npart\x00" and read["bytes_read"] == 6


def test_dbfs_handles_publish_only_on_close(api, emulator):
    handle = api("POST", "/api/2.0/dbfs/create", json={"path": "/stream/f.bin"}).json()["handle"]
    block = base64.b64encode(b"x" * 1024).decode()
    assert api("POST", "/api/2.0/dbfs/add-block", json={"handle": handle, "data": block}).status_code == 200
    assert api("GET", "/api/2.0/dbfs/get-status", params={"path": "/stream/f.bin"}).status_code == 404  # never half-written
    too_big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    too_big_block = api("POST", "/api/2.0/dbfs/add-block", json={"handle": handle, "data": too_big})
    assert too_big_block.json()["error_code"] == "MAX_BLOCK_SIZE_EXCEEDED"
    assert api("POST", "/api/2.0/dbfs/close", json={"handle": handle}).status_code == 200
    assert emulator.backend.file_status("dbfs:/stream/f.bin").size == 1024
    assert api("POST", "/api/2.0/dbfs/close", json={"handle": handle}).json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_dbfs_move_and_its_refusals(api, emulator):
    emulator.backend.mkdirs_files("dbfs:/m")
    for name in ("a", "b"):
        api("POST", "/api/2.0/dbfs/put", json={"path": f"/m/{name}", "contents": ""})
    onto_a_file = api("POST", "/api/2.0/dbfs/move", json={"source_path": "/m/a", "destination_path": "/m/b"})
    assert onto_a_file.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert api("POST", "/api/2.0/dbfs/move", json={"source_path": "/m/x", "destination_path": "/m/y"}).status_code == 404
    assert api("POST", "/api/2.0/dbfs/move", json={"source_path": "dbfs:/m/a", "destination_path": "/m/c"}).status_code == 200
    assert [f["path"] for f in api("GET", "/api/2.0/dbfs/list", params={"path": "/m"}).json()["files"]] == ["/m/b", "/m/c"]


# -- Files API ------------------------------------------------------------------------------
def test_sdk_files_upload_download_and_listing(w, emulator):
    content = os.urandom(3 * 1024 * 1024)
    w.files.upload("/Volumes/main/default/v/dir/data.bin", io.BytesIO(content), overwrite=True)
    assert w.files.download("/Volumes/main/default/v/dir/data.bin").contents.read() == content
    assert emulator.backend.read_file("/Volumes/main/default/v/dir/data.bin") == content
    meta = w.files.get_metadata("/Volumes/main/default/v/dir/data.bin")
    assert meta.content_length == len(content)
    entries = list(w.files.list_directory_contents("/Volumes/main/default/v"))
    assert [(e.path, e.is_directory) for e in entries] == [("/Volumes/main/default/v/dir", True)]
    with pytest.raises(SdkNotFound):
        w.files.get_metadata("/Volumes/main/default/v/missing")


def test_files_put_overwrite_range_and_paging(api, emulator):
    url = "/api/2.0/fs/files/Volumes/c/s/v/f.txt"
    assert api("PUT", url, data=b"0123456789", params={"overwrite": "false"}).status_code == 204
    answer = api("PUT", url, data=b"again", params={"overwrite": "false"})
    assert answer.status_code == 409 and answer.json()["error_code"] == "ALREADY_EXISTS"
    ranged = api("GET", url, headers={"Range": "bytes=2-5"})
    assert (ranged.status_code, ranged.content, ranged.headers["Content-Range"]) == (206, b"2345", "bytes 2-5/10")
    assert api("GET", url, headers={"Range": "bytes=-3"}).content == b"789"
    assert api("HEAD", url).headers["Content-Length"] == "10"
    chunked = api("PUT", "/api/2.0/fs/files/Volumes/c/s/v/g.txt", data=iter([b"chunk", b"ed"]))  # Transfer-Encoding: chunked
    assert chunked.status_code == 204 and emulator.backend.read_file("/Volumes/c/s/v/g.txt") == b"chunked"
    first = api("GET", "/api/2.0/fs/directories/Volumes/c/s/v", params={"page_size": 1}).json()
    second = api("GET", "/api/2.0/fs/directories/Volumes/c/s/v", params={"page_size": 1, "page_token": first["next_page_token"]}).json()
    assert [e["name"] for e in first["contents"] + second["contents"]] == ["f.txt", "g.txt"]
    assert "next_page_token" not in second
    assert api("POST", "/api/2.0/fs/create-download-url", json={"path": "/Volumes/c/s/v/f.txt"}).status_code == 404


# -- jobs ---------------------------------------------------------------------------------
def test_sdk_submit_and_wait_for_the_result(w, emulator):
    emulator.backend.mkdirs("/Projects/jobs")
    emulator.backend.import_object("/Projects/jobs/nb.py", HEADER + b'dbutils.notebook.exit("done " + dbutils.widgets.get("x"))\n')
    task = jobs.SubmitTask(
        task_key="main",
        notebook_task=jobs.NotebookTask(notebook_path="/Projects/jobs/nb", base_parameters={"x": "42"}),
        new_cluster=None,
    )
    run = w.jobs.submit(run_name="sdk", tasks=[task]).result(timeout=timedelta(seconds=60))
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert w.jobs.get_run_output(run.tasks[0].run_id).notebook_output.result == "done 42"
    assert "<html" in w.jobs.export_run(run.run_id).views[0].content.lower()
    assert [r.run_id for r in w.jobs.list_runs()] == [run.run_id]


def test_old_single_task_shape_and_api_versions(api, emulator):
    emulator.backend.mkdirs("/Projects/old")
    emulator.backend.import_object("/Projects/old/nb.py", HEADER + b'dbutils.notebook.exit("old")\n')
    body = {
        "run_name": "legacy",
        "notebook_task": {"notebook_path": "/Projects/old/nb"},
        "new_cluster": {"num_workers": 1},
        "libraries": [{"pypi": {"package": "pytest"}}],
    }
    run_id = api("POST", "/api/2.0/jobs/runs/submit", json=body).json()["run_id"]
    deadline = time.monotonic() + 60
    while api("GET", "/api/2.1/jobs/runs/get", params={"run_id": run_id}).json()["state"]["life_cycle_state"] != "TERMINATED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api("GET", "/api/2.0/jobs/runs/get-output", params={"run_id": run_id}).json()["notebook_output"]["result"] == "old"
    for version in ("2.1", "2.2"):
        refused = api("GET", f"/api/{version}/jobs/runs/get-output", params={"run_id": run_id})
        assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert api("POST", "/api/2.1/jobs/runs/cancel", json={"run_id": run_id}).json() == {}  # finished: left as it is
    assert api("GET", "/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()["state"]["result_state"] == "SUCCESS"



def test_the_submitted_compute_is_read_back_as_one_value():
    """runs/submit's task fields become each task's Compute, in both shapes of the body."""
    task = {"task_key": "t", "notebook_task": {"notebook_path": "/P/nb"}}
    spark = {"spark_version": "15.4.x-scala2.12", "num_workers": 1}

    def compute(body):
        spec = spec_from_body(body)
        return spec.task_compute(spec.tasks[0])

    assert compute({"tasks": [{**task, "new_cluster": spark}]}) == NewCluster(spark)
    assert compute({"tasks": [{**task, "existing_cluster_id": "0101-abc"}]}) == ExistingCluster("0101-abc")
    assert compute({"notebook_task": {"notebook_path": "/P/nb"}, "existing_cluster_id": "x"}) == ExistingCluster("x")
    assert compute({"tasks": [task]}) == Serverless()


# -- one state, two doors --------------------------------------------------------------------
def test_what_the_local_backend_wrote_is_what_the_emulator_serves(tmp_path, w):
    root = tmp_path / "root"  # the emulator fixture serves this same root
    local = LocalBackend(root)
    local.mkdirs("/Shared/x")
    local.import_object("/Shared/x/nb.py", HEADER + b"1\n")
    source = tmp_path / "wheel.whl"
    source.write_bytes(b"PK\x03\x04wheel")
    local.upload_file("/Volumes/c/s/v/wheel.whl", source)
    assert {o.path for o in w.workspace.list("/Shared/x")} == {"/Shared/x/nb"}
    assert w.files.download("/Volumes/c/s/v/wheel.whl").contents.read() == b"PK\x03\x04wheel"
    w.dbfs.upload("dbfs:/from-sdk.txt", io.BytesIO(b"sdk"), overwrite=True)
    assert local.read_file("dbfs:/from-sdk.txt") == b"sdk"


def test_keep_alive_serves_several_requests_on_one_connection(emulator):
    parts = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    sockets = set()
    for path in ("/api/2.0/workspace/list?path=/", "/api/2.0/workspace/get-status?path=/nope", "/api/2.0/dbfs/list?path=/"):
        connection.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        answer = connection.getresponse()
        assert int(answer.headers["Content-Length"]) == len(answer.read())
        sockets.add(id(connection.sock))
    assert len(sockets) == 1  # errors too keep the connection open
    connection.close()


def test_absolute_urls_work_for_clients_that_use_the_emulator_as_a_proxy(emulator):
    # databricks-cli 0.18 drops the port: it is pointed here with HTTP_PROXY and sends absolute URLs
    session = requests.Session()
    session.trust_env = False  # NO_PROXY in the environment must not bypass the proxy
    answer = session.get(
        "http://127.0.0.1/api/2.0/workspace/get-status",
        params={"path": "/"},
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/json"},
        proxies={"http": emulator.url},
        timeout=10,
    )
    assert answer.json()["object_type"] == "DIRECTORY"
    assert emulator.requests[-1]["path"] == "/api/2.0/workspace/get-status"
