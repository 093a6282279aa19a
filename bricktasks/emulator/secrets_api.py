"""Secrets API 2.0 over the local backend's secret store (`backends/local_secrets.py`).

Scopes create/list/delete, put (`string_value` or base64 `bytes_value`), delete, list (metadata
only: key and last_updated_timestamp), get (the value base64, as the real API answers the CLI),
and ACLs put/get/list/delete kept as data (one token, one user: nothing is enforced). The scope's
creator gets MANAGE, as on Databricks. Errors are the real codes: RESOURCE_DOES_NOT_EXIST (404),
RESOURCE_ALREADY_EXISTS (400; the status is unconfirmed), INVALID_PARAMETER_VALUE for a bad name,
a value over 128 KB or a wrong type, RESOURCE_LIMIT_EXCEEDED at 1000 secrets in a scope.

A value never reaches the request log (it holds no bodies; `target` is `scope/key`), an error
message or stderr. Azure Key Vault-backed scopes are refused: there is no vault to read.
"""
from __future__ import annotations

import base64
from typing import Any

from bricktasks.backends.local_secrets import LocalSecretStore, SecretLimitExceeded, check_name
from bricktasks.emulator.protocol import ApiError, Request, Response, decode_base64, json_response
from bricktasks.emulator.routing import EmulatorState, Route

__all__ = ["ROUTES"]

SCOPE_BACKENDS = ("DATABRICKS", "AZURE_KEYVAULT")


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def _store(state: EmulatorState) -> LocalSecretStore:
    return state.backend.secret_scopes


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None or value == "":
        raise _bad(f"Missing required field: {name}")
    if not isinstance(value, str):
        raise _bad(f"{name} must be a string; got {type(value).__name__}")
    return value


def _limited(action):
    """Run a store call; a limit reached is the API's RESOURCE_LIMIT_EXCEEDED."""
    try:
        return action()
    except SecretLimitExceeded as exc:
        raise ApiError(400, "RESOURCE_LIMIT_EXCEEDED", exc.message) from None


# -- scopes ---------------------------------------------------------------------
def create_scope(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    scope = request.target = check_name("Scope", _text(body, "scope"))
    backend = body.get("scope_backend_type") or "DATABRICKS"
    if backend not in SCOPE_BACKENDS:
        raise _bad(f"scope_backend_type must be one of {', '.join(SCOPE_BACKENDS)}; got {backend!r}")
    if backend == "AZURE_KEYVAULT":
        raise _bad("Azure Key Vault-backed scopes are not emulated: create a DATABRICKS scope")
    principal = body.get("initial_manage_principal")
    if principal not in (None, "", "users"):
        raise _bad("initial_manage_principal must be 'users' or left out")
    _limited(lambda: _store(state).create_scope(scope, state.identity.user_name, initial_manage_principal=principal or None))
    return json_response({})


def list_scopes(request: Request, state: EmulatorState, match) -> Response:
    scopes = [{"name": scope.name, "backend_type": scope.backend_type} for scope in _store(state).list_scopes()]
    return json_response({"scopes": scopes} if scopes else {})  # the API leaves out an empty list


def delete_scope(request: Request, state: EmulatorState, match) -> Response:
    scope = request.target = _text(request.json(), "scope")
    _store(state).delete_scope(scope)
    return json_response({})


# -- secrets --------------------------------------------------------------------
def put(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    scope, key = _text(body, "scope"), _text(body, "key")
    request.target = f"{scope}/{key}"
    given = [name for name in ("string_value", "bytes_value") if body.get(name) is not None]
    if len(given) != 1:
        raise _bad("Exactly one of string_value or bytes_value must be specified")
    if given == ["string_value"]:
        if not isinstance(body["string_value"], str):
            raise _bad("string_value must be a string")
        try:
            value = body["string_value"].encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape in the JSON: no UTF-8 text holds one
            raise _bad("string_value is not valid Unicode text; send bytes as bytes_value (base64)") from None
    else:
        value = decode_base64(body["bytes_value"], "bytes_value")
    _limited(lambda: _store(state).put(scope, key, value))
    return json_response({})


def delete(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    scope, key = _text(body, "scope"), _text(body, "key")
    request.target = f"{scope}/{key}"
    _store(state).delete(scope, key)
    return json_response({})


def list_secrets(request: Request, state: EmulatorState, match) -> Response:
    scope = request.target = _text(request.query, "scope")
    secrets = [
        {"key": info.key, "last_updated_timestamp": info.last_updated_timestamp} for info in _store(state).list_secrets(scope)
    ]
    return json_response({"secrets": secrets} if secrets else {})


def get(request: Request, state: EmulatorState, match) -> Response:
    scope, key = _text(request.query, "scope"), _text(request.query, "key")
    request.target = f"{scope}/{key}"
    value = _store(state).get(scope, key)
    return json_response({"key": key, "value": base64.b64encode(value).decode()})


# -- ACLs -----------------------------------------------------------------------
def put_acl(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    scope, principal = _text(body, "scope"), _text(body, "principal")
    request.target = scope
    _store(state).put_acl(scope, principal, _text(body, "permission"))
    return json_response({})


def get_acl(request: Request, state: EmulatorState, match) -> Response:
    scope, principal = _text(request.query, "scope"), _text(request.query, "principal")
    request.target = scope
    return json_response({"principal": principal, "permission": _store(state).get_acl(scope, principal)})


def list_acls(request: Request, state: EmulatorState, match) -> Response:
    scope = request.target = _text(request.query, "scope")
    items = [{"principal": who, "permission": permission} for who, permission in _store(state).list_acls(scope)]
    return json_response({"items": items} if items else {})  # the SDK reads `items`


def delete_acl(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    scope, principal = _text(body, "scope"), _text(body, "principal")
    request.target = scope
    _store(state).delete_acl(scope, principal)
    return json_response({})


_BASE = r"/api/2\.0/secrets"
ROUTES = [
    Route.of("POST", _BASE + "/scopes/create", create_scope, mutating=True, api="secrets"),
    Route.of("GET", _BASE + "/scopes/list", list_scopes, mutating=False, api="secrets"),
    Route.of("POST", _BASE + "/scopes/delete", delete_scope, mutating=True, api="secrets"),
    Route.of("POST", _BASE + "/put", put, mutating=True, api="secrets"),
    Route.of("POST", _BASE + "/delete", delete, mutating=True, api="secrets"),
    Route.of("GET", _BASE + "/list", list_secrets, mutating=False, api="secrets"),
    Route.of("GET", _BASE + "/get", get, mutating=False, api="secrets"),
    Route.of("POST", _BASE + "/acls/put", put_acl, mutating=True, api="secrets"),
    Route.of("GET", _BASE + "/acls/get", get_acl, mutating=False, api="secrets"),
    Route.of("GET", _BASE + "/acls/list", list_acls, mutating=False, api="secrets"),
    Route.of("POST", _BASE + "/acls/delete", delete_acl, mutating=True, api="secrets"),
]
