"""The files a task sends, as the workspace objects they become: `collect_source` selects them
(git's view, .gitignore, symbolic links refused: bricktasks.source.files) and reads their bytes
once, so the credential scan and the upload see exactly the same thing."""
from __future__ import annotations

import functools
import hashlib
import posixpath
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from bricktasks.backends.base import NOTEBOOK_EXTENSIONS, ObjectType, notebook_language
from bricktasks.source.files import read_file, select_files

__all__ = ["SourceItem", "collect_source", "is_hidden", "is_sent", "source_item", "with_replaced"]

SKIPPED_DIRS = {"__pycache__", "node_modules"}


@dataclass(frozen=True)
class SourceItem:
    """One local file and the workspace object it becomes."""

    local_rel: str  # path below the source folder, e.g. conf/ci_config.py
    remote_rel: str  # path below the destination, e.g. conf/ci_config (notebooks lose the extension)
    object_type: ObjectType
    content: bytes = field(repr=False)

    @functools.cached_property
    def digest(self) -> str:  # asked by the plan, the manifest and status: hashed once
        return hashlib.sha256(self.content).hexdigest()

    @property
    def import_rel(self) -> str:
        """The name to import under: AUTO strips a notebook's extension itself."""
        return self.local_rel



def is_hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/"))


def is_sent(rel: str) -> bool:
    """Whether a selected path is sent up: not hidden (`.env*` among them), not a cache."""
    return not (is_hidden(rel) or SKIPPED_DIRS & set(rel.split("/")) or rel.endswith(".pyc"))


def collect_source(source_dir: Path, *, replace: dict[str, bytes] | None = None, exclude: Collection[str] = ()) -> list[SourceItem]:
    """Every file below `source_dir` that git does not ignore, except hidden files, `.env*` and
    caches (bricktasks.source.files: git's own view; a symbolic link is refused, exit 2).

    `replace` maps a relative path to the content to send instead (e.g. set_environment);
    `exclude` names relative paths not to send at all.
    """
    replace = replace or {}
    selected = [rel for rel in select_files(source_dir, keep=is_sent) if rel not in exclude and rel not in replace]
    items = [source_item(rel, read_file(source_dir, rel)) for rel in selected]
    return with_replaced(items, replace)


def with_replaced(items: list[SourceItem], replace: dict[str, bytes]) -> list[SourceItem]:
    """`items` with the content of each relative path in `replace` sent instead (added if absent):
    one collection of the working copy then serves the secret scan, the name checks and the sync,
    which therefore see the same bytes."""
    kept = [item for item in items if item.local_rel not in replace]
    return sorted([*kept, *(source_item(rel, content) for rel, content in replace.items())], key=lambda item: item.local_rel)


def source_item(rel: str, content: bytes) -> SourceItem:
    """The workspace object the local file `rel` holding `content` becomes (a notebook by its header)."""
    language = notebook_language(posixpath.basename(rel), content[:64])
    if language:
        return SourceItem(rel, rel[: -len(NOTEBOOK_EXTENSIONS[language])], ObjectType.NOTEBOOK, content)
    return SourceItem(rel, rel, ObjectType.FILE, content)
