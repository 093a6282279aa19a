"""Databricks' own notebook model (`NotebookV1` JSON): the DBC archive and the HTML export built on it.

- DBC: a zip holding one `NotebookV1` JSON document per notebook, named after the notebook with
  the language as extension (`Evaluate.python`, `q.sql`), folders as zip folders.
- HTML: one self-contained page showing the notebook's commands (markdown rendered, code as
  text), which also carries the model the way Databricks' HTML export does:
  `var __DATABRICKS_NOTEBOOK_MODEL = '<base64 of the URL-encoded JSON>';`. Tools that read
  Databricks HTML exports decode that line; the page's Content-Security-Policy forbids running it,
  and nothing else on the page is a script. `from_html` reads the model back (HTML import).

Field names and values follow DBC files Databricks writes; results, widgets and dashboards are
left empty, as for a notebook exported without results.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import re
import urllib.parse
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from bricktasks.backends.notebook_html import esc, page, render_markdown
from bricktasks.backends.notebook_source import COMMENT, Command, clean_title
from bricktasks.errors import InvalidRequest

__all__ = ["DBC_EXTENSIONS", "notebook_model", "dbc_archive", "html_page", "from_html"]

DBC_EXTENSIONS = {"PYTHON": "python", "SQL": "sql", "SCALA": "scala", "R": "r"}
_MODEL = re.compile(r"__DATABRICKS_NOTEBOOK_MODEL = '([A-Za-z0-9+/=]*)'")


def _id(*parts: object) -> uuid.UUID:
    """Ids stable across exports of the same notebook (a diff of two exports shows only real changes)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "bricktasks:" + ":".join(map(str, parts)))


def notebook_model(commands: Sequence[Command], language: str, name: str) -> dict[str, Any]:
    """The `NotebookV1` document of one notebook."""
    return {
        "version": "NotebookV1",
        "origId": _id(name).int >> 76,  # a positive 52-bit number, as Databricks' ids are
        "name": name,
        "language": language.lower(),
        "commands": [_command_model(command, index, name) for index, command in enumerate(commands)],
        "dashboards": [],
        "guid": str(_id(name, "guid")),
        "globalVars": {},
        "iPythonMetadata": None,
        "inputWidgets": {},
        "notebookMetadata": {"pythonIndentUnit": 4},
    }


def _command_model(command: Command, index: int, name: str) -> dict[str, Any]:
    return {
        "version": "CommandV1",
        "origId": _id(name, index).int >> 76,
        "guid": str(_id(name, index, "guid")),
        "subtype": "command",
        "commandType": "auto",
        "position": float(index + 1),
        "command": command.text,
        "commandVersion": 0,
        "state": "input",
        "results": None,
        "errorSummary": None,
        "error": None,
        "workflows": [],
        "startTime": 0,
        "submitTime": 0,
        "finishTime": 0,
        "collapsed": False,
        "bindings": {},
        "inputWidgets": {},
        "displayType": "table",
        "width": "auto",
        "height": "auto",
        "commandTitle": command.title or "",
        "showCommandTitle": command.show_title,
        "hideCommandCode": False,
        "hideCommandResult": False,
        "iPythonMetadata": None,
        "nuid": str(_id(name, index, "nuid")),
    }


def dbc_archive(notebooks: Iterable[tuple[str, Sequence[Command], str]]) -> bytes:
    """A DBC archive of (path inside the archive without extension, commands, language) triples."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, commands, language in notebooks:
            name = path.rsplit("/", 1)[-1]
            document = json.dumps(notebook_model(commands, language, name), ensure_ascii=False)
            archive.writestr(f"{path}.{DBC_EXTENSIONS[language]}", document)
    return buffer.getvalue()


def html_page(commands: Sequence[Command], language: str, name: str) -> bytes:
    """The HTML export of one notebook: its commands shown, its model embedded."""
    model = json.dumps(notebook_model(commands, language, name), ensure_ascii=False, separators=(",", ":"))
    encoded = base64.b64encode(urllib.parse.quote(model, safe="").encode()).decode()
    cells = "".join(_cell_html(command, index, language) for index, command in enumerate(commands, 1))
    body = (
        f'<h1>{esc(name)}</h1><p class="meta">{esc(language.lower())} notebook · {len(commands)} command(s)</p>'
        f'<section class="notebook">{cells}</section>'
        f"\n<script>var __DATABRICKS_NOTEBOOK_MODEL = '{encoded}';</script>"  # base64 alphabet only: nothing to escape
    )
    return page(name, body).encode()


def _cell_html(command: Command, index: int, language: str) -> str:
    kind = (command.magic or "%" + language.lower()).lstrip("%")
    title = f" · {esc(command.title)}" if command.title and command.show_title else ""
    head = f'<div class="cell-head">Cmd {index} · {esc(kind)}{title}</div>'
    content = render_markdown(command.text) if command.magic == "%md" else f'<pre class="source">{esc(command.text)}</pre>'
    return f'<div class="cell kind-{esc(kind)}" id="cell-{index}">{head}{content}</div>'


def from_html(content: bytes) -> tuple[list[Command], str]:
    """The commands and language of a Databricks HTML export; InvalidRequest if it carries no notebook model."""
    found = _MODEL.search(content.decode("utf-8", "replace"))
    if not found:
        raise InvalidRequest("the content is not a Databricks HTML export: no notebook model in it", "export the notebook as HTML again")
    try:
        model = json.loads(urllib.parse.unquote(base64.b64decode(found.group(1), validate=True).decode("utf-8")))
        language = str(model["language"]).upper()
        listed = [entry for entry in model["commands"] if isinstance(entry, dict) and entry.get("subtype", "command") == "command"]
        ordered = sorted(listed, key=lambda entry: float(entry.get("position") or 0))
        commands = [
            Command(str(entry.get("command") or ""), clean_title(entry.get("commandTitle")), bool(entry.get("showCommandTitle")))
            for entry in ordered
        ]
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        message = f"the HTML export's notebook model is malformed ({type(exc).__name__})"
        raise InvalidRequest(message, "export the notebook as HTML again") from None
    if language not in COMMENT:
        raise InvalidRequest(f"the HTML export's language {language.lower()!r} is not one Databricks runs")
    return commands, language
