"""Unity Catalog API 2.1, minimal: catalogs, schemas and managed volumes (create, get, list, delete).

HTTP on the local backend's catalog (`backends/local_catalog.py`, where the state and the naming
rules live). Answers carry the real field names (CatalogInfo, SchemaInfo, VolumeInfo) and the real
errors: `Catalog 'x' does not exist.` (404 CATALOG_DOES_NOT_EXIST), `Schema 'c.s' does not exist.`
(SCHEMA_DOES_NOT_EXIST), `Volume 'c.s.v' does not exist.` (404 NOT_FOUND), a create of an existing
one 409, a non-empty delete without force 400 CATALOG_NOT_EMPTY / SCHEMA_NOT_EMPTY, an invalid name
400 INVALID_PARAMETER_VALUE with Unity Catalog's message. Lists page with `max_results` (0: the
server's page) and `page_token`, and omit `next_page_token` on the last page.

Not emulated: EXTERNAL volumes (no external locations here: 400), updates (PATCH), grants, tables,
the `information_schema` schema a real catalog lists.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from bricktasks.backends.local_catalog import (
    METASTORE_ID,
    Securable,
    SecurableExists,
    SecurableMissing,
    SecurableNotEmpty,
    check_name,
)
from bricktasks.emulator.protocol import ApiError, Request, Response, json_response, truthy
from bricktasks.emulator.routing import EmulatorState, Route
from bricktasks.errors import InvalidRequest

__all__ = ["ROUTES"]

SERVER_PAGE = 1000  # the page max_results=0 (what the SDK sends) gets
_MISSING_CODES = {"catalog": "CATALOG_DOES_NOT_EXIST", "schema": "SCHEMA_DOES_NOT_EXIST", "volume": "NOT_FOUND"}
_EXISTS_CODES = {"catalog": "CATALOG_ALREADY_EXISTS", "schema": "SCHEMA_ALREADY_EXISTS", "volume": "RESOURCE_ALREADY_EXISTS"}
_NOT_EMPTY_CODES = {"catalog": "CATALOG_NOT_EMPTY", "schema": "SCHEMA_NOT_EMPTY"}
_STRING_FIELDS = ("comment", "storage_root")


def _answer(exc: Exception) -> ApiError:
    """The Unity Catalog answer for one of the catalog's errors."""
    if isinstance(exc, SecurableMissing):
        return ApiError(404, _MISSING_CODES[exc.kind], exc.message)
    if isinstance(exc, SecurableExists):
        return ApiError(409, _EXISTS_CODES[exc.kind], exc.message)
    if isinstance(exc, SecurableNotEmpty):
        return ApiError(400, _NOT_EMPTY_CODES[exc.kind], exc.one_line())
    if isinstance(exc, InvalidRequest):
        return ApiError(400, "INVALID_PARAMETER_VALUE", exc.message)
    raise exc


def _catalog_errors(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except (SecurableMissing, SecurableExists, SecurableNotEmpty, InvalidRequest) as exc:
        raise _answer(exc) from None


def _full_name(match: re.Match[str], request: Request, parts: int) -> tuple[str, ...]:
    """The path's `c[.s[.v]]` split in its parts; a name with too few or too many parts names nothing."""
    name = unquote(match.group("name"))
    request.target = name
    split = tuple(name.split("."))
    if len(split) != parts:
        kind = ("catalog", "schema", "volume")[parts - 1]
        raise ApiError(404, _MISSING_CODES[kind], f"{kind.capitalize()} '{name}' does not exist.")
    return split


def _field(body: dict[str, Any], field: str, kind: str) -> str:
    if field not in body or body[field] in (None, ""):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Missing required field: {field}")
    return _catalog_errors(check_name, body[field], kind, field)


def _details(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for field in allowed:
        value = body.get(field)
        if value is None:
            continue
        if field == "properties":
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise ApiError(400, "INVALID_PARAMETER_VALUE", "properties must be an object of string values")
        elif not isinstance(value, str):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{field} must be a string")
        details[field] = value
    return details


def _page(request: Request, items: list[dict[str, Any]], key: str) -> Response:
    raw_max, raw_token = request.query.get("max_results"), request.query.get("page_token")
    try:
        limit = int(raw_max) if raw_max not in (None, "") else 0
        start = int(raw_token) if raw_token not in (None, "") else 0
    except ValueError:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "max_results and page_token must be what this API returned") from None
    if limit < 0 or start < 0:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "max_results must be 0 or more")
    size = min(limit, SERVER_PAGE) if limit else SERVER_PAGE
    page = items[start : start + size]
    body: dict[str, Any] = {key: page}
    if start + len(page) < len(items):
        body["next_page_token"] = str(start + len(page))
    return json_response(body)


# -- what each securable answers -------------------------------------------------------
def _catalog_info(found: Securable) -> dict[str, Any]:
    return {
        **found.info, "name": found.parts[0], "full_name": found.full_name, "catalog_type": "MANAGED_CATALOG",
        "metastore_id": METASTORE_ID, "isolation_mode": "OPEN", "browse_only": False,
    }


def _schema_info(found: Securable) -> dict[str, Any]:
    return {
        **found.info, "name": found.parts[1], "catalog_name": found.parts[0], "full_name": found.full_name,
        "catalog_type": "MANAGED_CATALOG", "metastore_id": METASTORE_ID, "browse_only": False,
    }


def _volume_info(found: Securable) -> dict[str, Any]:
    info = {
        **found.info, "name": found.parts[2], "catalog_name": found.parts[0], "schema_name": found.parts[1],
        "full_name": found.full_name, "volume_type": "MANAGED", "metastore_id": METASTORE_ID, "browse_only": False,
    }
    info.setdefault("storage_location", f"emulator://metastore/{METASTORE_ID}/volumes/{info['volume_id']}")
    return info


# -- catalogs ---------------------------------------------------------------------------
def create_catalog(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    name = _field(body, "name", "catalog")
    request.target = name
    details = _details(body, (*_STRING_FIELDS, "properties"))
    return json_response(_catalog_info(_catalog_errors(state.backend.catalog.create, "catalog", (name,), details)))


def get_catalog(request: Request, state: EmulatorState, match) -> Response:
    parts = _full_name(match, request, 1)
    return json_response(_catalog_info(_catalog_errors(state.backend.catalog.get, "catalog", *parts)))


def list_catalogs(request: Request, state: EmulatorState, match) -> Response:
    return _page(request, [_catalog_info(found) for found in state.backend.catalog.children()], "catalogs")


def delete_catalog(request: Request, state: EmulatorState, match) -> Response:
    parts = _full_name(match, request, 1)
    _catalog_errors(state.backend.catalog.delete, "catalog", parts, force=truthy(request.query.get("force")))
    return json_response({})


# -- schemas ------------------------------------------------------------------------------
def create_schema(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    catalog, name = _field(body, "catalog_name", "schema"), _field(body, "name", "schema")
    request.target = f"{catalog}.{name}"
    details = _details(body, (*_STRING_FIELDS, "properties"))
    return json_response(_schema_info(_catalog_errors(state.backend.catalog.create, "schema", (catalog, name), details)))


def get_schema(request: Request, state: EmulatorState, match) -> Response:
    parts = _full_name(match, request, 2)
    return json_response(_schema_info(_catalog_errors(state.backend.catalog.get, "schema", *parts)))


def list_schemas(request: Request, state: EmulatorState, match) -> Response:
    catalog = request.query.get("catalog_name")
    if not catalog:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "Missing required field: catalog_name")
    request.target = catalog
    found = _catalog_errors(state.backend.catalog.children, catalog)
    return _page(request, [_schema_info(each) for each in found], "schemas")


def delete_schema(request: Request, state: EmulatorState, match) -> Response:
    parts = _full_name(match, request, 2)
    _catalog_errors(state.backend.catalog.delete, "schema", parts, force=truthy(request.query.get("force")))
    return json_response({})


# -- volumes ------------------------------------------------------------------------------
def create_volume(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    parts = (_field(body, "catalog_name", "volume"), _field(body, "schema_name", "volume"), _field(body, "name", "volume"))
    request.target = ".".join(parts)
    volume_type = body.get("volume_type")
    if volume_type in (None, ""):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "Missing required field: volume_type")
    if volume_type not in ("MANAGED", "EXTERNAL"):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"volume_type must be MANAGED or EXTERNAL, not {str(volume_type)[:40]!r}")
    if volume_type == "EXTERNAL":
        raise ApiError(
            400, "INVALID_PARAMETER_VALUE",
            "External volumes need an external location, which the emulator does not have: create a MANAGED volume.",
        )
    if body.get("storage_location") not in (None, ""):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "CreateVolume storage_location can not be provided.")
    details = _details(body, ("comment",))
    return json_response(_volume_info(_catalog_errors(state.backend.catalog.create, "volume", parts, details)))


def read_volume(request: Request, state: EmulatorState, match) -> Response:
    parts = _full_name(match, request, 3)
    return json_response(_volume_info(_catalog_errors(state.backend.catalog.get, "volume", *parts)))


def list_volumes(request: Request, state: EmulatorState, match) -> Response:
    catalog, schema = request.query.get("catalog_name"), request.query.get("schema_name")
    for field, value in (("catalog_name", catalog), ("schema_name", schema)):
        if not value:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Missing required field: {field}")
    request.target = f"{catalog}.{schema}"
    found = _catalog_errors(state.backend.catalog.children, catalog, schema)
    return _page(request, [_volume_info(each) for each in found], "volumes")


def delete_volume(request: Request, state: EmulatorState, match) -> Response:
    parts = _full_name(match, request, 3)
    _catalog_errors(state.backend.catalog.delete, "volume", parts)
    return json_response({})


_BASE = r"/api/2\.1/unity-catalog"
_NAME = r"/(?P<name>[^/]+)"
ROUTES = [
    Route.of("POST", _BASE + "/catalogs", create_catalog, mutating=True, api="unity-catalog"),
    Route.of("GET", _BASE + "/catalogs", list_catalogs, mutating=False, api="unity-catalog"),
    Route.of("GET", _BASE + "/catalogs" + _NAME, get_catalog, mutating=False, api="unity-catalog"),
    Route.of("DELETE", _BASE + "/catalogs" + _NAME, delete_catalog, mutating=True, api="unity-catalog"),
    Route.of("POST", _BASE + "/schemas", create_schema, mutating=True, api="unity-catalog"),
    Route.of("GET", _BASE + "/schemas", list_schemas, mutating=False, api="unity-catalog"),
    Route.of("GET", _BASE + "/schemas" + _NAME, get_schema, mutating=False, api="unity-catalog"),
    Route.of("DELETE", _BASE + "/schemas" + _NAME, delete_schema, mutating=True, api="unity-catalog"),
    Route.of("POST", _BASE + "/volumes", create_volume, mutating=True, api="unity-catalog"),
    Route.of("GET", _BASE + "/volumes", list_volumes, mutating=False, api="unity-catalog"),
    Route.of("GET", _BASE + "/volumes" + _NAME, read_volume, mutating=False, api="unity-catalog"),
    Route.of("DELETE", _BASE + "/volumes" + _NAME, delete_volume, mutating=True, api="unity-catalog"),
]
