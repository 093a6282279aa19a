"""The emulator's user (SCIM Me, Users), a new workspace's folders, DBFS and run details, and --tls."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import timedelta

import pytest
import requests
from databricks.sdk.errors import BadRequest
from databricks.sdk.errors import NotFound as SdkNotFound
from databricks.sdk.service import jobs
from databricks.sdk.service.workspace import ObjectType

from bricktasks.emulator.__main__ import parse_args
from bricktasks.emulator.identity import Identity
from bricktasks.emulator.routing import DEFAULT_CLUSTER_ID
from bricktasks.testing.emulator import LISTENING, raw_api, start_emulator, workspace_client

HEADER = b"# Databricks notebook source\n"
TOKEN = "identity-token"
USER = "jane.doe@example.com"
SCIM = "/api/2.0/preview/scim/v2"


@pytest.fixture
def emulator(tmp_path):
    with start_emulator(tmp_path / "root", token=TOKEN, user=USER) as handle:
        yield handle


@pytest.fixture
def w(emulator):
    return workspace_client(emulator.url, TOKEN)


@pytest.fixture
def api(emulator):
    with raw_api(emulator.url, TOKEN) as call:
        yield call


# -- identity -------------------------------------------------------------------------------
def test_me_answers_the_configured_user_as_the_sdk_parses_it(w):
    me = w.current_user.me()
    assert (me.user_name, me.display_name, me.active) == (USER, "Jane Doe", True)
    assert me.id.isdigit() and me.id == Identity(USER).id  # stable across starts
    assert [(email.value, email.type, email.primary) for email in me.emails] == [(USER, "work", True)]
    assert (me.name.given_name, me.name.family_name) == ("Jane", "Doe")
    assert w.users.get(me.id).user_name == USER


def test_the_default_user_and_a_service_principal(tmp_path):
    with start_emulator(tmp_path / "a", token=TOKEN) as default:
        assert workspace_client(default.url, TOKEN).current_user.me().user_name == "emulator@example.com"
    principal = "6f9b1c3e-0d1a-4b2c-9e8f-7a6b5c4d3e2f"
    with start_emulator(tmp_path / "b", token=TOKEN, user=principal) as handle:
        me = workspace_client(handle.url, TOKEN).current_user.me()
        assert (me.user_name, me.display_name, me.emails or []) == (principal, principal, [])
        assert (handle.root / "workspace" / "Users" / principal).is_dir()


def test_users_list_filters_case_insensitively_and_pages_by_start_index(w, api):
    assert [user.user_name for user in w.users.list(filter=f'userName eq "{USER.upper()}"')] == [USER]
    assert list(w.users.list(filter='userName eq "someone@example.com"')) == []
    assert [user.user_name for user in w.users.list(filter='emails.value co "DOE@"')] == [USER]
    assert [user.user_name for user in w.users.list()] == [USER]  # the SDK stops at the first empty page
    first = api("GET", f"{SCIM}/Users", params={"startIndex": 1, "count": 5}).json()
    assert (first["totalResults"], first["itemsPerPage"], first["Resources"][0]["userName"]) == (1, 1, USER)
    assert api("GET", f"{SCIM}/Users", params={"startIndex": 2}).json()["Resources"] == []
    narrowed = api("GET", f"{SCIM}/Me", params={"attributes": "userName"}).json()
    assert set(narrowed) == {"id", "schemas", "userName"}
    assert "emails" not in api("GET", f"{SCIM}/Me", params={"excludedAttributes": "emails"}).json()


@pytest.mark.parametrize("expression", [
    "bogus", 'userName eq "a" and id eq "b"', 'userName gt "a"', 'title eq "boss"', 'userName eq unquoted',
])
def test_a_filter_the_emulator_cannot_read_is_a_scim_400(w, api, expression):
    with pytest.raises(BadRequest):
        list(w.users.list(filter=expression))
    answer = api("GET", f"{SCIM}/Users", params={"filter": expression})
    assert answer.status_code == 400 and answer.json()["scimType"] == "invalidFilter"


def test_unknown_user_ids_and_bad_numbers_answer_scim_errors(w, api):
    with pytest.raises(SdkNotFound):
        w.users.get("12345")
    assert api("GET", f"{SCIM}/Users/..%2F..%2Fetc").status_code == 404
    assert api("GET", f"{SCIM}/Users", params={"startIndex": "x"}).status_code == 400
    assert api("GET", f"{SCIM}/Users/1%00").status_code == 400  # a NUL never reaches a handler
    unauthenticated = requests.get(w.config.host + f"{SCIM}/Me", timeout=10)
    assert unauthenticated.status_code == 401


@pytest.mark.parametrize("name", [
    "", "noat", "a/b@example.com", "../x@example.com", "x@example.com\n", "x@exa mple.com", "x@..", "é@example.com",
])
def test_a_user_name_that_is_not_an_address_is_refused(tmp_path, name, capsys):
    with pytest.raises(ValueError, match="--user"):
        Identity(name)
    with pytest.raises(SystemExit) as exited:
        parse_args(["--root", str(tmp_path), "--user", name])
    assert exited.value.code == 2 and "--user must be an e-mail address" in capsys.readouterr().err
    assert not (tmp_path / "workspace").exists()


# -- default folders --------------------------------------------------------------------------
def test_a_fresh_root_holds_a_new_workspaces_folders(w):
    assert sorted(item.path for item in w.workspace.list("/")) == ["/Repos", "/Shared", "/Users"]
    assert [item.path for item in w.workspace.list("/Users")] == [f"/Users/{USER}"]
    assert sorted(item.path for item in w.dbfs.list("/")) == ["/FileStore", "/tmp"]
    w.workspace.mkdirs(f"/Users/{USER}/project")
    assert w.workspace.get_status(f"/Users/{USER}/project").object_type == ObjectType.DIRECTORY


def test_a_root_served_before_keeps_what_it_holds(tmp_path):
    root = tmp_path / "root"
    (root / "workspace").mkdir(parents=True)
    (root / "workspace" / "Shared").write_text("a file where the folder would be")
    (root / "dbfs" / "tmp").mkdir(parents=True)
    (root / "dbfs" / "tmp" / "kept.txt").write_text("kept")
    with start_emulator(root, token=TOKEN, user=USER):
        pass
    with start_emulator(root, token=TOKEN, user="other@example.com"):
        pass
    assert (root / "workspace" / "Shared").read_text() == "a file where the folder would be"
    assert (root / "dbfs" / "tmp" / "kept.txt").read_text() == "kept"
    assert sorted(path.name for path in (root / "workspace" / "Users").iterdir()) == ["jane.doe@example.com", "other@example.com"]


# -- DBFS and runs details ---------------------------------------------------------------------
def test_dbfs_delete_of_a_missing_path_answers_200_and_a_full_folder_still_400(api):
    assert api("POST", "/api/2.0/dbfs/delete", json={"path": "/tmp/never-there"}).status_code == 200
    assert api("POST", "/api/2.0/dbfs/delete", json={"path": "dbfs:/no/parent/either", "recursive": True}).json() == {}
    api("POST", "/api/2.0/dbfs/mkdirs", json={"path": "/tmp/full/inner"})
    refused = api("POST", "/api/2.0/dbfs/delete", json={"path": "/tmp/full"})
    assert (refused.status_code, refused.json()["error_code"]) == (400, "IO_ERROR")
    for bad in ({}, {"path": "relative"}, {"path": "/tmp/../.."}, {"path": "/tmp/a\x00b"}, {"path": 5}):
        answer = api("POST", "/api/2.0/dbfs/delete", json=bad)
        assert answer.status_code == 400, bad
    assert api("GET", "/api/2.0/dbfs/get-status", params={"path": "/tmp/full"}).status_code == 200


def test_get_output_of_a_task_run_carries_that_tasks_metadata(w, emulator):
    emulator.backend.import_object(f"/Users/{USER}/nb.py", HEADER + b'dbutils.notebook.exit(dbutils.widgets.get("x"))\n')
    tasks = [
        jobs.SubmitTask(task_key=key, notebook_task=jobs.NotebookTask(f"/Users/{USER}/nb", base_parameters={"x": key}),
                        depends_on=[jobs.TaskDependency("first")] if key == "second" else None,
                        existing_cluster_id=DEFAULT_CLUSTER_ID if key == "second" else None)
        for key in ("first", "second")
    ]
    run = w.jobs.submit(run_name="two", tasks=tasks).result(timeout=timedelta(seconds=60))
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert (run.run_type, run.trigger, run.creator_user_name) == (jobs.RunType.SUBMIT_RUN, jobs.TriggerType.ONE_TIME, USER)
    assert run.number_in_job == run.run_id and run.status.state == jobs.RunLifecycleStateV2State.TERMINATED
    assert run.run_duration >= 0 and run.job_id is None
    for task in run.tasks:
        output = w.jobs.get_run_output(task.run_id)
        assert output.notebook_output.result == task.task_key
        metadata = output.metadata
        assert (metadata.run_id, metadata.number_in_job, metadata.job_run_id) == (task.run_id, task.run_id, run.run_id)
        assert [entry.task_key for entry in metadata.tasks] == [task.task_key]
        assert metadata.state.result_state == jobs.RunResultState.SUCCESS
        assert metadata.execution_duration == task.execution_duration
    raw = w.api_client.do("GET", "/api/2.2/jobs/runs/get-output", query={"run_id": run.tasks[1].run_id})["metadata"]
    assert (raw["task_key"], raw["parent_run_id"]) == ("second", run.run_id)
    assert raw["cluster_instance"]["cluster_id"] == DEFAULT_CLUSTER_ID
    assert "cluster_instance" not in w.api_client.do(
        "GET", "/api/2.2/jobs/runs/get-output", query={"run_id": run.tasks[0].run_id})["metadata"]  # serverless


@pytest.mark.parametrize(("task", "message"), [
    ({"task_key": "t"}, "No task defined for t"),
    ({"task_key": "t", "spark_python_task": {"python_file": "/x.py"}}, "spark_python_task is not supported"),
    ({"task_key": "t", "mystery_task": {}}, "No task defined for t"),
])
def test_submit_refuses_tasks_it_cannot_run(api, task, message):
    answer = api("POST", "/api/2.2/jobs/runs/submit", json={"run_name": "x", "tasks": [task]})
    assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert message in answer.json()["message"]


# -- TLS ----------------------------------------------------------------------------------------
def test_tls_serves_the_sdk_with_the_ca_bundle_and_refuses_clients_without_it(tmp_path, monkeypatch):
    with start_emulator(tmp_path / "root", token=TOKEN, user=USER, tls=True) as handle:
        assert handle.url.startswith("https://127.0.0.1:")
        tls = handle.server.tls
        assert tls is not None and tls.ca_file.is_file()
        assert stat.S_IMODE(os.stat(tls.key_file).st_mode) == 0o600 and b"PRIVATE" not in tls.ca_file.read_bytes()
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(handle.url + f"{SCIM}/Me", timeout=10)  # the system's CAs do not know ours
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(handle.url.replace("https:", "http:") + f"{SCIM}/Me", timeout=10)  # plain http is not served
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_file))
        w = workspace_client(handle.url, TOKEN)
        assert w.current_user.me().user_name == USER
        w.workspace.mkdirs(f"/Users/{USER}/over-tls")
        assert f"/Users/{USER}/over-tls" in [item.path for item in w.workspace.list(f"/Users/{USER}")]
        assert handle.requests[-1]["status"] == 200
        folder = tls.folder
    assert not folder.exists()  # the keys go with the emulator


def test_the_process_prints_the_ca_file_for_tls(tmp_path):
    env = {**os.environ, "BRICKTASKS_EMULATOR_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "bricktasks.emulator", "--root", str(tmp_path / "root"), "--tls", "--user", USER],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        listening = process.stdout.readline()
        ca_line = process.stdout.readline()
        assert listening.startswith(LISTENING + "https://127.0.0.1:")
        assert ca_line.startswith("bricktasks emulator CA certificate: ")
        ca_file = ca_line.split(": ", 1)[1].strip()
        answer = requests.get(listening[len(LISTENING):].strip() + f"{SCIM}/Me", verify=ca_file, timeout=10,
                              headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.json()["userName"] == USER
    finally:
        process.terminate()
        assert process.wait(20) == 0
        process.stdout.close()
        process.stderr.close()
    assert not os.path.exists(ca_file)
