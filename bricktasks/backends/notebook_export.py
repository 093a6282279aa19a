"""The Workspace API's export and import formats over any backend that stores source notebooks.

| export format | notebook              | file        | folder                                     |
|---------------|-----------------------|-------------|--------------------------------------------|
| SOURCE        | source (`.py` ...)    | its bytes   | refused by the backend; the emulator serves DBC, as Databricks |
| AUTO, RAW     | source                | its bytes   | AUTO: zip of notebooks as source + files   |
| JUPYTER       | `.ipynb`              | refused     | refused                                    |
| HTML          | self-contained page   | refused     | refused                                    |
| DBC           | DBC archive           | refused     | DBC archive of its notebooks               |
| R_MARKDOWN    | refused (R notebooks only on Databricks; not served here)              |

Import: JUPYTER (an `.ipynb`), HTML (a page exported here or by Databricks) and AUTO of a valid
`.ipynb` become a source notebook; `notebook_from_import` does the conversion, the backend the write.
"""
from __future__ import annotations

import io
import posixpath
import zipfile
from typing import TYPE_CHECKING

from bricktasks.backends.base import NOTEBOOK_EXTENSIONS, ObjectType
from bricktasks.backends.notebook_archive import dbc_archive, from_html, html_page
from bricktasks.backends.notebook_jupyter import from_ipynb, is_ipynb, to_ipynb
from bricktasks.backends.notebook_source import Command, parse_source, render_source
from bricktasks.errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    from bricktasks.backends.base import Backend

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "check_export_format", "export_notebook", "export_file", "export_folder",
           "export_file_type", "notebook_from_import", "ipynb_notebook_path"]

EXPORT_FORMATS = ("SOURCE", "AUTO", "RAW", "HTML", "JUPYTER", "DBC", "R_MARKDOWN")
IMPORT_FORMATS = ("SOURCE", "AUTO", "RAW", "HTML", "JUPYTER", "DBC", "R_MARKDOWN")
# A backend's callers read `export(path)` as "a file's or notebook's bytes" (a folder there is a finding, not an
# archive), so SOURCE of a folder is refused here; the emulator asks for DBC instead, which is what Databricks sends.
_FOLDER_FORMATS = ("AUTO", "DBC")


def check_export_format(format: str) -> str:
    """The format upper-cased; InvalidRequest for a name the API does not have."""
    wanted = format.upper()
    if wanted not in EXPORT_FORMATS:
        raise InvalidRequest(f"unknown export format {format!r}", "use one of " + ", ".join(EXPORT_FORMATS))
    return wanted


def _commands(source: bytes, language: str) -> list[Command]:
    return parse_source(source.decode("utf-8", "replace"), language)


def export_notebook(source: bytes, language: str, name: str, format: str) -> bytes:
    """A notebook (its source bytes, header first) in an export format."""
    if format in ("SOURCE", "AUTO", "RAW"):
        return source
    if format == "JUPYTER":
        return to_ipynb(_commands(source, language), language, name)
    if format == "HTML":
        return html_page(_commands(source, language), language, name)
    if format == "DBC":
        return dbc_archive([(name, _commands(source, language), language)])
    raise InvalidRequest(f"export format {format} is not served here for notebooks", "use SOURCE, JUPYTER, HTML or DBC")


def export_file(content: bytes, path: str, format: str) -> bytes:
    """A workspace FILE: its bytes; notebook formats do not apply to it."""
    if format in ("SOURCE", "AUTO", "RAW"):
        return content
    raise InvalidRequest(f"{path} is a file, not a notebook: it exports only as SOURCE, AUTO or RAW")


def export_folder(backend: Backend, path: str, format: str) -> bytes:
    """A folder as Databricks exports one: DBC gives a DBC archive of its notebooks, AUTO a zip of its
    notebooks (as source files) and files. Objects deleted while we walk are left out."""
    if format not in _FOLDER_FORMATS:
        raise InvalidRequest(f"{path} is a folder: folders export only as DBC or AUTO (not {format})")
    top = posixpath.basename(path.rstrip("/")) or "Workspace"
    notebooks: list[tuple[str, list[Command], str]] = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, inside in _walk(backend, path, top):
            try:
                content = backend.export(info.path, format="SOURCE")
            except NotFound:
                continue
            if info.object_type is ObjectType.NOTEBOOK and info.language:
                notebooks.append((inside, _commands(content, info.language), info.language))
                if format == "AUTO":
                    archive.writestr(inside + NOTEBOOK_EXTENSIONS[info.language], content)
            elif format == "AUTO":
                archive.writestr(inside, content)
    return buffer.getvalue() if format == "AUTO" else dbc_archive(notebooks)


def _walk(backend: Backend, path: str, inside: str):
    try:
        children = backend.list(path)
    except NotFound:
        return
    for child in children:
        name = posixpath.basename(child.path)
        if child.object_type is ObjectType.DIRECTORY:
            yield from _walk(backend, child.path, f"{inside}/{name}")
        else:
            yield child, f"{inside}/{name}"


def export_file_type(kind: ObjectType, language: str | None, path: str, format: str) -> str:
    """The `file_type` the export answer carries: the extension of what was exported."""
    if kind is ObjectType.DIRECTORY:
        return "zip" if format == "AUTO" else "dbc"
    if kind is ObjectType.NOTEBOOK and language:
        special = {"JUPYTER": "ipynb", "HTML": "html", "DBC": "dbc"}
        return special.get(format, NOTEBOOK_EXTENSIONS[language].lstrip("."))
    return posixpath.splitext(path)[1].lstrip(".")


def ipynb_notebook_path(path: str, content: bytes) -> str | None:
    """Under AUTO, where an `.ipynb` lands as a notebook (its name without `.ipynb`); None when it stays a FILE
    (not an `.ipynb` name, or not a valid notebook: Databricks then keeps it as a file)."""
    stem = path[: -len(".ipynb")] if path.lower().endswith(".ipynb") else ""
    if not posixpath.basename(stem) or not is_ipynb(content):
        return None
    return stem


def notebook_from_import(content: bytes, format: str) -> tuple[bytes, str]:
    """The source notebook (bytes, language) an import in JUPYTER or HTML format makes; InvalidRequest if malformed."""
    if format == "JUPYTER":
        commands, language = from_ipynb(content)
    elif format == "HTML":
        commands, language = from_html(content)
    else:
        raise InvalidRequest(f"import format {format} is not served here", "use SOURCE, AUTO, JUPYTER, HTML or RAW")
    return render_source(commands, language).encode(), language
