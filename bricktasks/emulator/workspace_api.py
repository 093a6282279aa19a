"""Workspace API 2.0 over the local backend: import, export, list, get-status, delete, mkdirs."""
from __future__ import annotations

import base64
import contextlib
import os
from typing import Any

from bricktasks.backends.base import MAX_IMPORT_BYTES, NOTEBOOK_EXTENSIONS, ObjectInfo, ObjectType, notebook_language
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
    format = str(fields.get("format") or "SOURCE").upper()
    language = fields.get("language") or None
    is_notebook = format == "SOURCE" or (format == "AUTO" and notebook_language(os.path.basename(path), content[:64]))
    if len(content) > MAX_IMPORT_BYTES:  # a FILE too: the limit is the import's, whatever it creates
        message = f"File size imported is ({len(content)} bytes), exceeded max size (10485760 bytes)"
        raise ApiError(400, "MAX_NOTEBOOK_SIZE_EXCEEDED", message)
    overwrite = truthy(fields.get("overwrite"))
    if "auto-overwrite-file" in state.quirks and format == "AUTO" and overwrite and not is_notebook:
        with contextlib.suppress(NotFound):
            if state.backend.get_status(path).object_type is ObjectType.FILE:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Node named '{os.path.basename(path)}' already exists")
    state.backend.import_object(path, content, format=format, language=language, overwrite=overwrite)
    return json_response({})


def export(request: Request, state: EmulatorState, match) -> Response:
    path = request.target = _path(request.query.get("path"))
    format = (request.query.get("format") or "SOURCE").upper()
    if format not in ("SOURCE", "AUTO", "RAW"):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"export format {format} is not supported by the emulator; use SOURCE")
    info = state.backend.get_status(path)
    content = state.backend.export(path, format=format)
    if truthy(request.query.get("direct_download")):
        return Response(body=content, content_type="application/octet-stream")
    body: dict[str, Any] = {"content": base64.b64encode(content).decode()}
    if info.language:
        body["file_type"] = NOTEBOOK_EXTENSIONS[info.language].lstrip(".")
    else:
        body["file_type"] = os.path.splitext(path)[1].lstrip(".")
    return json_response(body)


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
