"""Notebook commands as a Jupyter `.ipynb` the way Databricks exports one (JUPYTER format), and back.

Export: one cell per command; a `%md` command becomes a markdown cell without its `%md` line,
every other command a code cell with its magic kept as the first line (`%sql`, `%run`, `%pip`);
the notebook's language and name go into `metadata["application/vnd.databricks.v1+notebook"]`,
titles into each cell's `application/vnd.databricks.v1+cell` metadata (Databricks' own keys, so
the workspace UI and `databricks bundle generate` read our files as theirs). nbformat 4.0, no
outputs, `execution_count` 0, as a Databricks export without results.

Import: any valid nbformat-4 notebook (nbformat reads and validates it); the language comes from
the Databricks metadata, else `language_info` or the kernel spec, else Python. Outputs are dropped,
as a source notebook has nowhere to keep them.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import nbformat

from bricktasks.backends.notebook_source import COMMENT, Command, clean_title
from bricktasks.errors import InvalidRequest

__all__ = ["NOTEBOOK_KEY", "CELL_KEY", "is_ipynb", "to_ipynb", "from_ipynb"]

NOTEBOOK_KEY = "application/vnd.databricks.v1+notebook"
CELL_KEY = "application/vnd.databricks.v1+cell"


def to_ipynb(commands: Sequence[Command], language: str, name: str) -> bytes:
    """The `.ipynb` bytes of a notebook named `name` (its last path part) in `language`."""
    cells = [_cell(command, index, name) for index, command in enumerate(commands)]
    notebook = nbformat.v4.new_notebook(cells=cells, nbformat_minor=0)
    notebook.metadata = {
        NOTEBOOK_KEY: {
            "dashboards": [],
            "environmentMetadata": None,
            "language": language.lower(),
            "notebookMetadata": {"pythonIndentUnit": 4},
            "notebookName": name,
            "widgets": {},
        },
        "language_info": {"name": language.lower()},
    }
    nbformat.validate(notebook)  # what we write must be what we accept
    return nbformat.writes(notebook).encode()


def _cell(command: Command, index: int, name: str) -> Any:
    metadata = {
        CELL_KEY: {
            "cellMetadata": {},
            "inputWidgets": {},
            # stable across exports of the same notebook, as a cell's id is in the workspace
            "nuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bricktasks:{name}:{index}")),
            "showTitle": command.show_title,
            "title": command.title or "",
        }
    }
    if command.magic == "%md":
        body = command.text.split("\n", 1)[1] if "\n" in command.text else command.text[len("%md"):].lstrip()
        cell = nbformat.v4.new_markdown_cell(body, metadata=metadata)
    else:
        cell = nbformat.v4.new_code_cell(command.text, metadata=metadata, execution_count=0)
    del cell["id"]  # cell ids belong to nbformat 4.5; Databricks writes 4.0 without them
    return cell


def is_ipynb(content: bytes) -> bool:
    """Whether `content` reads as a notebook Databricks would import (the AUTO rule for `.ipynb` files)."""
    try:
        from_ipynb(content)
    except InvalidRequest:
        return False
    return True


def from_ipynb(content: bytes) -> tuple[list[Command], str]:
    """The commands and language (PYTHON, SQL, SCALA, R) of an `.ipynb`; InvalidRequest if it is not a valid one."""
    try:
        raw = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"the content is not a Jupyter notebook: not JSON ({exc})", _HINT) from None
    cells = raw.get("cells") if isinstance(raw, dict) else None
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells) or not isinstance(raw.get("metadata"), dict):
        raise InvalidRequest("the content is not a Jupyter notebook: it needs `cells` and `metadata`", _HINT)
    if not isinstance(raw.get("nbformat"), int) or raw["nbformat"] < 4:
        raise InvalidRequest(f"unsupported Jupyter notebook version {raw.get('nbformat')!r}", "save it as nbformat 4")
    try:
        notebook = nbformat.from_dict(_with_cell_ids(raw))
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        message = str(exc.message if hasattr(exc, "message") else exc).split("\n", 1)[0][:200]
        raise InvalidRequest(f"the content is not a valid Jupyter notebook: {message}", _HINT) from None
    language = _language(notebook.metadata)
    return [_command(cell) for cell in notebook.cells], language


def _with_cell_ids(raw: dict[str, Any]) -> dict[str, Any]:
    """A 4.5+ notebook whose cells lack ids is common (older tools); Jupyter repairs it, so do we (ids are not kept)."""
    if not isinstance(raw.get("nbformat_minor"), int) or raw["nbformat_minor"] < 5:
        return raw
    cells = [
        {**cell, "id": cell.get("id") or f"cell-{index}"} if isinstance(cell, dict) else cell for index, cell in enumerate(raw["cells"])
    ]
    return {**raw, "cells": cells}


_HINT = "upload an .ipynb file saved by Jupyter or exported by Databricks"


def _language(metadata: Any) -> str:
    databricks = metadata.get(NOTEBOOK_KEY)
    candidates = [
        databricks.get("language") if isinstance(databricks, dict) else None,
        (metadata.get("language_info") or {}).get("name"),
        (metadata.get("kernelspec") or {}).get("language"),
    ]
    name = next((value for value in candidates if isinstance(value, str) and value), "python")
    language = name.upper()
    if language not in COMMENT:
        raise InvalidRequest(f"the notebook's language {name!r} is not one Databricks runs", "use python, sql, scala or r")
    return language


def _command(cell: Any) -> Command:
    source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
    meta = cell.metadata.get(CELL_KEY)
    meta = meta if isinstance(meta, dict) else {}
    title = clean_title(meta.get("title"))
    if cell.cell_type == "markdown":
        source = "%md\n" + source if source else "%md"
    return Command(source, title, bool(meta.get("showTitle")) and title is not None)
