"""The emulator's Secrets API over raw HTTP: bad input answers the real codes and changes nothing,
values stay out of the request log, stderr and every file API, and the store's own rules."""
from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
import requests

from bricktasks.backends.local import LocalBackend
from bricktasks.backends.local_secrets import LocalSecretStore, SecretLimitExceeded
from bricktasks.errors import InvalidRequest, NotFound
from bricktasks.testing.emulator import start_emulator

TOKEN = "t"
VALUE = "sentinel-SECRET-3f9c2a"  # the value no log, error or file API may show


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secrets")
    with start_emulator(folder / "root", token=TOKEN, request_log=folder / "requests.jsonl") as handle:
        yield handle


def call(emulator, method: str, path: str, body=None, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    data = body if isinstance(body, (bytes, str)) else (json.dumps(body) if body is not None else None)
    return requests.request(method, emulator.url + "/api/2.0/secrets" + path, data=data, params=params, headers=headers, timeout=10)


def error(answer: requests.Response) -> tuple[int, str]:
    return answer.status_code, answer.json().get("error_code", "")


@pytest.fixture(scope="module")
def scope(emulator) -> str:
    assert call(emulator, "POST", "/scopes/create", {"scope": "kv"}).status_code == 200
    assert call(emulator, "POST", "/put", {"scope": "kv", "key": "token", "string_value": VALUE}).status_code == 200
    return "kv"


BAD_PUTS = [
    ("no scope", {"key": "k", "string_value": "v"}, "INVALID_PARAMETER_VALUE"),
    ("no key", {"scope": "kv", "string_value": "v"}, "INVALID_PARAMETER_VALUE"),
    ("scope not a string", {"scope": ["kv"], "key": "k", "string_value": "v"}, "INVALID_PARAMETER_VALUE"),
    ("no value", {"scope": "kv", "key": "k"}, "INVALID_PARAMETER_VALUE"),
    ("both values", {"scope": "kv", "key": "k", "string_value": "v", "bytes_value": "dg=="}, "INVALID_PARAMETER_VALUE"),
    ("value not a string", {"scope": "kv", "key": "k", "string_value": 12}, "INVALID_PARAMETER_VALUE"),
    ("bytes not base64", {"scope": "kv", "key": "k", "bytes_value": "%%%"}, "INVALID_PARAMETER_VALUE"),
    ("key with a slash", {"scope": "kv", "key": "../k", "string_value": "v"}, "INVALID_PARAMETER_VALUE"),
    ("key with NUL", {"scope": "kv", "key": "k\x00", "string_value": "v"}, "INVALID_PARAMETER_VALUE"),
    ("key too long", {"scope": "kv", "key": "k" * 129, "string_value": "v"}, "INVALID_PARAMETER_VALUE"),
    ("value over 128 KB", {"scope": "kv", "key": "k", "string_value": "v" * (128 * 1024 + 1)}, "INVALID_PARAMETER_VALUE"),
    ("lone surrogate", '{"scope": "kv", "key": "k", "string_value": "\\ud800"}', "INVALID_PARAMETER_VALUE"),
    ("unknown scope", {"scope": "nope", "key": "k", "string_value": "v"}, "RESOURCE_DOES_NOT_EXIST"),
]


@pytest.mark.parametrize("case, body, code", BAD_PUTS, ids=[case for case, _, _ in BAD_PUTS])
def test_bad_puts_answer_the_real_code_and_store_nothing(emulator, scope, case, body, code):
    answer = call(emulator, "POST", "/put", body)
    assert error(answer) == (404 if code == "RESOURCE_DOES_NOT_EXIST" else 400, code)
    assert [entry["key"] for entry in call(emulator, "GET", "/list", scope="kv").json()["secrets"]] == ["token"]


@pytest.mark.parametrize("name", ["", "has space", "a/b", "a:b", "%2e%2e", "x" * 129, "tab\there", "é"])
def test_scope_names_outside_the_rule_are_invalid_parameter_values(emulator, name):
    assert error(call(emulator, "POST", "/scopes/create", {"scope": name})) == (400, "INVALID_PARAMETER_VALUE")
    listed = call(emulator, "GET", "/scopes/list").json().get("scopes", [])
    assert name not in [entry["name"] for entry in listed]


def test_other_bad_requests(emulator, scope):
    assert error(call(emulator, "POST", "/scopes/create", {"scope": "kv"})) == (400, "RESOURCE_ALREADY_EXISTS")
    assert error(call(emulator, "POST", "/scopes/create", {"scope": "az", "scope_backend_type": "AZURE_KEYVAULT"}))[1] == (
        "INVALID_PARAMETER_VALUE"
    )
    assert error(call(emulator, "POST", "/scopes/create", {"scope": "x", "initial_manage_principal": "admins"}))[1] == (
        "INVALID_PARAMETER_VALUE"
    )
    assert error(call(emulator, "POST", "/scopes/create", b"not json")) == (400, "MALFORMED_REQUEST")
    assert error(call(emulator, "POST", "/scopes/create", b"[1]")) == (400, "MALFORMED_REQUEST")
    assert error(call(emulator, "GET", "/get", scope="kv", key="absent")) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert error(call(emulator, "GET", "/get", scope="kv")) == (400, "INVALID_PARAMETER_VALUE")
    assert error(call(emulator, "GET", "/get", scope="kv", key="token\x00")) == (400, "INVALID_PARAMETER_VALUE")
    assert error(call(emulator, "GET", "/list", scope="../kv")) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert error(call(emulator, "POST", "/delete", {"scope": "kv", "key": "absent"})) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert error(call(emulator, "POST", "/scopes/delete", {"scope": "absent"})) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert error(call(emulator, "POST", "/acls/put", {"scope": "kv", "principal": "p", "permission": "OWN"}))[1] == (
        "INVALID_PARAMETER_VALUE"
    )
    assert error(call(emulator, "POST", "/acls/put", {"scope": "kv", "principal": "a\nb", "permission": "READ"}))[1] == (
        "INVALID_PARAMETER_VALUE"
    )
    assert error(call(emulator, "GET", "/acls/get", scope="kv", principal="nobody")) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert error(call(emulator, "POST", "/acls/delete", {"scope": "kv", "principal": "nobody"})) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert all(entry["status"] != 500 for entry in emulator.requests)


def test_get_answers_base64_and_put_overwrites(emulator, scope):
    assert call(emulator, "GET", "/get", scope="kv", key="token").json() == {
        "key": "token", "value": base64.b64encode(VALUE.encode()).decode(),
    }
    raw = bytes(range(256))
    body = {"scope": "kv", "key": "raw", "bytes_value": base64.b64encode(raw).decode()}
    assert call(emulator, "POST", "/put", body).status_code == 200
    assert base64.b64decode(call(emulator, "GET", "/get", scope="kv", key="raw").json()["value"]) == raw
    assert call(emulator, "POST", "/put", {"scope": "kv", "key": "raw", "string_value": "two"}).status_code == 200
    assert base64.b64decode(call(emulator, "GET", "/get", scope="kv", key="raw").json()["value"]) == b"two"
    assert call(emulator, "POST", "/delete", {"scope": "kv", "key": "raw"}).status_code == 200


def test_values_never_reach_the_request_log_stderr_or_a_file_api(emulator, scope, capfd):
    for path in ("/../secrets/scopes.json", "/%2e%2e/secrets/scopes.json", "/secrets/scopes.json"):
        for api, params in (("workspace/export", {"path": path, "format": "SOURCE"}), ("dbfs/read", {"path": path})):
            answer = requests.get(f"{emulator.url}/api/2.0/{api}", params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            assert answer.status_code in (400, 404) and VALUE not in answer.text
        answer = requests.get(f"{emulator.url}/api/2.0/fs/files/Volumes{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert answer.status_code in (400, 404) and VALUE not in answer.text
    log = Path(emulator.server.log.path).read_text()
    assert "secrets/get" in log and VALUE not in log and base64.b64encode(VALUE.encode()).decode() not in log
    captured = capfd.readouterr()
    assert VALUE not in captured.out + captured.err


def test_acls_are_stored_data_and_the_creator_has_manage(emulator):
    assert call(emulator, "POST", "/scopes/create", {"scope": "team", "initial_manage_principal": "users"}).status_code == 200
    assert call(emulator, "POST", "/acls/put", {"scope": "team", "principal": "data", "permission": "READ"}).status_code == 200
    assert call(emulator, "POST", "/acls/put", {"scope": "team", "principal": "data", "permission": "WRITE"}).status_code == 200
    items = call(emulator, "GET", "/acls/list", scope="team").json()["items"]
    assert {item["principal"]: item["permission"] for item in items} == {
        "data": "WRITE", "users": "MANAGE", "emulator@example.com": "MANAGE",
    }
    assert call(emulator, "GET", "/acls/get", scope="team", principal="data").json() == {"principal": "data", "permission": "WRITE"}
    assert call(emulator, "POST", "/acls/delete", {"scope": "team", "principal": "data"}).status_code == 200
    assert call(emulator, "POST", "/scopes/delete", {"scope": "team"}).status_code == 200
    assert error(call(emulator, "GET", "/acls/list", scope="team")) == (404, "RESOURCE_DOES_NOT_EXIST")


# -- the store ------------------------------------------------------------------------------
def test_the_store_is_owner_only_and_outside_every_served_tree(tmp_path):
    backend = LocalBackend(tmp_path / "root")
    backend.secret_scopes.create_scope("kv", "me")
    backend.secret_scopes.put("kv", "k", b"v")
    folder = backend.paths.secrets
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "scopes.json").stat().st_mode) == 0o600
    for served in (backend.paths.workspace, backend.paths.dbfs, backend.paths.volumes):
        assert not folder.is_relative_to(served)


def test_a_scope_holds_at_most_1000_secrets(tmp_path):
    store = LocalSecretStore(tmp_path / "secrets")
    store.create_scope("kv", "me")
    data = json.loads((tmp_path / "secrets" / "scopes.json").read_text())
    data["kv"]["secrets"] = {f"k{i}": {"value": "", "last_updated_timestamp": 0} for i in range(1000)}
    (tmp_path / "secrets" / "scopes.json").write_text(json.dumps(data))
    with pytest.raises(SecretLimitExceeded):
        store.put("kv", "one-more", b"v")
    store.put("kv", "k7", b"overwrite is fine")
    assert store.get("kv", "k7") == b"overwrite is fine"


def test_runs_read_stored_secrets_with_local_ones_winning(tmp_path):
    backend = LocalBackend(tmp_path / "root", secrets={"kv": {"a": "from-env"}})
    store = backend.secret_scopes
    store.create_scope("kv", "me")
    store.put("kv", "a", b"stored")
    store.put("kv", "b", b"\xff\xfe")
    merged = backend.runs.run_secrets()
    assert merged["kv"]["a"] == "from-env"
    assert merged["kv"]["b"].encode("utf-8", "surrogateescape") == b"\xff\xfe"  # as getBytes gives it back
    with pytest.raises(NotFound):
        store.get("other", "a")
    with pytest.raises(InvalidRequest):
        store.put("kv", "bad key", b"v")
    assert sorted(os.listdir(backend.paths.secrets)) == [".lock", "scopes.json"]  # no temporary file left behind
