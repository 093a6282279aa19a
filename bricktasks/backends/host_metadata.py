"""What a workspace host's `/.well-known/databricks-config` answered, remembered per host for a day.

The SDK's `Config` asks it on every construction: a request on a connection of its own (on a real
workspace a TLS handshake too) before a task's first real request, on every task. What it names is
the host's account id, workspace id, OIDC endpoint, cloud and token audience: facts of the host that
do not change between two tasks. The SDK fills a field from it only where the configuration left
that field unset; so does a remembered answer (`apply`), which then stands in for the request.

Only an answer is remembered, never a failed probe (the SDK falls back then, and asks again next
time). The file lives in the user's cache folder (`$XDG_CACHE_HOME/bricktasks`, else
`~/.cache/bricktasks`) and holds no credential; one that is unreadable, malformed or written by a
stranger is ignored and replaced. Writes are atomic: two tasks at once each leave a whole file.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bricktasks.cachedir import is_own_file, user_cache_dir

__all__ = ["FIELDS", "MAX_AGE_SECONDS", "HostMetadataCache", "default_cache_file"]

# the Config fields the SDK's host-metadata resolution may fill (databricks-sdk 0.162, config.py)
FIELDS = ("account_id", "workspace_id", "discovery_url", "cloud", "token_audience")
MAX_AGE_SECONDS = 24 * 3600
MAX_HOSTS = 64  # one per workspace a developer uses; the oldest go first
_MAX_FILE_BYTES = 256 * 1024


def default_cache_file(environ: Mapping[str, str]) -> Path | None:
    """Where the answers are kept, or None where there is no home to keep them in."""
    folder = user_cache_dir(environ)
    return folder / "host-metadata.json" if folder else None


class HostMetadataCache:
    """The remembered answers in one JSON file: `{host: {"at": epoch seconds, "fields": {name: text}}}`."""

    def __init__(self, path: Path, *, now: float | None = None) -> None:
        self.path = path
        self._now = now

    def _clock(self) -> float:
        return time.time() if self._now is None else self._now

    def _entries(self) -> dict[str, Any]:
        try:
            if not is_own_file(self.path):  # another user's file could steer our requests: never trusted
                return {}
            if self.path.stat().st_size > _MAX_FILE_BYTES:
                return {}
            entries = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def read(self, host: str) -> dict[str, str] | None:
        """The fields the host's answer set, if it answered within the last day; else None."""
        entry = self._entries().get(host)
        if not isinstance(entry, dict) or not isinstance(entry.get("at"), (int, float)):
            return None
        if not 0 <= self._clock() - entry["at"] <= MAX_AGE_SECONDS:
            return None
        fields = entry.get("fields")
        if not isinstance(fields, dict) or not all(name in FIELDS and isinstance(value, str) for name, value in fields.items()):
            return None
        return dict(fields)

    def write(self, host: str, fields: Mapping[str, str]) -> None:
        """Remember the host's answer; a cache that cannot be written is no error (the next task asks again)."""
        entries = {name: entry for name, entry in self._entries().items() if isinstance(entry, dict)}
        entries[host] = {"at": self._clock(), "fields": dict(fields)}
        newest = sorted(entries.items(), key=lambda item: item[1].get("at", 0) if isinstance(item[1].get("at"), (int, float)) else 0)
        kept = dict(newest[-MAX_HOSTS:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(prefix=".host-metadata-", dir=self.path.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(kept, out, sort_keys=True)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            pass
