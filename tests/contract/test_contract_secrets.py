"""Secrets API 2.0 through the real SDK (`w.secrets.*`, `w.dbutils.secrets`), as a script written
against a workspace calls it: scopes, string and bytes secrets, metadata-only lists, get, ACLs and
the real errors. Against the emulator, and a real workspace with `-m live`."""
from __future__ import annotations

import base64
import time
import uuid

import pytest
from databricks.sdk.errors import InvalidParameterValue, NotFound, ResourceAlreadyExists
from databricks.sdk.service.workspace import AclPermission, ScopeBackendType
from sdk_clients import SdkPlace, sdk_client

VALUE = "contract-secret-value-7d1e"


@pytest.fixture
def scope(sdk_client: SdkPlace):
    name = f"bricktasks-contract-{uuid.uuid4().hex[:10]}"
    sdk_client.w.secrets.create_scope(name)
    yield name
    try:
        sdk_client.w.secrets.delete_scope(name)
    except NotFound:
        pass  # the test deleted it


def test_a_scope_is_listed_and_its_creator_may_manage_it(sdk_client, scope):
    w = sdk_client.w
    listed = {s.name: s.backend_type for s in w.secrets.list_scopes()}
    assert listed[scope] == ScopeBackendType.DATABRICKS
    assert any(acl.permission == AclPermission.MANAGE for acl in w.secrets.list_acls(scope))
    assert scope in [s.name for s in w.dbutils.secrets.listScopes()]


def test_string_and_bytes_secrets_round_trip_and_lists_hold_metadata_only(sdk_client, scope):
    w = sdk_client.w
    before = int(time.time() * 1000) - 60_000
    w.secrets.put_secret(scope, "token", string_value=VALUE)
    w.secrets.put_secret(scope, "raw", bytes_value=base64.b64encode(b"\x00\xffbytes").decode())
    listed = {s.key: s for s in w.secrets.list_secrets(scope)}
    assert sorted(listed) == ["raw", "token"]
    assert all(entry.last_updated_timestamp > before for entry in listed.values())
    assert VALUE not in str([entry.as_dict() for entry in listed.values()])
    got = w.secrets.get_secret(scope, "token")
    assert (got.key, base64.b64decode(got.value).decode()) == ("token", VALUE)
    assert w.dbutils.secrets.get(scope, "token") == VALUE
    assert w.dbutils.secrets.getBytes(scope, "raw") == b"\x00\xffbytes"
    assert sorted(m.key for m in w.dbutils.secrets.list(scope)) == ["raw", "token"]


def test_put_overwrites_and_delete_removes(sdk_client, scope):
    w = sdk_client.w
    w.secrets.put_secret(scope, "k", string_value="one")
    first = next(s.last_updated_timestamp for s in w.secrets.list_secrets(scope) if s.key == "k")
    w.secrets.put_secret(scope, "k", string_value="two")
    assert w.dbutils.secrets.get(scope, "k") == "two"
    assert next(s.last_updated_timestamp for s in w.secrets.list_secrets(scope) if s.key == "k") >= first
    w.secrets.delete_secret(scope, "k")
    assert [s.key for s in w.secrets.list_secrets(scope)] == []
    with pytest.raises(NotFound):
        w.secrets.get_secret(scope, "k")
    with pytest.raises(NotFound):
        w.secrets.delete_secret(scope, "k")


def test_the_real_errors(sdk_client, scope):
    w = sdk_client.w
    with pytest.raises(ResourceAlreadyExists):
        w.secrets.create_scope(scope)
    with pytest.raises(InvalidParameterValue):
        w.secrets.create_scope("not a valid name!")
    with pytest.raises(InvalidParameterValue):
        w.secrets.put_secret(scope, "bad key/", string_value="v")
    with pytest.raises(NotFound):
        w.secrets.put_secret(f"{scope}-absent", "k", string_value="v")
    with pytest.raises(NotFound):
        w.secrets.list_secrets(f"{scope}-absent")
    w.secrets.delete_scope(scope)
    with pytest.raises(NotFound):
        w.secrets.list_secrets(scope)
    with pytest.raises(NotFound):
        w.secrets.delete_scope(scope)


def test_acls_put_get_list_delete(sdk_client, scope):
    w = sdk_client.w
    w.secrets.put_acl(scope, "users", AclPermission.READ)
    assert w.secrets.get_acl(scope, "users").permission == AclPermission.READ
    w.secrets.put_acl(scope, "users", AclPermission.WRITE)  # put-acl overwrites
    assert {a.principal: a.permission for a in w.secrets.list_acls(scope)}["users"] == AclPermission.WRITE
    w.secrets.delete_acl(scope, "users")
    assert "users" not in [a.principal for a in w.secrets.list_acls(scope)]
    with pytest.raises(NotFound):
        w.secrets.get_acl(scope, "users")
