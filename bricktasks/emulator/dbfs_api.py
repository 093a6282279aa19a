"""DBFS API 2.0 over the local backend: put, create/add-block/close, read, get-status, list, delete, mkdirs, move.

Paths arrive as `dbfs:/x` or `/x` and are answered as `/x`. delete of a missing path succeeds, as
on Databricks. Streamed uploads write their
blocks to a spool file and publish it under the final name on close (the backend renames a
finished temporary file into place), so nobody ever sees half a file.
"""
from __future__ import annotations

import base64
from typing import Any

from bricktasks.backends.base import FileInfo
from bricktasks.emulator.protocol import ApiError, Request, Response, decode_base64, json_response, truthy
from bricktasks.emulator.routing import EmulatorState, Route
from bricktasks.errors import NotFound

__all__ = ["ROUTES", "dbfs_path"]

MAX_BLOCK = 1024 * 1024
DEFAULT_READ = 512 * 1024
PUT_BODY_LIMIT = 4 * MAX_BLOCK  # one base64 block of 1 MB with its JSON, or a small multipart put
MULTIPART_PUT_LIMIT = 2 * 1024 * 1024 * 1024


def dbfs_path(value: Any, what: str = "path") -> str:
    """'dbfs:/x' or '/x' -> the backend's 'dbfs:/x'."""
    if not isinstance(value, str) or not value:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{what} is required")
    plain = value[len("dbfs:"):] if value.startswith("dbfs:") else value
    if not plain.startswith("/"):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Path must be absolute: {value}")
    return "dbfs:" + plain


def _answer_path(path: str) -> str:
    return path[len("dbfs:"):]


def file_json(info: FileInfo) -> dict[str, Any]:
    return {
        "path": _answer_path(info.path).rstrip("/") or "/",
        "is_dir": info.is_dir,
        "file_size": info.size,
        "modification_time": info.modified_at,
    }


def _exists(state: EmulatorState, path: str) -> FileInfo | None:
    try:
        return state.backend.file_status(path)
    except NotFound:
        return None


def _check_target(state: EmulatorState, path: str, overwrite: bool) -> None:
    existing = _exists(state, path)
    if existing is not None and (existing.is_dir or not overwrite):
        raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"A file or directory already exists at the input path {_answer_path(path)}.")


def _block(value: Any) -> bytes:
    data = decode_base64(value, "data")
    if len(data) > MAX_BLOCK:
        raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", f"The block is {len(data)} bytes; the limit is {MAX_BLOCK} bytes.")
    return data


def put(request: Request, state: EmulatorState, match) -> Response:
    if request.is_multipart:
        request.max_body = MULTIPART_PUT_LIMIT
        fields, files = request.form()
        path = request.target = dbfs_path(fields.get("path"))
        content = files.get("file", files.get("contents"))
        if content is None:
            content = decode_base64(fields.get("contents"), "contents")
        overwrite = truthy(fields.get("overwrite"))  # the legacy CLI sends "True" / "False"
    else:
        request.max_body = PUT_BODY_LIMIT
        body = request.json()
        path = request.target = dbfs_path(body.get("path"))
        content = decode_base64(body.get("contents"), "contents")
        if len(content) > MAX_BLOCK:
            raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", "contents is larger than 1 MB; use create, add-block and close")
        overwrite = truthy(body.get("overwrite"))
    _check_target(state, path, overwrite)
    spool = state.spool_file()
    try:
        spool.write_bytes(content)
        state.backend.upload_file(path, spool, overwrite=overwrite)
    finally:
        spool.unlink(missing_ok=True)
    return json_response({})


def create(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    path = request.target = dbfs_path(body.get("path"))
    overwrite = truthy(body.get("overwrite"))
    _check_target(state, path, overwrite)
    return json_response({"handle": state.open_handle(path, overwrite)})


def _handle_id(body: dict[str, Any]) -> int:
    handle = body.get("handle")
    if handle is None:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "handle is required")
    try:
        return int(handle)
    except (TypeError, ValueError):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "handle is required") from None


def add_block(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    handle_id = _handle_id(body)
    handle = state.handle(handle_id)
    if handle is None:
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"There is no open stream with handle {handle_id}.")
    request.target = handle.path
    data = _block(body.get("data"))
    with handle.lock, open(handle.spool, "ab") as out:
        out.write(data)
    return json_response({})


def close(request: Request, state: EmulatorState, match) -> Response:
    handle_id = _handle_id(request.json())
    handle = state.close_handle(handle_id)
    if handle is None:
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"There is no open stream with handle {handle_id}.")
    request.target = handle.path
    try:
        with handle.lock:
            state.backend.upload_file(handle.path, handle.spool, overwrite=handle.overwrite)
    finally:
        handle.spool.unlink(missing_ok=True)
    return json_response({})


def read(request: Request, state: EmulatorState, match) -> Response:
    path = dbfs_path(request.query.get("path"))
    request.target = path
    try:
        offset = int(request.query.get("offset") or 0)
        length = int(request.query.get("length") or DEFAULT_READ)
    except ValueError:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "offset and length must be integers") from None
    if offset < 0 or length < 0:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "offset and length must not be negative")
    if length > MAX_BLOCK:
        raise ApiError(400, "MAX_READ_SIZE_EXCEEDED", f"Cannot read more than {MAX_BLOCK} bytes at once.")
    info = state.backend.file_status(path)
    if info.is_dir:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Cannot read a directory: {_answer_path(path)}")
    with open(state.backend.paths.file_path(path), "rb") as source:
        source.seek(offset)
        data = source.read(length)
    return json_response({"bytes_read": len(data), "data": base64.b64encode(data).decode()})


def get_status(request: Request, state: EmulatorState, match) -> Response:
    path = dbfs_path(request.query.get("path"))
    request.target = path
    return json_response(file_json(state.backend.file_status(path)))


def list_files(request: Request, state: EmulatorState, match) -> Response:
    path = dbfs_path(request.query.get("path"))
    request.target = path
    files = [file_json(info) for info in state.backend.list_files(path)]
    return json_response({"files": files} if files else {})


def delete(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    path = dbfs_path(body.get("path"))
    request.target = path
    try:
        state.backend.delete_file(path, recursive=truthy(body.get("recursive")))
    except NotFound:  # Databricks answers 200 for a path that is not there (reference 9)
        pass
    return json_response({})


def mkdirs(request: Request, state: EmulatorState, match) -> Response:
    path = dbfs_path(request.json().get("path"))
    request.target = path
    state.backend.mkdirs_files(path)
    return json_response({})


def move(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    source = dbfs_path(body.get("source_path"), "source_path")
    destination = dbfs_path(body.get("destination_path"), "destination_path")
    request.target = destination
    state.backend.file_status(source)  # a missing source is 404 before the destination is looked at
    _check_target(state, destination, overwrite=False)
    state.backend.move_file(source, destination)
    return json_response({})


_BASE = r"/api/2\.0/dbfs"
ROUTES = [
    Route.of("POST", _BASE + "/put", put, mutating=True, api="dbfs"),
    Route.of("POST", _BASE + "/create", create, mutating=True, api="dbfs"),
    Route.of("POST", _BASE + "/add-block", add_block, mutating=True, api="dbfs"),
    Route.of("POST", _BASE + "/close", close, mutating=True, api="dbfs"),
    Route.of("GET", _BASE + "/read", read, mutating=False, api="dbfs"),
    Route.of("GET", _BASE + "/get-status", get_status, mutating=False, api="dbfs"),
    Route.of("GET", _BASE + "/list", list_files, mutating=False, api="dbfs"),
    Route.of("POST", _BASE + "/delete", delete, mutating=True, api="dbfs"),
    Route.of("POST", _BASE + "/mkdirs", mkdirs, mutating=True, api="dbfs"),
    Route.of("POST", _BASE + "/move", move, mutating=True, api="dbfs"),
]
