"""The host-metadata probe is asked once a day per host, not before every task (backends/host_metadata.py).

Counted on the emulator's request log, with the real SDK's Config doing the probing."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from bricktasks.backends.host_metadata import MAX_AGE_SECONDS, HostMetadataCache, default_cache_file
from bricktasks.testing.emulator import databricks_backend, start_emulator

PROBE = "/.well-known/databricks-config"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with start_emulator(tmp_path_factory.mktemp("root"), token="metadata-token") as handle:
        yield handle


def probes(emulator) -> int:
    return sum(1 for entry in emulator.requests if entry["path"] == PROBE)


def test_a_second_backend_for_the_host_does_not_ask_again_and_works(emulator, tmp_path: Path):
    cache = tmp_path / "cache" / "host-metadata.json"
    before = probes(emulator)
    databricks_backend(emulator.url, "metadata-token", metadata_cache=cache)
    assert probes(emulator) == before + 1
    assert json.loads(cache.read_text())[emulator.url]["fields"] == {}  # the emulator names no account or OIDC endpoint
    second = databricks_backend(emulator.url, "metadata-token", metadata_cache=cache)
    assert second.list("/") is not None
    assert probes(emulator) == before + 1  # answered from the file; the real request still went out
    databricks_backend(emulator.url, "metadata-token")  # no cache file: the SDK's own behaviour
    assert probes(emulator) == before + 2


def test_a_remembered_answer_fills_only_what_the_configuration_left_unset(emulator, tmp_path: Path):
    cache = tmp_path / "host-metadata.json"
    HostMetadataCache(cache).write(emulator.url, {"workspace_id": "1234567890", "cloud": "AWS", "account_id": "acc"})
    before = probes(emulator)
    backend = databricks_backend(emulator.url, "metadata-token", metadata_cache=cache)
    assert probes(emulator) == before
    assert (backend.config.workspace_id, backend.config.cloud.value, backend.config.account_id) == ("1234567890", "AWS", "acc")


@pytest.mark.parametrize("damage", ["stale", "malformed", "not-json", "unknown-field", "symlink"])
def test_a_stale_broken_or_strange_file_is_asked_past_and_replaced(emulator, tmp_path: Path, damage: str):
    cache = tmp_path / "host-metadata.json"
    if damage == "stale":
        HostMetadataCache(cache, now=1_000_000.0 - MAX_AGE_SECONDS - 1).write(emulator.url, {})
    elif damage == "malformed":
        cache.write_text(json.dumps({emulator.url: {"at": "yesterday", "fields": {}}}))
    elif damage == "not-json":
        cache.write_bytes(b"\xff\xfe{")
    elif damage == "unknown-field":  # a field we never write could steer the client (a host, a token endpoint)
        cache.write_text(json.dumps({emulator.url: {"at": 10**12, "fields": {"host": "http://elsewhere"}}}))
    else:
        target = tmp_path / "elsewhere.json"
        HostMetadataCache(target).write(emulator.url, {})
        cache.symlink_to(target)
    before = probes(emulator)
    backend = databricks_backend(emulator.url, "metadata-token", metadata_cache=cache)
    assert probes(emulator) == before + 1
    assert backend.host == emulator.url
    if damage != "symlink":
        assert HostMetadataCache(cache).read(emulator.url) == {}  # replaced by the fresh answer


def test_a_failed_probe_is_not_remembered(tmp_path: Path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}"  # nothing listens here once the socket closes
    cache = tmp_path / "host-metadata.json"
    databricks_backend(url, "metadata-token", metadata_cache=cache, retry_timeout_seconds=1, http_timeout_seconds=1)
    assert not cache.exists()


def test_an_unwritable_cache_folder_is_no_error(emulator, tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    databricks_backend(emulator.url, "metadata-token", metadata_cache=blocker / "host-metadata.json")
    assert blocker.read_text() == "a file where the cache folder would go"


def test_the_file_goes_to_the_users_cache_folder():
    assert default_cache_file({"XDG_CACHE_HOME": "/var/cache/me"}) == Path("/var/cache/me/bricktasks/host-metadata.json")
    # a relative XDG_CACHE_HOME is ignored, as the XDG rule says
    assert default_cache_file({"XDG_CACHE_HOME": "rel"}) == Path.home() / ".cache" / "bricktasks" / "host-metadata.json"


def test_the_file_keeps_the_newest_hosts_only(tmp_path: Path):
    cache_file = tmp_path / "host-metadata.json"
    for number in range(70):
        HostMetadataCache(cache_file, now=1_000_000.0 + number).write(f"https://w{number}.example.com", {})
    kept = json.loads(cache_file.read_text())
    assert len(kept) == 64 and "https://w69.example.com" in kept and "https://w5.example.com" not in kept
    assert oct(os.stat(cache_file.parent).st_mode & 0o777) == "0o700"
