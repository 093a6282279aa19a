"""Secret scopes of the local backend: scopes, their secrets and ACLs, kept in `<root>/secrets/`.

The emulator's Secrets API 2.0 serves this store, and every run the backend starts gets its
values (beside the `BRICKTASKS_SECRET__…` ones, which win) down the supervisor's stdin, so
`dbutils.secrets.get` reads them and the run's output shows them redacted. The folder sits beside
`workspace/`, `dbfs/` and `volumes/`, so no Workspace, DBFS or Files path reaches it; it is
owner-only (0700, the file 0600) and every read-modify-write holds the store's lock.

Rules are the API's: names of alphanumerics, `-`, `_` and `.`, at most 128 characters; a value
of at most 128 KB; at most 1000 secrets per scope and 1000 scopes. Errors name scopes, keys and
principals, never a value.
"""
from __future__ import annotations

import base64
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bricktasks.backends.local_paths import store_lock
from bricktasks.errors import AlreadyExists, InvalidRequest, NotFound

__all__ = ["LocalSecretStore", "SecretLimitExceeded", "ScopeInfo", "SecretInfo", "PERMISSIONS", "MAX_VALUE_BYTES"]

STORE_FILE = "scopes.json"
NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
MAX_VALUE_BYTES = 128 * 1024
MAX_SECRETS_PER_SCOPE = 1000
MAX_SCOPES = 1000
PERMISSIONS = ("READ", "WRITE", "MANAGE")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SecretLimitExceeded(InvalidRequest):
    """A scope holds the most secrets it may, or the workspace the most scopes (RESOURCE_LIMIT_EXCEEDED)."""


@dataclass(frozen=True)
class ScopeInfo:
    name: str
    backend_type: str = "DATABRICKS"


@dataclass(frozen=True)
class SecretInfo:
    key: str
    last_updated_timestamp: int


def _now_ms() -> int:
    return int(time.time() * 1000)


def check_name(kind: str, value: Any) -> str:
    """A scope or key name as the API accepts it, else InvalidRequest naming the rule."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise InvalidRequest(
            f"{kind} name must consist of alphanumeric characters, dashes, underscores, and periods, "
            "and may not exceed 128 characters.",
            f"pick a {kind.lower()} name like my-scope_1.0",
        )
    return value


def check_principal(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 256 or _CONTROL.search(value):
        raise InvalidRequest("principal must be a user name, group name or service principal application id", None)
    return value


class LocalSecretStore:
    """Scopes, secrets (values kept base64, as bytes) and ACLs in one JSON file under a lock."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    # -- the file ---------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / STORE_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        temp = self.folder / f".{STORE_FILE}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(temp, self.folder / STORE_FILE)

    def _locked(self):
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)  # a folder made before (by hand, another umask) is made private too
        return store_lock(self.folder)

    @staticmethod
    def _scope(data: dict[str, Any], scope: Any) -> dict[str, Any]:
        name = scope if isinstance(scope, str) else str(scope)
        if name not in data:
            raise NotFound(f"Scope {name} does not exist!", "create it first: secrets/scopes/create")
        return data[name]

    # -- scopes -----------------------------------------------------------------
    def create_scope(self, scope: Any, creator: str, *, initial_manage_principal: str | None = None) -> None:
        name = check_name("Scope", scope)
        with self._locked():
            data = self._read()
            if name in data:
                raise AlreadyExists(f"Scope {name} already exists!", "pick another name or delete the scope first")
            if len(data) >= MAX_SCOPES:
                raise SecretLimitExceeded(f"the workspace already holds {MAX_SCOPES} secret scopes", "delete one first")
            acls = {creator: "MANAGE"}
            if initial_manage_principal:
                acls[initial_manage_principal] = "MANAGE"
            data[name] = {"backend_type": "DATABRICKS", "secrets": {}, "acls": acls}
            self._write(data)

    def list_scopes(self) -> list[ScopeInfo]:
        with self._locked():
            data = self._read()
        return [ScopeInfo(name, entry.get("backend_type", "DATABRICKS")) for name, entry in sorted(data.items())]

    def delete_scope(self, scope: Any) -> None:
        with self._locked():
            data = self._read()
            self._scope(data, scope)
            del data[scope]
            self._write(data)

    # -- secrets ----------------------------------------------------------------
    def put(self, scope: Any, key: Any, value: bytes) -> None:
        name = check_name("Key", key)
        if len(value) > MAX_VALUE_BYTES:
            raise InvalidRequest(f"the value of {name} is {len(value)} bytes; a secret holds at most 128 KB", None)
        with self._locked():
            data = self._read()
            secrets = self._scope(data, scope)["secrets"]
            if name not in secrets and len(secrets) >= MAX_SECRETS_PER_SCOPE:
                raise SecretLimitExceeded(f"scope {scope} already holds {MAX_SECRETS_PER_SCOPE} secrets", "delete one first")
            secrets[name] = {"value": base64.b64encode(value).decode(), "last_updated_timestamp": _now_ms()}
            self._write(data)

    def delete(self, scope: Any, key: Any) -> None:
        with self._locked():
            data = self._read()
            secrets = self._scope(data, scope)["secrets"]
            if key not in secrets:
                raise NotFound(f"Secret {key} does not exist in scope {scope}!", "list the scope's keys: secrets/list")
            del secrets[key]
            self._write(data)

    def list_secrets(self, scope: Any) -> list[SecretInfo]:
        with self._locked():
            secrets = self._scope(self._read(), scope)["secrets"]
        return [SecretInfo(key, int(entry["last_updated_timestamp"])) for key, entry in sorted(secrets.items())]

    def get(self, scope: Any, key: Any) -> bytes:
        with self._locked():
            secrets = self._scope(self._read(), scope)["secrets"]
        if key not in secrets:
            raise NotFound(f"Secret {key} does not exist in scope {scope}!", "list the scope's keys: secrets/list")
        return base64.b64decode(secrets[key]["value"])

    def values(self) -> dict[str, dict[str, str]]:
        """Every secret as a run reads it: {scope: {key: text}}; bytes that are not UTF-8 keep their
        bytes through surrogate escapes (dbutils.secrets.getBytes turns them back)."""
        with self._locked():
            data = self._read()
        return {
            scope: {
                key: base64.b64decode(entry["value"]).decode("utf-8", "surrogateescape")
                for key, entry in content.get("secrets", {}).items()
            }
            for scope, content in data.items()
        }

    # -- ACLs (stored, not enforced: the emulator has one user) -----------------
    def put_acl(self, scope: Any, principal: Any, permission: Any) -> None:
        who = check_principal(principal)
        if permission not in PERMISSIONS:
            raise InvalidRequest(f"permission must be one of {', '.join(PERMISSIONS)}; got {permission!r}", None)
        with self._locked():
            data = self._read()
            self._scope(data, scope)["acls"][who] = permission  # put-acl creates or overwrites
            self._write(data)

    def get_acl(self, scope: Any, principal: Any) -> str:
        with self._locked():
            acls = self._scope(self._read(), scope)["acls"]
        if principal not in acls:
            raise NotFound(f"No ACL for principal {principal} in scope {scope}", "list them: secrets/acls/list")
        return str(acls[principal])

    def list_acls(self, scope: Any) -> list[tuple[str, str]]:
        with self._locked():
            acls = self._scope(self._read(), scope)["acls"]
        return sorted(acls.items())

    def delete_acl(self, scope: Any, principal: Any) -> None:
        with self._locked():
            data = self._read()
            acls = self._scope(data, scope)["acls"]
            if principal not in acls:
                raise NotFound(f"No ACL for principal {principal} in scope {scope}", "list them: secrets/acls/list")
            del acls[principal]
            self._write(data)
