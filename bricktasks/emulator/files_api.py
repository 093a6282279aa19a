"""Files API (Unity Catalog Volumes) over the local backend: files and directories under /Volumes.

Uploads stream the raw body to a spool file in 1 MB pieces and then publish it under the
final name, so a large upload never sits in memory and never shows half-written.
`create-download-url` answers 404, which makes the SDK fall back to a plain GET. A path is served
only once its volume exists (created with the Unity Catalog API, unity_catalog_api.py); the root
of a volume is not deleted here, only with the volume.
"""
from __future__ import annotations

import email.utils
import re
from typing import Any
from urllib.parse import unquote

from bricktasks.backends.base import FileInfo
from bricktasks.emulator.protocol import CHUNK, ApiError, Request, Response, json_response, truthy
from bricktasks.emulator.routing import EmulatorState, Route
from bricktasks.errors import NotFound

__all__ = ["ROUTES"]

DEFAULT_PAGE_SIZE = 1000


def _volume_path(match: re.Match[str], request: Request, state: EmulatorState) -> str:
    """The request's path, once its volume exists: a path in a volume never created is a 404, as on a
    workspace (a folder from an older root counts as created: see backends/local_catalog.py)."""
    path = unquote(match.group("path"))
    request.target = path
    if not path.startswith("/Volumes/") or path.rstrip("/") == "/Volumes":
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{path} is not a path under /Volumes/<catalog>/<schema>/<volume>")
    state.backend.catalog.require_volume(path)  # InvalidRequest 400, SecurableMissing 404: before any disk access
    return path.rstrip("/") if len(path) > 1 else path


def _is_volume_root(path: str) -> bool:
    return len([part for part in path.split("/") if part]) == 4  # Volumes, catalog, schema, volume


def _status(state: EmulatorState, path: str) -> FileInfo | None:
    try:
        return state.backend.file_status(path)
    except NotFound:
        return None


def _not_found(path: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"The file or directory {path} does not exist.")


def _file_headers(info: FileInfo) -> dict[str, str]:
    return {"Last-Modified": email.utils.formatdate(info.modified_at / 1000, usegmt=True)}


# -- files ---------------------------------------------------------------------------
def put_file(request: Request, state: EmulatorState, match) -> Response:
    path = _volume_path(match, request, state)
    overwrite = truthy(request.query.get("overwrite"), default=True)  # unspecified means overwrite
    existing = _status(state, path)
    if existing is not None and existing.is_dir:
        raise ApiError(409, "ALREADY_EXISTS", f"{path} is a directory.")
    if existing is not None and not overwrite:
        raise ApiError(409, "ALREADY_EXISTS", "The file being created already exists.")
    spool = state.spool_file()
    try:
        with open(spool, "wb") as out:
            for data in request.body.chunks(CHUNK):  # streamed: memory stays at one chunk
                out.write(data)
        state.backend.upload_file(path, spool, overwrite=overwrite)
    finally:
        spool.unlink(missing_ok=True)
    return Response(status=204)


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single `bytes=` range, or None when it is unsatisfiable."""
    found = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not found or (not found.group(1) and not found.group(2)):
        return None
    if not found.group(1):  # the last N bytes
        length = int(found.group(2))
        return (max(0, size - length), size - 1) if length and size else None
    start = int(found.group(1))
    end = min(int(found.group(2)), size - 1) if found.group(2) else size - 1
    return (start, end) if start <= end and start < size else None


def get_file(request: Request, state: EmulatorState, match) -> Response:
    path = _volume_path(match, request, state)
    info = _status(state, path)
    if info is None or info.is_dir:
        raise _not_found(path)
    disk = state.backend.paths.file_path(path)
    headers = {**_file_headers(info), "Accept-Ranges": "bytes"}
    range_header = request.headers.get("Range")
    if range_header:
        window = _byte_range(range_header, info.size)
        if window is None:
            unsatisfiable = {"Content-Range": f"bytes */{info.size}"}
            raise ApiError(416, "INVALID_PARAMETER_VALUE", f"Range {range_header} is not satisfiable", unsatisfiable)
        start, end = window
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        return Response(
            206, content_type="application/octet-stream", headers=headers, file=disk, file_offset=start, file_length=end - start + 1
        )
    return Response(200, content_type="application/octet-stream", headers=headers, file=disk, file_length=info.size)


def head_file(request: Request, state: EmulatorState, match) -> Response:
    path = _volume_path(match, request, state)
    info = _status(state, path)
    if info is None or info.is_dir:
        raise _not_found(path)
    # HEAD answers the GET's headers with no body: the server writes Content-Length from file_length
    disk = state.backend.paths.file_path(path)
    return Response(200, content_type="application/octet-stream", headers=_file_headers(info), file=disk, file_length=info.size)


def delete_file(request: Request, state: EmulatorState, match) -> Response:
    path = _volume_path(match, request, state)
    info = _status(state, path)
    if info is None:
        raise _not_found(path)
    if info.is_dir:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{path} is a directory; delete it with the directories API.")
    state.backend.delete_file(path)
    return Response(status=204)


# -- directories ------------------------------------------------------------------------
def put_directory(request: Request, state: EmulatorState, match) -> Response:
    path = _volume_path(match, request, state)
    existing = _status(state, path)
    if existing is not None and not existing.is_dir:
        raise ApiError(409, "ALREADY_EXISTS", f"A file exists at {path}.")
    state.backend.mkdirs_files(path)
    return Response(status=204)


def head_directory(request: Request, state: EmulatorState, match) -> Response:
    path = _volume_path(match, request, state)
    info = _status(state, path)
    if info is None or not info.is_dir:
        raise _not_found(path)
    return Response(status=200)


def _entry(info: FileInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": info.path, "name": info.path.rstrip("/").rsplit("/", 1)[-1], "is_directory": info.is_dir}
    if not info.is_dir:
        entry["file_size"] = info.size
        entry["last_modified"] = info.modified_at
    return entry


def list_directory(request: Request, state: EmulatorState, match) -> Response:
    path = _volume_path(match, request, state)
    info = _status(state, path)
    if info is None or not info.is_dir:
        raise _not_found(path)
    try:
        page_size = int(request.query.get("page_size") or DEFAULT_PAGE_SIZE)
        start = int(request.query.get("page_token") or 0)
    except ValueError:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "page_size and page_token must be what this API returned") from None
    entries = state.backend.list_files(path)
    page = entries[start : start + max(1, page_size)]
    body: dict[str, Any] = {"contents": [_entry(item) for item in page]} if page else {}
    if start + len(page) < len(entries):
        body["next_page_token"] = str(start + len(page))
    return json_response(body)


def delete_directory(request: Request, state: EmulatorState, match) -> Response:
    path = _volume_path(match, request, state)
    info = _status(state, path)
    if info is None or not info.is_dir:
        raise _not_found(path)
    if _is_volume_root(path):
        raise ApiError(
            400, "INVALID_PARAMETER_VALUE", f"{path} is the root of a volume: delete the volume with the Unity Catalog API instead."
        )
    state.backend.delete_file(path, recursive=False)  # DirectoryNotEmpty -> FILES_API_DIRECTORY_IS_NOT_EMPTY
    return Response(status=204)


def initiate_upload(request: Request, state: EmulatorState, match) -> Response:
    _volume_path(match, request, state)
    # presigned multipart uploads are not emulated; the SDK then falls back to one PUT
    raise ApiError(404, "ENDPOINT_NOT_FOUND", "multipart uploads are not supported by the emulator")


def create_download_url(request: Request, state: EmulatorState, match) -> Response:
    raise ApiError(404, "ENDPOINT_NOT_FOUND", "presigned download URLs are not supported by the emulator")


_FILE = r"/api/2\.0/fs/files(?P<path>/.*)"
_DIRECTORY = r"/api/2\.0/fs/directories(?P<path>/.*)"
ROUTES = [
    Route.of("PUT", _FILE, put_file, mutating=True, api="files"),
    Route.of("POST", _FILE, initiate_upload, mutating=False, api="files"),  # ?action=initiate-upload
    Route.of("GET", _FILE, get_file, mutating=False, api="files"),
    Route.of("HEAD", _FILE, head_file, mutating=False, api="files"),
    Route.of("DELETE", _FILE, delete_file, mutating=True, api="files"),
    Route.of("PUT", _DIRECTORY, put_directory, mutating=True, api="files"),
    Route.of("HEAD", _DIRECTORY, head_directory, mutating=False, api="files"),
    Route.of("GET", _DIRECTORY, list_directory, mutating=False, api="files"),
    Route.of("DELETE", _DIRECTORY, delete_directory, mutating=True, api="files"),
    Route.of("POST", r"/api/2\.0/fs/create-download-url", create_download_url, mutating=False, api="files"),
]
