"""DatabricksBackend against the emulator: auth, profiles, errors with hints, retries under faults."""
from __future__ import annotations

import os
import socket

import pytest
from databricks.sdk import errors as sdk_errors
from databricks.sdk.service.workspace import ImportFormat

from bricktasks.backends.databricks import DatabricksBackend, HostUnreachable, translate_error
from bricktasks.errors import (
    AlreadyExists,
    AuthError,
    ConfigError,
    DirectoryNotEmpty,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from bricktasks.testing.emulator import databricks_backend, start_emulator, workspace_client

SECRET = "dapi-very-secret-value"


@pytest.fixture
def hermetic(monkeypatch, tmp_path):
    """No DATABRICKS_* from the machine running the tests; a config file of our own."""
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "databrickscfg"
    config.write_text("")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    return config


def test_a_refused_token_is_an_auth_error_that_never_shows_the_token(tmp_path, hermetic):
    with start_emulator(tmp_path / "root", token="the-right-one") as emulator:
        backend = databricks_backend(emulator.url, SECRET)
        with pytest.raises(AuthError) as caught:
            backend.list("/")
    error = caught.value
    assert "DATABRICKS_TOKEN" in error.hint
    for text in (str(error), error.one_line(), repr(error), repr(backend)):
        assert SECRET not in text


def test_a_profile_from_the_config_file_authenticates(tmp_path, hermetic):
    with start_emulator(tmp_path / "root", token="profile-token") as emulator:
        hermetic.write_text(f"[emu]\nhost = {emulator.url}\ntoken = profile-token\n")
        backend = DatabricksBackend(profile="emu", retry_timeout_seconds=10)
        backend.mkdirs("/Shared/p")
        assert [o.path for o in backend.list("/Shared")] == ["/Shared/p"]


def test_a_missing_profile_is_a_config_error_with_a_hint(hermetic):
    with pytest.raises(ConfigError) as caught:
        DatabricksBackend(profile="no-such-profile")
    assert "DATABRICKS_CONFIG_PROFILE" in caught.value.hint


def test_rate_limits_past_the_retry_budget_become_rate_limited(tmp_path, hermetic):
    with start_emulator(tmp_path / "root", rate_limit=0.4) as emulator:
        backend = databricks_backend(emulator.url, retry_timeout_seconds=2)
        with pytest.raises(RateLimited):
            for _ in range(3):
                backend.list("/")


def test_every_429_the_client_retries_is_reported_to_throttle_listeners(tmp_path, hermetic):
    with start_emulator(tmp_path / "root", rate_limit=2) as emulator:
        backend = databricks_backend(emulator.url, retry_timeout_seconds=30)
        heard = []
        with backend.throttle_listener(lambda: heard.append(1)):
            for _ in range(4):
                backend.list("/")  # the bucket holds 2: later calls meet 429, retried inside the SDK
        answered_429 = sum(1 for request in emulator.requests if request["status"] == 429)
        for _ in range(4):
            backend.list("/")  # after the block the listener hears nothing more
        answered_429_later = sum(1 for request in emulator.requests if request["status"] == 429) - answered_429
    assert answered_429 >= 1 and len(heard) == answered_429
    assert answered_429_later >= 1


def test_a_host_that_never_answered_is_a_configuration_error(hermetic):
    # issue 11 item 12: a host refusing from the start is exit 2 at once, not retried as a blip
    # (a host that answered once and then goes away stays transient: tests/unit/test_trust_signals.py)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    backend = DatabricksBackend(f"http://127.0.0.1:{port}", "t", None, retry_timeout_seconds=1, http_timeout_seconds=2)
    with pytest.raises(HostUnreachable) as caught:
        backend.list("/")
    assert caught.value.exit_code == 2 and "DATABRICKS_HOST" in caught.value.hint


def test_the_sdk_retries_carry_operations_through_faults(tmp_path, hermetic):
    source = tmp_path / "lib.whl"
    source.write_bytes(b"wheel" * 1000)
    with start_emulator(tmp_path / "root", fault_rate=0.2, seed=1, fault_kinds="503,drop") as emulator:
        backend = databricks_backend(emulator.url)
        backend.mkdirs("/Projects/f")
        backend.import_object("/Projects/f/nb.py", b"# Databricks notebook source\n1\n", overwrite=True)
        backend.upload_file("dbfs:/f/lib.whl", source, overwrite=True)
        assert backend.read_file("dbfs:/f/lib.whl") == source.read_bytes()
        assert [o.path for o in backend.list("/Projects/f")] == ["/Projects/f/nb"]
        assert {entry.get("fault") for entry in emulator.requests} >= {"503", "drop"}


def test_a_dbfs_upload_survives_a_block_applied_twice(tmp_path, hermetic):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    with start_emulator(tmp_path / "root", fault_rate=0.1, seed=3, fault_kinds="drop-after") as emulator:
        backend = databricks_backend(emulator.url)
        backend.upload_file("dbfs:/x/big.bin", source, overwrite=True)
        assert [e["path"] for e in emulator.requests if e.get("fault")] == ["/api/2.0/dbfs/add-block"]  # applied, then dropped
        assert emulator.backend.read_file("dbfs:/x/big.bin") == source.read_bytes()


def test_a_dbfs_upload_never_shows_a_partial_file_under_its_final_name(tmp_path, hermetic):
    source = tmp_path / "lib.whl"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    with start_emulator(tmp_path / "root") as emulator:
        backend = databricks_backend(emulator.url)
        backend.upload_file("dbfs:/libs/lib.whl", source, overwrite=True)
        backend.upload_file("dbfs:/libs/lib.whl", source, overwrite=True)  # replacing works the same way
        writes = [e for e in emulator.requests if e["path"] in ("/api/2.0/dbfs/create", "/api/2.0/dbfs/add-block")]
        assert writes and all(".tmp" in (e.get("target") or "") or e["path"].endswith("add-block") for e in writes), writes
        assert [e.get("target") for e in emulator.requests if e["path"] == "/api/2.0/dbfs/move"]
        assert [f.path.rsplit("/", 1)[1] for f in backend.list_files("dbfs:/libs")] == ["lib.whl"]  # no temporary left
        assert emulator.backend.read_file("dbfs:/libs/lib.whl") == source.read_bytes()
        with pytest.raises(AlreadyExists):
            backend.upload_file("dbfs:/libs/lib.whl", source, overwrite=False)


def test_a_dbfs_upload_removes_temporaries_that_killed_uploads_left_long_ago(tmp_path, hermetic):
    source = tmp_path / "lib-2.whl"
    source.write_bytes(os.urandom(1024))
    with start_emulator(tmp_path / "root") as emulator:
        # what killed uploads leave: one 11 minutes old (its DBFS handle is dead), one just written
        for name in (".lib-1.whl.0123abcd.tmp", ".lib-2.whl.89abcdef.tmp"):
            emulator.backend.upload_file(f"dbfs:/libs/{name}", source, overwrite=True)
        emulator.backend.upload_file("dbfs:/libs/.notes.tmp", source, overwrite=True)  # not ours: no 8-hex tag
        [dead] = [path for path in (tmp_path / "root").rglob(".lib-1.whl.0123abcd.tmp")]
        [foreign] = [path for path in (tmp_path / "root").rglob(".notes.tmp")]
        long_ago = dead.stat().st_mtime - 11 * 60
        os.utime(dead, (long_ago, long_ago))
        os.utime(foreign, (long_ago, long_ago))
        databricks_backend(emulator.url).upload_file("dbfs:/libs/lib-2.whl", source, overwrite=True)
        left = sorted(f.path.rsplit("/", 1)[1] for f in emulator.backend.list_files("dbfs:/libs"))
    # a temporary young enough to belong to a live upload stays, as does a file that is not ours
    assert left == [".lib-2.whl.89abcdef.tmp", ".notes.tmp", "lib-2.whl"]


def test_overwriting_a_file_survives_the_real_apis_auto_overwrite_refusal(tmp_path, hermetic):
    with start_emulator(tmp_path / "root", quirks=("auto-overwrite-file",)) as emulator:
        client = workspace_client(emulator.url)
        backend = databricks_backend(emulator.url)
        backend.mkdirs("/Projects/q")
        backend.import_object("/Projects/q/conf.yml", b"v: 1\n")
        with pytest.raises(sdk_errors.ResourceAlreadyExists):  # what the real API does (databricks/cli#3386)
            client.workspace.upload("/Projects/q/conf.yml", b"v: 2\n", format=ImportFormat.AUTO, overwrite=True)
        backend.import_object("/Projects/q/conf.yml", b"v: 3\n", overwrite=True)
        assert backend.export("/Projects/q/conf.yml") == b"v: 3\n"


@pytest.mark.parametrize("error, expected, hint", [
    (sdk_errors.PermissionDenied("no access", error_code="PERMISSION_DENIED"), PermissionDenied, "CAN_MANAGE on /Projects/x"),
    (sdk_errors.ResourceAlreadyExists("exists", error_code="RESOURCE_ALREADY_EXISTS"), AlreadyExists, "overwrite"),
    (sdk_errors.AlreadyExists("exists", error_code="ALREADY_EXISTS"), AlreadyExists, "overwrite"),
    (sdk_errors.BadRequest("not empty", error_code="DIRECTORY_NOT_EMPTY"), DirectoryNotEmpty, "recursive"),
    (sdk_errors.ResourceDoesNotExist("gone", error_code="RESOURCE_DOES_NOT_EXIST"), NotFound, None),
    (sdk_errors.InvalidParameterValue("Run 7 does not exist.", error_code="INVALID_PARAMETER_VALUE"), NotFound, None),
    (sdk_errors.InvalidParameterValue("bad format", error_code="INVALID_PARAMETER_VALUE"), InvalidRequest, None),
    (sdk_errors.TooManyRequests("slow down", error_code="REQUEST_LIMIT_EXCEEDED"), RateLimited, "fewer"),
    (sdk_errors.Unauthenticated("who", error_code="UNAUTHENTICATED"), AuthError, "DATABRICKS_TOKEN"),
    (sdk_errors.PermissionDenied("Invalid access token", error_code="403"), AuthError, "DATABRICKS_TOKEN"),
])
def test_sdk_errors_translate_with_hints(error, expected, hint):
    translated = translate_error(error, "/Projects/x")
    assert type(translated) is expected
    assert "/Projects/x" in translated.message
    if hint:
        assert hint in translated.hint


def test_translation_scrubs_the_token_from_messages():
    error = sdk_errors.BadRequest(f"echoed {SECRET} back", error_code="INVALID_PARAMETER_VALUE")
    assert SECRET not in translate_error(error, "x", SECRET).one_line()
