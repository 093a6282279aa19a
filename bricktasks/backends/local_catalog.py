"""Unity Catalog of the local backend: catalogs, schemas and managed volumes, as the emulator serves them.

A securable exists when its folder does: catalog `c` is `<root>/volumes/c`, schema `c.s` is
`<root>/volumes/c/s`, volume `c.s.v` is `<root>/volumes/c/s/v`, the folder `/Volumes/c/s/v` stands
for. So a root written before the emulator served Unity Catalog keeps its volumes: the folders that
already hold files count as created. What the folder cannot hold (ids, comment, owner, creation
time) is in `<root>/unity-catalog/<kind>/<full name>.json`; a securable without that file is
described from its folder (a stable id from its name, its folder's time).

A fresh root has the catalog `main` with the schema `default`, as a new Unity Catalog workspace
does; they are made once (a marker remembers it), so deleting them lasts. Names are checked as
Unity Catalog checks them (no spaces, periods, slashes or control characters) and stored in lower
case, as Unity Catalog stores them, so a name is always one safe folder name. Creates and deletes
hold the catalog's lock across threads and processes; the folder's mkdir decides a race to create.

The local backend's own file writes stay free-form (a local root has no metastore to ask: writing
under /Volumes makes the folders); the emulator's Files API asks `require_volume` first, as a
workspace refuses a path in a volume that was never created.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bricktasks.backends.base import volume_address
from bricktasks.backends.local_paths import LocalPaths, store_lock
from bricktasks.errors import AlreadyExists, DirectoryNotEmpty, InvalidRequest, NotFound

__all__ = [
    "LocalCatalog", "Securable", "SecurableMissing", "SecurableExists", "SecurableNotEmpty",
    "DEFAULT_CATALOG", "DEFAULT_SCHEMA",
]

DEFAULT_CATALOG = "main"
DEFAULT_SCHEMA = "default"
LOCAL_USER = "emulator@localhost"  # the owner of what a local backend makes; the emulator passes its --user
METASTORE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "bricktasks-emulator-metastore"))
MAX_NAME_BYTES = 255  # one folder name on disk; Unity Catalog's own limit is the same
KINDS = ("catalog", "schema", "volume")
_SEEDED = ".defaults-created"


class SecurableMissing(NotFound):
    """A catalog, schema or volume that does not exist; `kind` says which."""

    def __init__(self, kind: str, full_name: str) -> None:
        super().__init__(f"{kind.capitalize()} '{full_name}' does not exist.")
        self.kind = kind


class SecurableExists(AlreadyExists):
    """A create of a catalog, schema or volume that exists already."""

    def __init__(self, kind: str, full_name: str) -> None:
        super().__init__(f"{kind.capitalize()} '{full_name}' already exists.")
        self.kind = kind


class SecurableNotEmpty(DirectoryNotEmpty):
    """A delete without force of a catalog holding schemas, or a schema holding volumes."""

    def __init__(self, kind: str, full_name: str, holds: str) -> None:
        super().__init__(
            f"Cannot delete {kind} '{full_name}': it is not empty (it holds {holds}).", "delete those first, or pass force=true"
        )
        self.kind = kind


@dataclass(frozen=True)
class Securable:
    """One catalog, schema or volume: its kind, name parts and stored details."""

    kind: str
    parts: tuple[str, ...]
    info: dict[str, Any]

    @property
    def full_name(self) -> str:
        return ".".join(self.parts)


def check_name(name: Any, kind: str, field: str = "name") -> str:
    """The name as Unity Catalog stores it (lower case), or InvalidRequest with its message."""
    rpc = {"catalog": "CreateCatalog", "schema": "CreateSchema", "volume": "CreateVolume"}[kind]
    if not isinstance(name, str):
        raise InvalidRequest(f"Invalid input: RPC {rpc} Field {field}: must be a string.")
    bad = (
        not name or any(char in name for char in " ./") or not name.isprintable()
        or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES
    )
    if bad:
        raise InvalidRequest(
            f"Invalid input: RPC {rpc} Field managedcatalog.{kind.capitalize()}Info.{field}: name {json.dumps(name)} is not a valid "
            "name. Valid names cannot contain spaces, periods, forward slashes, or control characters."
        )
    return name.lower()


def _now_ms() -> int:
    return int(time.time() * 1000)


class LocalCatalog:
    """Catalogs, schemas and volumes over a local root (see the module docstring)."""

    def __init__(self, paths: LocalPaths, *, owner: str = LOCAL_USER) -> None:
        self.paths = paths
        self.owner = owner  # created_by, updated_by and owner of what is created
        self._meta = paths.root / "unity-catalog"
        self._seeded = False

    # -- reading ------------------------------------------------------------------
    def get(self, kind: str, *parts: str) -> Securable:
        """The securable, or SecurableMissing for the first of its parents (or itself) that is missing."""
        self._ensure_defaults()
        for depth in range(1, len(parts) + 1):
            # a part no valid name makes (a slash, "..", a NUL from a decoded URL) names nothing on disk
            if not _safe_part(parts[depth - 1]) or not self._folder(parts[:depth]).is_dir():
                raise SecurableMissing(KINDS[depth - 1], ".".join(parts[:depth]))
        return self._describe(kind, tuple(parts))

    def children(self, *parts: str) -> list[Securable]:
        """The catalogs (no parts), a catalog's schemas or a schema's volumes, by name."""
        self._ensure_defaults()
        if parts:
            self.get(KINDS[len(parts) - 1], *parts)
        folder = self._folder(parts)
        kind = KINDS[len(parts)]
        names = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir() and _listable(entry.name))
        found = []
        for name in names:
            try:
                found.append(self._describe(kind, (*parts, name)))
            except FileNotFoundError:  # deleted while we listed
                continue
        return found

    def require_volume(self, path: str) -> tuple[str, str, str]:
        """The volume a `/Volumes/...` path lies in; InvalidRequest when it names none, SecurableMissing when
        that volume (or its schema or catalog) does not exist."""
        address = volume_address(path)
        if address is None:
            raise InvalidRequest(
                f"{path} is not a path inside a volume", "Volumes paths are /Volumes/<catalog>/<schema>/<volume>/..."
            )
        self.get("volume", *address)
        return address

    # -- creating and deleting -------------------------------------------------------------
    def create(self, kind: str, parts: tuple[str, ...], details: dict[str, Any]) -> Securable:
        """Make a catalog, schema or volume (its parents must exist); SecurableExists if it does."""
        self._ensure_defaults()
        with store_lock(self._meta):
            if len(parts) > 1:
                self.get(KINDS[len(parts) - 2], *parts[:-1])
            try:
                self._folder(parts).mkdir()
            except FileExistsError:
                raise SecurableExists(kind, ".".join(parts)) from None
            self._write(kind, parts, self._new_info(kind, parts, details))
        return self._describe(kind, parts)

    def delete(self, kind: str, parts: tuple[str, ...], *, force: bool = False) -> None:
        """Delete a securable with its folder; a catalog or schema that is not empty needs `force`.
        A volume's files go with it, as a managed volume's do."""
        self._ensure_defaults()
        with store_lock(self._meta):
            self.get(kind, *parts)
            folder = self._folder(parts)
            if kind != "volume" and not force:
                held = [entry.name for entry in os.scandir(folder) if entry.is_dir() and _listable(entry.name)]
                if held:
                    raise SecurableNotEmpty(kind, ".".join(parts), f"{KINDS[len(parts)]} {', '.join(sorted(held)[:5])}")
            shutil.rmtree(folder)
            full = ".".join(parts)
            for each in KINDS:  # the details of it and of everything inside it
                folder_of_kind = self._meta / each
                if folder_of_kind.is_dir():
                    for entry in os.scandir(folder_of_kind):
                        name = entry.name[: -len(".json")]
                        if name == full or name.startswith(full + "."):
                            Path(entry.path).unlink(missing_ok=True)

    # -- details -------------------------------------------------------------------------
    def _folder(self, parts: tuple[str, ...] | tuple[()]) -> Path:
        return self.paths.volumes.joinpath(*parts)

    def _new_info(self, kind: str, parts: tuple[str, ...], details: dict[str, Any]) -> dict[str, Any]:
        now = _now_ms()
        return {
            **details, f"{kind}_id": str(uuid.uuid4()), "created_at": now, "updated_at": now,
            "created_by": self.owner, "updated_by": self.owner, "owner": self.owner,
        }

    def _write(self, kind: str, parts: tuple[str, ...], info: dict[str, Any]) -> None:
        folder = self._meta / kind
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(info, handle)
            os.replace(temp, folder / f"{'.'.join(parts)}.json")
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def _stored(self, kind: str, parts: tuple[str, ...]) -> dict[str, Any]:
        try:
            value = json.loads((self._meta / kind / f"{'.'.join(parts)}.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def _describe(self, kind: str, parts: tuple[str, ...]) -> Securable:
        """Stored details over what the folder says: a folder from an older root has no stored details."""
        modified = int(self._folder(parts).stat().st_mtime * 1000)
        full = ".".join(parts)
        info: dict[str, Any] = {
            f"{kind}_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bricktasks-{kind}:{full}")),
            "created_at": modified, "updated_at": modified, "created_by": self.owner, "updated_by": self.owner, "owner": self.owner,
            **self._stored(kind, parts),
        }
        return Securable(kind, parts, info)

    def _ensure_defaults(self) -> None:
        """Once per root: the catalog `main` with the schema `default`, as a new workspace has them."""
        if self._seeded or (self._meta / _SEEDED).exists():
            self._seeded = True
            return
        with store_lock(self._meta):
            if not (self._meta / _SEEDED).exists():
                for parts, kind in (((DEFAULT_CATALOG,), "catalog"), ((DEFAULT_CATALOG, DEFAULT_SCHEMA), "schema")):
                    folder = self._folder(parts)
                    if not folder.is_dir():
                        folder.mkdir(parents=True)
                        self._write(kind, parts, self._new_info(kind, parts, {"comment": _DEFAULT_COMMENTS[kind]}))
                (self._meta / _SEEDED).touch()
        self._seeded = True


_DEFAULT_COMMENTS = {"catalog": "Main catalog (auto-created)", "schema": "Default schema (auto-created)"}


def _safe_part(name: str) -> bool:
    """A name that is one folder below its parent: never empty, a slash, NUL, "." or ".."."""
    return bool(name) and "/" not in name and "\x00" not in name and name not in (".", "..") and name.isprintable()


def _listable(name: str) -> bool:
    """Folders that can be securables: a hidden or temporary folder, or one no valid name makes, is none."""
    return not name.startswith(".") and " " not in name and name.isprintable() and name == name.lower()
