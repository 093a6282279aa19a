"""A user script's first lines, with the real databricks-sdk: who am I, my home folder, the DBFS root.

Runs against the emulator and, with DATABRICKS_HOST set, a live workspace (marked `live`); on the
workspace it works in a unique folder under the caller's home and removes it afterwards.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.workspace import ImportFormat, ObjectType

from bricktasks.testing.emulator import start_emulator, workspace_client

TOKEN = "contract-token"


@pytest.fixture(params=["emulator", pytest.param("live", marks=pytest.mark.live)])
def client(request: pytest.FixtureRequest, tmp_path) -> Iterator[WorkspaceClient]:
    if request.param == "live":
        if not os.environ.get("DATABRICKS_HOST"):
            pytest.skip("live contract tests need DATABRICKS_HOST (and a token or profile)")
        yield WorkspaceClient()
        return
    with start_emulator(tmp_path / "root", token=TOKEN) as emulator:
        yield workspace_client(emulator.url, TOKEN)


def test_me_names_a_user_with_a_home_folder(client):
    me = client.current_user.me()
    assert me.user_name and me.id and me.id.isdigit()
    assert me.display_name
    if "@" in me.user_name:  # a user, not a service principal
        assert me.user_name in [email.value for email in me.emails or []]
    home = f"/Users/{me.user_name}"
    assert client.workspace.get_status(home).object_type == ObjectType.DIRECTORY
    assert [user.user_name for user in client.users.list(filter=f'userName eq "{me.user_name}"')] == [me.user_name]


def test_a_folder_under_my_home_can_be_made_listed_and_removed(client):
    folder = f"/Users/{client.current_user.me().user_name}/contract-{uuid.uuid4().hex[:10]}"
    client.workspace.mkdirs(folder)
    try:
        client.workspace.upload(f"{folder}/notes.txt", b"hello\n", format=ImportFormat.AUTO)
        assert [item.path for item in client.workspace.list(folder)] == [f"{folder}/notes.txt"]
    finally:
        client.workspace.delete(folder, recursive=True)
    assert folder not in [item.path for item in client.workspace.list(folder.rsplit("/", 1)[0])]


def test_a_new_workspace_has_shared_and_the_dbfs_root_tmp_and_filestore(client):
    top = {item.path for item in client.workspace.list("/")}
    assert {"/Users", "/Shared"} <= top
    assert {"/tmp", "/FileStore"} <= {entry.path for entry in client.dbfs.list("/")}


def test_dbfs_delete_of_a_missing_path_succeeds(client):
    missing = f"/tmp/bricktasks-contract-missing-{uuid.uuid4().hex[:10]}"
    # the raw call: the SDK's w.dbfs.delete asks get-status first and raises for a missing path itself
    assert client.api_client.do("POST", "/api/2.0/dbfs/delete", body={"path": missing}) == {}
