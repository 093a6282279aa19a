"""Workspace API 2.0 over the local backend: import, export, list, get-status, delete, mkdirs.

Export and import formats (SOURCE, AUTO, RAW, JUPYTER, HTML, DBC) are the backend's
(bricktasks.backends.notebook_export); this module adds what is HTTP: the JSON answer with
`file_type`, `direct_download`, the size limit and the API's error codes.
"""
from __future__ import annotations

import base64
import contextlib
import os
from typing import Any

from bricktasks.backends.base import MAX_IMPORT_BYTES, ObjectInfo, ObjectType, notebook_language
from bricktasks.backends.notebook_export import EXPORT_FORMATS, IMPORT_FORMATS, export_file_type, ipynb_notebook_path
from bricktasks.emulator.protocol import ApiError, Request, Response, decode_base64, json_response, truthy
from bricktasks.emulator.routing import EmulatorState, Route
from bricktasks.errors import NotFound

__all__ = ["ROUTES", "object_json"]



def object_json(info: ObjectInfo) -> dict[str, Any]:
    """ObjectInfo as the API answers it; object_id always (the legacy CLI crashes without it)."""
    body: dict[str, Any] = {"path": info.path, "object_type": info.object_type.value, "object_id": info.object_id or 0}
    if info.language:
        body["language"] = info.language
    if info.modified_at is not None:
        body["created_at"] = info.modified_at
        body["modified_at"] = info.modified_at
    if info.size is not None:
        body["size"] = info.size
    body["resource_id"] = str(info.object_id or 0)
    return body


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "path is required")
    return value


def import_object(request: Request, state: EmulatorState, match) -> Response:
    fields = request.body_fields()  # JSON with base64 content, or the SDK's multipart form
    path = request.target = _path(fields.get("path"))
    content = fields.get("content")
    content = content if isinstance(content, bytes) else decode_base64(content, "content")
    format = _format(fields.get("format"), IMPORT_FORMATS)
    language = fields.get("language") or None
    if language is not None and not isinstance(language, str):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "language must be one of PYTHON, SQL, SCALA, R")
    if len(content) > MAX_IMPORT_BYTES:  # a FILE too: the limit is the import's, whatever it creates
        message = f"File size imported is ({len(content)} bytes), exceeded max size (10485760 bytes)"
        raise ApiError(400, "MAX_NOTEBOOK_SIZE_EXCEEDED", message)
    overwrite = truthy(fields.get("overwrite"))
    if "auto-overwrite-file" in state.quirks and format == "AUTO" and overwrite and not _makes_notebook(path, content):
        with contextlib.suppress(NotFound):
            if state.backend.get_status(path).object_type is ObjectType.FILE:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Node named '{os.path.basename(path)}' already exists")
    state.backend.import_object(path, content, format=format, language=language, overwrite=overwrite)
    return json_response({})


def _makes_notebook(path: str, content: bytes) -> bool:
    """Whether an AUTO import makes a notebook (a headed source file or a valid .ipynb) rather than a FILE."""
    return bool(notebook_language(os.path.basename(path), content[:64])) or ipynb_notebook_path(path, content) is not None


def _format(value: Any, known: tuple[str, ...]) -> str:
    """The format field (SOURCE when absent); the API's own 400 for a name it does not have."""
    if value in (None, ""):
        return "SOURCE"
    if not isinstance(value, str) or value.upper() not in known:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid format {value!r}: use one of {', '.join(known)}")
    return value.upper()


def export(request: Request, state: EmulatorState, match) -> Response:
    path = request.target = _path(request.query.get("path"))
    format = _format(request.query.get("format"), EXPORT_FORMATS)
    info = state.backend.get_status(path)
    if info.object_type is ObjectType.DIRECTORY and format == "SOURCE":
        format = "DBC"  # Databricks answers a folder's SOURCE export with its DBC archive (databricks/cli's filer says so)
    content = state.backend.export(path, format=format)
    if len(content) > MAX_IMPORT_BYTES:
        message = f"The exported data ({len(content)} bytes) exceeds the limit of 10485760 bytes; export a smaller object"
        raise ApiError(400, "MAX_NOTEBOOK_SIZE_EXCEEDED", message)
    if truthy(request.query.get("direct_download")):
        return Response(body=content, content_type="application/octet-stream")
    file_type = export_file_type(info.object_type, info.language, path, format)
    return json_response({"content": base64.b64encode(content).decode(), "file_type": file_type})


def list_objects(request: Request, state: EmulatorState, match) -> Response:
    path = request.target = _path(request.query.get("path"))
    objects = state.backend.list(path)
    after = request.query.get("notebooks_modified_after")
    if after:
        objects = [o for o in objects if o.object_type.value != "NOTEBOOK" or (o.modified_at or 0) > int(after)]
    return json_response({"objects": [object_json(o) for o in objects]} if objects else {})  # no key when empty


def get_status(request: Request, state: EmulatorState, match) -> Response:
    path = request.target = _path(request.query.get("path"))
    return json_response(object_json(state.backend.get_status(path)))


def delete(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    path = request.target = _path(body.get("path"))
    state.backend.delete(path, recursive=truthy(body.get("recursive")))
    return json_response({})


def mkdirs(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    path = request.target = _path(body.get("path"))
    state.backend.mkdirs(path)
    return json_response({})


_BASE = r"/api/2\.0/workspace"
ROUTES = [
    Route.of("POST", _BASE + "/import", import_object, mutating=True, api="workspace"),
    Route.of("GET", _BASE + "/export", export, mutating=False, api="workspace"),
    Route.of("GET", _BASE + "/list", list_objects, mutating=False, api="workspace"),
    Route.of("GET", _BASE + "/get-status", get_status, mutating=False, api="workspace"),
    Route.of("POST", _BASE + "/delete", delete, mutating=True, api="workspace"),
    Route.of("POST", _BASE + "/mkdirs", mkdirs, mutating=True, api="workspace"),
]
