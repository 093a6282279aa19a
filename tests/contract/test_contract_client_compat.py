"""Client compatibility: the real databricks-sdk's high-level APIs, called as a user's script calls them,
end to end over HTTP against one emulator for the whole module.

Every assertion is on what the SDK hands back, read the way a script reads it (attributes of its
dataclasses, bytes from its streams, its own exceptions). The module ends by checking the emulator's
request log: no request of the suite was answered 500.
"""
from __future__ import annotations

import base64
import io
import json
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import nbformat
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import (
    BadRequest,
    DatabricksError,
    InvalidParameterValue,
    NotFound,
    OperationFailed,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from databricks.sdk.service.catalog import VolumeType
from databricks.sdk.service.compute import State
from databricks.sdk.service.jobs import NotebookTask, RunLifeCycleState, RunResultState, SubmitTask
from databricks.sdk.service.workspace import AclPermission, ExportFormat, ImportFormat, Language, ObjectType

from bricktasks.testing.emulator import EmulatorHandle, start_emulator, workspace_client
from bricktasks.testing.projectcopy import clean_environment

TOKEN = "compat-token"
USER = "compat.user@example.com"
CLUSTER_ID = "0202-000000-compat"
NOTEBOOK_KEY = "application/vnd.databricks.v1+notebook"

NOTEBOOK = (
    "# Databricks notebook source\n"
    "# MAGIC %md\n"
    "# MAGIC # Compat notebook\n"
    "\n"
    "# COMMAND ----------\n"
    "\n"
    "answer = 6 * 7\n"
    "print(answer)\n"
)
EXITS = (
    "# Databricks notebook source\n"
    "dbutils.widgets.text('word', 'none')\n"
    "dbutils.notebook.exit('heard ' + dbutils.widgets.get('word'))\n"
)
FAILS = "# Databricks notebook source\nraise ValueError('compat notebook fails on purpose')\n"


@dataclass
class Compat:
    w: WorkspaceClient
    emulator: EmulatorHandle
    home: str


@pytest.fixture(scope="module")
def compat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compat]:
    with start_emulator(tmp_path_factory.mktemp("compat") / "root", token=TOKEN, user=USER, cluster_id=CLUSTER_ID) as emulator:
        w = workspace_client(emulator.url, TOKEN, retry_timeout_seconds=60)
        yield Compat(w, emulator, f"/Users/{USER}")
        # the suite's own record: nothing it did made the emulator fail
        failures = [e for e in emulator.requests if e["status"] >= 500]
        assert failures == [], failures


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- identity and the folders a new workspace has ---------------------------------------------------


def test_me_is_the_tokens_user_and_their_home_exists(compat):
    me = compat.w.current_user.me()
    assert me.user_name == USER
    assert me.active is True
    assert USER in [email.value for email in me.emails or []]
    home = compat.w.workspace.get_status(f"/Users/{me.user_name}")
    assert home.object_type == ObjectType.DIRECTORY
    top = {o.path for o in compat.w.workspace.list("/")}
    assert {"/Users", "/Shared", "/Repos"} <= top


# -- workspace ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(compat) -> str:
    path = f"{compat.home}/{_unique('compat')}"
    compat.w.workspace.mkdirs(path)
    compat.w.workspace.upload(f"{path}/nb", NOTEBOOK.encode(), format=ImportFormat.SOURCE, language=Language.PYTHON)
    return path


def test_upload_download_list_and_status_of_a_notebook(compat, folder):
    w = compat.w
    with w.workspace.download(f"{folder}/nb") as source:
        assert source.read().decode() == NOTEBOOK
    status = w.workspace.get_status(f"{folder}/nb")
    assert (status.object_type, status.language) == (ObjectType.NOTEBOOK, Language.PYTHON)
    assert status.object_id and status.object_id > 0
    listed = {o.path: o.object_type for o in w.workspace.list(folder)}
    assert listed == {f"{folder}/nb": ObjectType.NOTEBOOK}
    w.workspace.mkdirs(f"{folder}/sub")
    w.workspace.upload(f"{folder}/sub/data.txt", b"plain file", format=ImportFormat.AUTO)
    everything = {o.path: o.object_type for o in w.workspace.list(folder, recursive=True)}
    assert everything[f"{folder}/sub/data.txt"] == ObjectType.FILE
    with w.workspace.download(f"{folder}/sub/data.txt", format=ExportFormat.AUTO) as data:
        assert data.read() == b"plain file"


def test_an_existing_notebook_is_refused_without_overwrite_and_replaced_with_it(compat, folder):
    w = compat.w
    with pytest.raises(ResourceAlreadyExists):
        w.workspace.upload(f"{folder}/nb", NOTEBOOK.encode(), format=ImportFormat.SOURCE, language=Language.PYTHON)
    changed = NOTEBOOK.replace("6 * 7", "7 * 6")
    w.workspace.upload(f"{folder}/nb2", changed.encode(), format=ImportFormat.SOURCE, language=Language.PYTHON)
    w.workspace.upload(f"{folder}/nb2", NOTEBOOK.encode(), format=ImportFormat.SOURCE, language=Language.PYTHON, overwrite=True)
    with w.workspace.download(f"{folder}/nb2") as source:
        assert "6 * 7" in source.read().decode()
    w.workspace.delete(f"{folder}/nb2")
    with pytest.raises(ResourceDoesNotExist):
        w.workspace.get_status(f"{folder}/nb2")


def test_export_as_source_html_and_jupyter(compat, folder):
    w = compat.w
    source = base64.b64decode(w.workspace.export(f"{folder}/nb", format=ExportFormat.SOURCE).content or "")
    assert source.decode() == NOTEBOOK
    html = base64.b64decode(w.workspace.export(f"{folder}/nb", format=ExportFormat.HTML).content or "").decode()
    assert html.lstrip().lower().startswith("<!doctype html") and "answer = 6 * 7" in html
    ipynb = base64.b64decode(w.workspace.export(f"{folder}/nb", format=ExportFormat.JUPYTER).content or "")
    notebook = nbformat.reads(ipynb.decode(), as_version=4)
    nbformat.validate(notebook)
    assert [c.cell_type for c in notebook.cells] == ["markdown", "code"]
    assert notebook.cells[0].source.strip() == "# Compat notebook"
    assert "answer = 6 * 7" in notebook.cells[1].source
    assert notebook.metadata[NOTEBOOK_KEY]["language"] == "python"


def test_export_as_dbc_is_a_zip_of_the_notebook(compat, folder):
    content = base64.b64decode(compat.w.workspace.export(f"{folder}/nb", format=ExportFormat.DBC).content or "")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        (name,) = archive.namelist()
        notebook = json.loads(archive.read(name))
    assert notebook["language"] == "python"
    assert any("answer = 6 * 7" in command["command"] for command in notebook["commands"])


def test_import_of_an_ipynb_as_jupyter_and_auto_gives_a_source_notebook(compat, folder):
    w = compat.w
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# From Jupyter"), nbformat.v4.new_code_cell("x = 1\nprint(x)")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    content = base64.b64encode(nbformat.writes(notebook).encode()).decode()
    w.workspace.import_(f"{folder}/from_jupyter", content=content, format=ImportFormat.JUPYTER)
    w.workspace.import_(f"{folder}/from_auto.ipynb", content=content, format=ImportFormat.AUTO)
    for name in ("from_jupyter", "from_auto"):
        status = w.workspace.get_status(f"{folder}/{name}")
        assert (status.object_type, status.language) == (ObjectType.NOTEBOOK, Language.PYTHON), name
        with w.workspace.download(f"{folder}/{name}") as source:
            text = source.read().decode()
        assert text.startswith("# Databricks notebook source")
        assert "# MAGIC %md\n# MAGIC # From Jupyter" in text
        assert "# COMMAND ----------" in text and "x = 1\nprint(x)" in text


def test_dbc_import_and_r_markdown_export_answer_the_sdks_errors(compat, folder):
    w = compat.w
    with pytest.raises(DatabricksError) as refused:
        w.workspace.import_(f"{folder}/from_dbc", content=base64.b64encode(b"PK\x05\x06" + bytes(18)).decode(), format=ImportFormat.DBC)
    assert refused.value.error_code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")
    with pytest.raises(DatabricksError):
        w.workspace.export(f"{folder}/nb", format=ExportFormat.R_MARKDOWN)
    with pytest.raises(ResourceDoesNotExist):
        w.workspace.get_status(f"{folder}/from_dbc")


# -- Files API in a Unity Catalog volume ---------------------------------------------------------------


@pytest.fixture(scope="module")
def volume(compat) -> Iterator[str]:
    name = _unique("compat_files").replace("-", "_")
    created = compat.w.volumes.create("main", "default", name, VolumeType.MANAGED)
    yield f"/Volumes/main/default/{created.name}"
    compat.w.volumes.delete(created.full_name or "")


def test_files_upload_download_metadata_list_and_delete_in_a_volume(compat, volume):
    w = compat.w
    w.files.upload(f"{volume}/data/hello.csv", io.BytesIO(b"a,b\n1,2\n"), overwrite=True)
    assert w.files.download(f"{volume}/data/hello.csv").contents.read() == b"a,b\n1,2\n"
    meta = w.files.get_metadata(f"{volume}/data/hello.csv")
    assert meta.content_length == 8
    assert meta.last_modified
    entries = {e.name: e for e in w.files.list_directory_contents(f"{volume}/data")}
    assert entries["hello.csv"].file_size == 8 and not entries["hello.csv"].is_directory
    top = {e.name: e.is_directory for e in w.files.list_directory_contents(volume)}
    assert top == {"data": True}
    w.files.create_directory(f"{volume}/empty")
    w.files.get_directory_metadata(f"{volume}/empty")
    w.files.delete(f"{volume}/data/hello.csv")
    with pytest.raises(NotFound):
        w.files.get_metadata(f"{volume}/data/hello.csv")
    with pytest.raises(NotFound):
        w.files.download(f"{volume}/data/hello.csv")


def test_files_refuses_a_path_outside_a_created_volume(compat):
    w = compat.w
    with pytest.raises(NotFound):
        w.files.upload(f"/Volumes/main/default/{_unique('never_made').replace('-', '_')}/x.txt", io.BytesIO(b"x"))
    with pytest.raises(DatabricksError):
        w.files.upload("/tmp/not-a-volume.txt", io.BytesIO(b"x"))


# -- DBFS with the SDK's own helpers --------------------------------------------------------------------


def test_dbfs_upload_open_list_and_delete(compat):
    w = compat.w
    base = f"/tmp/{_unique('compat')}"
    w.dbfs.mkdirs(f"{base}/in")
    payload = bytes(range(256)) * 8000  # 2 MB: more than one of the SDK's 1 MB blocks
    w.dbfs.upload(f"{base}/in/big.bin", io.BytesIO(payload))
    with w.dbfs.open(f"{base}/in/big.bin", read=True) as reader:
        assert reader.read() == payload
    with w.dbfs.download(f"{base}/in/big.bin") as reader:
        assert reader.read(10) == payload[:10]
    listed = {f.path: f for f in w.dbfs.list(base, recursive=True)}
    assert listed[f"{base}/in/big.bin"].file_size == len(payload)
    assert w.dbfs.get_status(f"{base}/in").is_dir
    with pytest.raises(ResourceAlreadyExists):
        w.dbfs.upload(f"{base}/in/big.bin", io.BytesIO(b"again"))
    w.dbfs.upload(f"{base}/in/big.bin", io.BytesIO(b"again"), overwrite=True)
    with w.dbfs.open(f"{base}/in/big.bin", read=True) as reader:
        assert reader.read() == b"again"
    assert w.dbfs.exists(f"{base}/in/big.bin")
    w.dbfs.delete(base, recursive=True)
    assert not w.dbfs.exists(base)
    w.dbfs.delete(f"{base}/never-there")  # a missing path: 200, as on Databricks
    top = {f.path for f in w.dbfs.list("/")}
    assert {"/tmp", "/FileStore"} <= top


def test_dbutils_fs_put_head_ls_cp_and_rm(compat, volume):
    fs = compat.w.dbutils.fs
    base = f"dbfs:/tmp/{_unique('dbutils')}"
    assert fs.mkdirs(base)
    assert fs.put(f"{base}/note.txt", "hello from dbutils", overwrite=True)
    assert fs.head(f"{base}/note.txt") == "hello from dbutils"
    assert fs.head(f"{base}/note.txt", 5) == "hello"
    (info,) = fs.ls(base)
    assert (info.name, info.size) == ("note.txt", 18)
    assert fs.cp(f"{base}/note.txt", f"{volume}/copied.txt")
    assert compat.w.files.download(f"{volume}/copied.txt").contents.read() == b"hello from dbutils"
    assert fs.rm(base, recurse=True)
    assert not compat.w.dbfs.exists(base.removeprefix("dbfs:"))


# -- secrets --------------------------------------------------------------------------------------------


def test_secrets_scope_keys_acls_and_deletion(compat):
    w = compat.w
    scope = _unique("compat")
    w.secrets.create_scope(scope)
    with pytest.raises(ResourceAlreadyExists):
        w.secrets.create_scope(scope)
    w.secrets.put_secret(scope, "api-key", string_value="s3cr3t-compat-value")
    keys = [s.key for s in w.secrets.list_secrets(scope)]
    assert keys == ["api-key"]
    assert base64.b64decode(w.secrets.get_secret(scope, "api-key").value or "").decode() == "s3cr3t-compat-value"
    w.secrets.put_acl(scope, "users", AclPermission.READ)
    assert w.secrets.get_acl(scope, "users").permission == AclPermission.READ
    acls = {(a.principal, a.permission) for a in w.secrets.list_acls(scope)}
    assert acls >= {("users", AclPermission.READ), (USER, AclPermission.MANAGE)}
    w.secrets.delete_acl(scope, "users")
    assert "users" not in [a.principal for a in w.secrets.list_acls(scope)]
    w.secrets.delete_secret(scope, "api-key")
    assert list(w.secrets.list_secrets(scope)) == []
    with pytest.raises(ResourceDoesNotExist):
        w.secrets.get_secret(scope, "api-key")
    w.secrets.delete_scope(scope)
    assert scope not in [s.name for s in w.secrets.list_scopes()]
    with pytest.raises((ResourceDoesNotExist, NotFound)):
        w.secrets.put_secret(scope, "k", string_value="v")


# -- clusters -------------------------------------------------------------------------------------------


def test_clusters_pick_a_runtime_and_a_node_type_and_see_the_cluster(compat):
    w = compat.w
    version = w.clusters.select_spark_version(latest=True, long_term_support=True)
    offered = {v.key: v.name for v in w.clusters.spark_versions().versions or []}
    assert version in offered and "LTS" in offered[version]
    node_types = w.clusters.list_node_types().node_types or []
    assert node_types and all(n.node_type_id for n in node_types)
    assert w.clusters.select_node_type(local_disk=True) in {n.node_type_id for n in node_types}
    (cluster,) = list(w.clusters.list())
    assert (cluster.cluster_id, cluster.state) == (CLUSTER_ID, State.RUNNING)
    got = w.clusters.get(CLUSTER_ID)
    assert got.spark_version and got.cluster_name == cluster.cluster_name
    assert w.clusters.ensure_cluster_is_running(CLUSTER_ID) is None
    with pytest.raises(ResourceDoesNotExist):  # 400 INVALID_PARAMETER_VALUE, which the SDK reads as this
        w.clusters.get("0000-000000-nothere")


# -- Unity Catalog --------------------------------------------------------------------------------------


def test_catalogs_schemas_and_volumes_create_get_list_delete(compat):
    w = compat.w
    catalog = _unique("compat_cat").replace("-", "_")
    assert "main" in [c.name for c in w.catalogs.list()]
    assert "default" in [s.name for s in w.schemas.list("main")]
    w.catalogs.create(catalog, comment="made by the compat suite")
    assert w.catalogs.get(catalog).comment == "made by the compat suite"
    schema = w.schemas.create("raw", catalog)
    assert schema.full_name == f"{catalog}.raw"
    assert w.schemas.get(f"{catalog}.raw").catalog_name == catalog
    made = w.volumes.create(catalog, "raw", "landing", VolumeType.MANAGED)
    assert (made.full_name, made.volume_type) == (f"{catalog}.raw.landing", VolumeType.MANAGED)
    assert w.volumes.read(f"{catalog}.raw.landing").storage_location
    assert [v.name for v in w.volumes.list(catalog, "raw")] == ["landing"]
    with pytest.raises(ResourceAlreadyExists):
        w.volumes.create(catalog, "raw", "landing", VolumeType.MANAGED)
    w.files.upload(f"/Volumes/{catalog}/raw/landing/x.txt", io.BytesIO(b"x"))
    with pytest.raises(DatabricksError):
        w.catalogs.delete(catalog)  # not empty without force
    w.volumes.delete(f"{catalog}.raw.landing")
    with pytest.raises(NotFound):
        w.volumes.read(f"{catalog}.raw.landing")
    w.schemas.delete(f"{catalog}.raw")
    w.catalogs.delete(catalog)
    with pytest.raises(NotFound):
        w.catalogs.get(catalog)


# -- jobs -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def notebooks(compat, folder) -> str:
    compat.w.workspace.upload(f"{folder}/exits", EXITS.encode(), format=ImportFormat.SOURCE, language=Language.PYTHON)
    compat.w.workspace.upload(f"{folder}/fails", FAILS.encode(), format=ImportFormat.SOURCE, language=Language.PYTHON)
    return folder


def test_submit_result_and_output_of_a_notebook_task(compat, notebooks):
    w = compat.w
    task = SubmitTask(task_key="main", notebook_task=NotebookTask(f"{notebooks}/exits", base_parameters={"word": "compat"}),
                      existing_cluster_id=CLUSTER_ID)
    run = w.jobs.submit(run_name=_unique("compat-run"), tasks=[task]).result()
    assert run.state and run.state.life_cycle_state == RunLifeCycleState.TERMINATED
    assert run.state.result_state == RunResultState.SUCCESS
    assert run.creator_user_name == USER
    (task_run,) = run.tasks or []
    assert task_run.task_key == "main"
    output = w.jobs.get_run_output(task_run.run_id)
    assert output.notebook_output and output.notebook_output.result == "heard compat"
    assert output.metadata and output.metadata.run_id == task_run.run_id  # the task run's own metadata
    assert [r.run_id for r in w.jobs.list_runs(limit=5)][0] == run.run_id
    w.jobs.delete_run(run.run_id)  # a script's clean-up
    with pytest.raises(ResourceDoesNotExist):
        w.jobs.get_run(run.run_id)


def test_a_failing_run_raises_the_sdks_operation_failed(compat, notebooks):
    w = compat.w
    task = SubmitTask(task_key="broken", notebook_task=NotebookTask(f"{notebooks}/fails"))  # serverless
    waiter = w.jobs.submit(run_name=_unique("compat-fails"), tasks=[task])
    with pytest.raises(OperationFailed) as failed:
        waiter.result()
    assert "broken" in str(failed.value)
    run = w.jobs.get_run(waiter.run_id)
    assert run.state and run.state.result_state == RunResultState.FAILED
    (task_run,) = run.tasks or []
    output = w.jobs.get_run_output(task_run.run_id)
    assert output.error and "compat notebook fails on purpose" in output.error
    assert output.error_trace and "ValueError" in output.error_trace


def test_a_submit_the_api_rejects_is_a_bad_request(compat, notebooks):
    with pytest.raises((BadRequest, InvalidParameterValue)):
        compat.w.jobs.submit(run_name="no task type", tasks=[SubmitTask(task_key="t")])


# -- the legacy databricks-cli, through the proxy trick ---------------------------------------------------


def test_the_legacy_cli_through_the_proxy_trick(compat, tmp_path):
    # databricks-cli 0.18 drops the host's port: its host is http://127.0.0.1 and the emulator its HTTP proxy
    port = compat.emulator.url.rsplit(":", 1)[1]
    env = clean_environment({"DATABRICKS_HOST": "http://127.0.0.1", "DATABRICKS_TOKEN": TOKEN, "HOME": str(tmp_path),
                             "HTTP_PROXY": f"http://127.0.0.1:{port}", "NO_PROXY": ""})
    folder = f"/Shared/{_unique('legacy')}"
    (tmp_path / "nb.py").write_text(NOTEBOOK)
    (tmp_path / "data.txt").write_text("legacy bytes")
    scope = _unique("legacy")

    def cli(*args: str) -> str:
        done = subprocess.run(["databricks", *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    # each start of the legacy CLI costs about a second: the commands a script of its time runs, once each
    compat.w.workspace.mkdirs(folder)
    cli("workspace", "import", "-l", "PYTHON", str(tmp_path / "nb.py"), f"{folder}/nb")
    assert cli("workspace", "ls", "-l", folder).split() == ["NOTEBOOK", "nb", "PYTHON"]
    cli("workspace", "export", f"{folder}/nb", str(tmp_path / "back.py"))
    assert (tmp_path / "back.py").read_text() == NOTEBOOK
    cli("fs", "cp", str(tmp_path / "data.txt"), f"dbfs:{folder}/data.txt")
    assert cli("fs", "cat", f"dbfs:{folder}/data.txt") == "legacy bytes"
    assert "Delete finished successfully." in cli("fs", "rm", "-r", f"dbfs:{folder}")
    assert "Delete finished successfully." in cli("fs", "rm", f"dbfs:{folder}/never-there")  # 200, as on Databricks
    compat.w.secrets.create_scope(scope)
    cli("secrets", "put", "--scope", scope, "--key", "k", "--string-value", "legacy-secret-value")
    listed = cli("secrets", "list", "--scope", scope)
    assert "k" in listed.split() and "legacy-secret-value" not in listed
    assert compat.w.dbutils.secrets.get(scope, "k") == "legacy-secret-value"
    assert json.loads(cli("clusters", "get", "--cluster-id", CLUSTER_ID))["state"] == "RUNNING"
    compat.w.secrets.delete_scope(scope)
    compat.w.workspace.delete(folder, recursive=True)
