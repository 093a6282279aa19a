"""The HTTP side of the emulator: requests, responses, request bodies and API errors.

Handlers receive a `Request` (method, path, query, headers, a body they read as JSON, as
a multipart form, or as a stream) and return a `Response`. Errors are `ApiError`s carrying
the status and `{"error_code", "message"}` body that Databricks sends; `api_error_for`
translates the local backend's error types into them.
"""
from __future__ import annotations

import base64
import binascii
import email.parser
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Protocol

from bricktasks.errors import (
    AlreadyExists,
    AuthError,
    BricktasksError,
    Conflict,
    DirectoryNotEmpty,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientError,
)

__all__ = [
    "ApiError",
    "Request",
    "Response",
    "BodyReader",
    "content_length",
    "api_error_for",
    "json_response",
    "decode_base64",
    "parse_multipart",
    "truthy",
]

CHUNK = 1024 * 1024


class ApiError(Exception):
    """An error answer: HTTP status and the Databricks error body."""

    def __init__(self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        body = {"error_code": self.error_code, "message": self.message}
        return json_response(body, self.status, headers=self.headers)


# Which error code each API answers for the backend's error types: (status, error_code).
_ERROR_CODES: dict[str, dict[type, tuple[int, str]]] = {
    "workspace": {DirectoryNotEmpty: (400, "DIRECTORY_NOT_EMPTY")},
    "dbfs": {DirectoryNotEmpty: (400, "IO_ERROR")},
    "files": {DirectoryNotEmpty: (400, "FILES_API_DIRECTORY_IS_NOT_EMPTY"), AlreadyExists: (409, "ALREADY_EXISTS")},
}
_COMMON_CODES: dict[type, tuple[int, str]] = {
    NotFound: (404, "RESOURCE_DOES_NOT_EXIST"),
    AlreadyExists: (400, "RESOURCE_ALREADY_EXISTS"),
    Conflict: (400, "RESOURCE_ALREADY_EXISTS"),
    DirectoryNotEmpty: (400, "DIRECTORY_NOT_EMPTY"),
    InvalidRequest: (400, "INVALID_PARAMETER_VALUE"),
    PermissionDenied: (403, "PERMISSION_DENIED"),
    AuthError: (401, "UNAUTHENTICATED"),
    RateLimited: (429, "REQUEST_LIMIT_EXCEEDED"),
    TransientError: (503, "TEMPORARILY_UNAVAILABLE"),
}


def api_error_for(exc: BricktasksError, api: str) -> ApiError:
    """The answer Databricks gives for this kind of failure on this API (workspace, dbfs, files, jobs)."""
    for table in (_ERROR_CODES.get(api, {}), _COMMON_CODES):
        for kind in type(exc).__mro__:
            if kind in table:
                status, code = table[kind]
                return ApiError(status, code, exc.message)
    return ApiError(400, "INVALID_PARAMETER_VALUE", exc.message)


def truthy(value: Any, default: bool = False) -> bool:
    """A boolean from JSON (true), a form field ("true", "True") or a query string."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def decode_base64(value: Any, what: str) -> bytes:
    if value in (None, ""):
        return b""
    if not isinstance(value, str):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{what} is not valid base64") from None


def content_length(headers: Message) -> int:
    """The body's length from Content-Length (0 if absent or chunked); a 400 unless it is one plain
    decimal number: a negative, signed, fractional or non-numeric value, or two that differ, leave the
    body's end unknown (RFC 9112 6.3), and int() alone would take "-5", "+5" and "1_0"."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        return 0
    values = {value.strip() for header in headers.get_all("Content-Length") or [] for value in header.split(",")}
    if not values:
        return 0
    if len(values) > 1 or not all(re.fullmatch(r"[0-9]{1,19}", value) for value in values):
        raise ApiError(400, "MALFORMED_REQUEST", "Content-Length must be one non-negative whole number of bytes")
    return int(values.pop())


class ByteStream(Protocol):
    """What BodyReader reads from: a request's rfile, or BytesIO in tests."""

    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


class BodyReader:
    """Reads a request body framed by Content-Length or chunked transfer encoding, in pieces."""

    def __init__(self, stream: ByteStream, headers: Message, length: int | None = None) -> None:
        self._stream = stream
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        self._remaining = content_length(headers) if length is None else length
        self._chunk_left = 0
        self._done = not self.chunked and self._remaining == 0
        self.bytes_read = 0

    @property
    def done(self) -> bool:
        return self._done

    def read(self, size: int = CHUNK) -> bytes:
        """Up to `size` bytes; b"" at the end of the body."""
        if self._done:
            return b""
        data = self._read_chunked(size) if self.chunked else self._stream.read(min(size, self._remaining))
        if not self.chunked:
            if not data:
                raise ConnectionError("the client closed the connection mid-body")
            self._remaining -= len(data)
            self._done = self._remaining == 0
        self.bytes_read += len(data)
        return data

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._stream.readline(65537)
            if not line:
                raise ConnectionError("the client closed the connection mid-body")
            size_field = line.split(b";", 1)[0].strip() or b"0"
            if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_field):
                raise ApiError(400, "MALFORMED_REQUEST", "a chunk size of the body is not a hexadecimal number")
            self._chunk_left = int(size_field, 16)
            if self._chunk_left == 0:
                while self._stream.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return b""
        data = self._stream.read(min(size, self._chunk_left))
        if not data:
            raise ConnectionError("the client closed the connection mid-body")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._stream.readline(3)  # the CRLF after each chunk
        return data

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        while not self._done:
            data = self.read(size)
            if data:
                yield data

    def read_all(self, limit: int) -> bytes:
        parts, total = [], 0
        for data in self.chunks():
            total += len(data)
            if total > limit:
                raise ApiError(400, "MAX_REQUEST_SIZE_EXCEEDED", f"the request body is larger than {limit} bytes")
            parts.append(data)
        return b"".join(parts)

    def drain(self) -> None:
        for _ in self.chunks():
            pass


@dataclass
class Request:
    """One API request, as handlers see it. Handlers set `target` to the path or run they touched."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: BodyReader
    base_url: str
    target: str | None = None
    max_body: int = 64 * 1024 * 1024
    query_lists: dict[str, list[str]] = field(default_factory=dict)  # every value of each parameter

    def json(self) -> dict[str, Any]:
        raw = self.body.read_all(self.max_body)
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise ApiError(400, "MALFORMED_REQUEST", "the request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "MALFORMED_REQUEST", "the request body must be a JSON object")
        return value

    @property
    def is_multipart(self) -> bool:
        return (self.headers.get("Content-Type") or "").lower().startswith("multipart/form-data")

    def form(self) -> tuple[dict[str, str], dict[str, bytes]]:
        """A multipart form: (text fields, file parts). Parsed in memory: callers bound the size."""
        content_type = Message()
        content_type["Content-Type"] = self.headers.get("Content-Type") or ""
        boundary = content_type.get_param("boundary")
        if not boundary:
            raise ApiError(400, "MALFORMED_REQUEST", "the multipart body has no boundary")
        return parse_multipart(self.body.read_all(self.max_body), str(boundary).encode("latin-1"))

    def body_fields(self) -> dict[str, Any]:
        """JSON body, or a multipart form's fields and files merged (files as bytes)."""
        if self.is_multipart:
            fields, files = self.form()
            return {**fields, **files}
        return self.json()


def parse_multipart(raw: bytes, boundary: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """Split a multipart/form-data body byte-exactly (the email parser would touch binary parts)."""
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    sections = (b"\r\n" + raw).split(b"\r\n--" + boundary)
    for section in sections[1:]:
        if section.startswith(b"--"):
            break  # the closing delimiter
        head, separator, content = section.partition(b"\r\n\r\n")
        if not separator:
            raise ApiError(400, "MALFORMED_REQUEST", "a multipart part has no header end")
        headers = email.parser.HeaderParser().parsestr(head.lstrip(b"\r\n").decode("latin-1"))
        name = headers.get_param("name", header="content-disposition")
        if not name:
            continue
        if headers.get_param("filename", header="content-disposition") is not None:
            files[str(name)] = content
        else:
            fields[str(name)] = content.decode("utf-8", errors="replace")
    if not sections[1:]:
        raise ApiError(400, "MALFORMED_REQUEST", "the multipart body could not be parsed")
    return fields, files


@dataclass
class Response:
    """An answer: a JSON/bytes body, or a file region streamed from disk."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    file_offset: int = 0
    file_length: int = 0

    @property
    def length(self) -> int:
        return self.file_length if self.file is not None else len(self.body)


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, body=json.dumps(value).encode(), headers=dict(headers or {}))
