"""SCIM 2.0 for the emulator's one user: `preview/scim/v2/Me`, `Users/{id}` and the users list.

The token's user (identity.py) is the only user: `w.current_user.me()`, `w.users.get(id)` and
`w.users.list(filter='userName eq "..."')` answer it. The list pages by `startIndex` (1-based) and
`count` as the SDK's iterator does (it asks again from the next index until a page is empty).
Filters take one comparison, `<attribute> <op> "<value>"`, on userName, id, displayName or
emails.value with eq, ne, co, sw or ew (case-insensitive, as SCIM compares strings); anything else
is a 400 `invalidFilter`. `attributes` / `excludedAttributes` narrow the answer (id and schemas stay).
Errors have the SCIM shape (`detail`, `status`, `scimType`), which the SDK reads.
"""
from __future__ import annotations

import re
from typing import Any

from bricktasks.emulator.protocol import Request, Response, json_response
from bricktasks.emulator.routing import EmulatorState, Route

__all__ = ["ROUTES", "matches_filter", "ScimError"]

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_COUNT = 10000  # what the SDK asks for by default
_FILTER = re.compile(r'\s*(?P<attribute>[A-Za-z.]+)\s+(?P<op>[A-Za-z]{2})\s+"(?P<value>(?:[^"\\]|\\.)*)"\s*')
_COMPARE = {
    "eq": lambda have, want: have == want,
    "ne": lambda have, want: have != want,
    "co": lambda have, want: want in have,
    "sw": lambda have, want: have.startswith(want),
    "ew": lambda have, want: have.endswith(want),
}
_ALWAYS = ("id", "schemas")  # SCIM returns these whatever `attributes` says


class ScimError(Exception):
    """A SCIM error answer."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type

    def response(self) -> Response:
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "detail": self.detail, "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return json_response(body, self.status)


def _attribute_values(user: dict[str, Any], attribute: str) -> list[str]:
    lowered = attribute.lower()
    if lowered == "emails.value":
        return [str(email["value"]) for email in user.get("emails", [])]
    for key in ("id", "userName", "displayName"):
        if key.lower() == lowered:
            return [str(user[key])] if key in user else []
    raise ScimError(400, f"Unsupported filter attribute {attribute!r}: the emulator filters on userName, id, "
                         "displayName or emails.value", "invalidFilter")


def matches_filter(user: dict[str, Any], expression: str) -> bool:
    """Whether the user matches one SCIM comparison; ScimError 400 for what the emulator cannot read."""
    found = _FILTER.fullmatch(expression)
    if not found:
        raise ScimError(400, f"Invalid filter {expression!r}: the emulator takes one comparison such as "
                             'userName eq "name@example.com"', "invalidFilter")
    op = found["op"].lower()
    if op not in _COMPARE:
        raise ScimError(400, f"Unsupported filter operator {found['op']!r}: use eq, ne, co, sw or ew", "invalidFilter")
    want = re.sub(r"\\(.)", r"\1", found["value"]).lower()
    values = _attribute_values(user, found["attribute"])
    if op == "ne":
        return all(_COMPARE["ne"](value.lower(), want) for value in values)
    return any(_COMPARE[op](value.lower(), want) for value in values)


def _names(value: str | None) -> set[str]:
    return {name.strip().lower() for name in (value or "").split(",") if name.strip()}


def _narrowed(user: dict[str, Any], request: Request) -> dict[str, Any]:
    """`attributes` keeps only those (and id, schemas); `excludedAttributes` drops those."""
    keep, drop = _names(request.query.get("attributes")), _names(request.query.get("excludedAttributes"))
    return {
        key: value for key, value in user.items()
        if key in _ALWAYS or ((not keep or key.lower() in keep) and key.lower() not in drop)
    }


def _positive(request: Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ScimError(400, f"{name} must be a whole number; got {raw!r}", "invalidValue") from None
    return value


def _scim(handler):
    def answer(request: Request, state: EmulatorState, match) -> Response:
        try:
            return handler(request, state, match)
        except ScimError as exc:
            return exc.response()
    return answer


@_scim
def me(request: Request, state: EmulatorState, match) -> Response:
    identity = state.identity
    request.target = identity.user_name
    return json_response(_narrowed(identity.scim_json(), request))


@_scim
def get_user(request: Request, state: EmulatorState, match) -> Response:
    identity = state.identity
    user_id = match.group("id")
    request.target = user_id
    if user_id != identity.id:
        raise ScimError(404, f"User {user_id} does not exist.")  # message unconfirmed; 404 as SCIM says
    return json_response(_narrowed(identity.scim_json(), request))


@_scim
def list_users(request: Request, state: EmulatorState, match) -> Response:
    user = state.identity.scim_json()
    start = max(1, _positive(request, "startIndex", 1))  # SCIM: a value below 1 is read as 1
    count = min(MAX_COUNT, max(0, _positive(request, "count", MAX_COUNT)))
    expression = request.query.get("filter")
    users = [user] if not expression or matches_filter(user, expression) else []
    page = users[start - 1 : start - 1 + count]
    return json_response({
        "schemas": [LIST_SCHEMA], "totalResults": len(users), "startIndex": start, "itemsPerPage": len(page),
        "Resources": [_narrowed(entry, request) for entry in page],
    })


_BASE = r"/api/2\.0/preview/scim/v2"
ROUTES = [
    Route.of("GET", _BASE + "/Me", me, mutating=False, api="scim"),
    Route.of("GET", _BASE + "/Users", list_users, mutating=False, api="scim"),
    Route.of("GET", _BASE + r"/Users/(?P<id>[^/]+)", get_user, mutating=False, api="scim"),
]
