"""Who the emulator's token belongs to, and the folders a new workspace has for them.

One user per emulator (`--user`, default `emulator@example.com`): SCIM Me and the SCIM users
endpoints answer it (scim_api.py), runs name it as their creator, and a root served for the first
time holds what a new workspace shows (reference 4): `/Users/<user>`, `/Shared`, `/Repos`, and on
DBFS `/tmp` and `/FileStore`. The folders are created when missing, never emptied or replaced, so a
root served before keeps everything it holds.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from bricktasks.backends.local_paths import LocalPaths

__all__ = ["DEFAULT_USER", "Identity", "user_name_problem", "ensure_default_folders"]

DEFAULT_USER = "emulator@example.com"
# a user's e-mail, or a service principal's application id (reference 4: userName is a UUID for those)
_EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
WORKSPACE_FOLDERS = ("Shared", "Repos")  # beside Users/<user>
DBFS_FOLDERS = ("tmp", "FileStore")


def user_name_problem(user_name: str) -> str | None:
    """Why `user_name` cannot be the emulator's user (it becomes a folder name), or None."""
    if len(user_name) > 254 or not (_EMAIL.fullmatch(user_name) or _UUID.fullmatch(user_name)):
        return (
            f"--user must be an e-mail address such as {DEFAULT_USER} (or a service principal's "
            f"application id, a UUID); got {user_name!r}"
        )
    return None


@dataclass(frozen=True)
class Identity:
    """The token's user as SCIM shows it (`iam.User`, reference 4)."""

    user_name: str

    def __post_init__(self) -> None:
        problem = user_name_problem(self.user_name)
        if problem:
            raise ValueError(problem)

    @property
    def id(self) -> str:
        # a numeric string like the real ids, the same for the same user on every start
        return str(int(hashlib.sha256(self.user_name.encode()).hexdigest()[:13], 16))

    @property
    def is_service_principal(self) -> bool:
        return _UUID.fullmatch(self.user_name) is not None

    @property
    def name_parts(self) -> tuple[str, str]:
        """(given, family) from the address's local part: `jane.doe@x` -> ("Jane", "Doe")."""
        words = [word.capitalize() for word in re.split(r"[._+-]+", self.user_name.split("@", 1)[0]) if word]
        if not words:
            return self.user_name, ""
        return words[0], " ".join(words[1:])

    @property
    def display_name(self) -> str:
        if self.is_service_principal:
            return self.user_name
        return " ".join(part for part in self.name_parts if part)

    def scim_json(self) -> dict[str, Any]:
        given, family = self.name_parts
        body: dict[str, Any] = {
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:workspace:2.0:User",
            ],
            "id": self.id,
            "userName": self.user_name,
            "displayName": self.display_name,
            "active": True,
            "groups": [],  # the emulator has no groups (whether the real API sends [] is unconfirmed)
            "entitlements": [{"value": "workspace-access"}, {"value": "allow-cluster-create"}],
        }
        if not self.is_service_principal:
            body["name"] = {"givenName": given, "familyName": family}
            body["emails"] = [{"type": "work", "value": self.user_name, "primary": True}]
        return body


def ensure_default_folders(paths: LocalPaths, identity: Identity) -> None:
    """Create what a new workspace holds, where missing (a file in the way is left alone)."""
    wanted = [paths.workspace / "Users" / identity.user_name, *(paths.workspace / name for name in WORKSPACE_FOLDERS)]
    wanted += [paths.dbfs / name for name in DBFS_FOLDERS]
    for folder in wanted:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a file (or a dangling link) of that name: the root's owner put it there
            pass
