"""Secret redaction for every text the tasks print or write: lines, live displays and JSON.

A secret rarely reaches a message as itself: an HTTP library shows a header as a bytes repr
(`b'Bearer tok\\n'`), an error quotes it with `repr`, a response body holds it JSON-escaped, a
URL holds it percent-encoded, a report HTML-escaped, and `BricktasksError.one_line()` collapses
its whitespace. `secret_forms` lists all of those (and the same escapes applied twice, as in
JSON inside JSON), so every caller of `redact` is covered without knowing how the text was made.
"""
from __future__ import annotations

import functools
import html
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["REDACTED", "MIN_SECRET_LENGTH", "redact", "redact_data", "secret_forms"]

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4  # a one-letter "secret" would shred every message


def _inner(quoted: str) -> str:
    """`'abc'` -> `abc`, `b'abc'` -> `abc`: the escaped text without its quotes."""
    return quoted[2:-1] if quoted[:1] == "b" else quoted[1:-1]


# How a text gets escaped on its way into a message; each returns the escaped text only.
_ESCAPES: tuple[Callable[[str], str], ...] = (
    lambda text: _inner(repr(text)),
    lambda text: _inner(ascii(text)),
    lambda text: _inner(repr(text.encode("utf-8", "surrogatepass"))),
    lambda text: _inner(json.dumps(text)),
    lambda text: _inner(json.dumps(text, ensure_ascii=False)),
    lambda text: text.encode("unicode_escape").decode("ascii"),
    lambda text: urllib.parse.quote(text, safe="/"),
    lambda text: urllib.parse.quote(text, safe=""),
    lambda text: urllib.parse.quote_plus(text),
    lambda text: urllib.parse.quote_plus(text, safe=""),
    lambda text: html.escape(text),
    lambda text: html.escape(text, quote=False),
)


@functools.lru_cache(maxsize=256)
def secret_forms(secret: str) -> list[str]:
    """Every form of `secret` a message may show, longest first; none for a secret shorter than MIN_SECRET_LENGTH."""
    # judged by the secret's own length, not its escapes' ("ab\n" is two letters, not five)
    bases = {base for base in (secret, secret.strip(), " ".join(secret.split())) if len(base) >= MIN_SECRET_LENGTH}
    forms = set(bases)
    for base in bases:
        once = {escape(base) for escape in _ESCAPES}
        forms |= once
        forms |= {escape(text) for text in once for escape in _ESCAPES}  # e.g. JSON inside JSON, a repr of a URL
    return sorted(forms, key=lambda form: (-len(form), form))


@functools.lru_cache(maxsize=64)
def _forms(secrets: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Every form of every secret, longest first, each with its lower-case copy for the quick check."""
    forms = sorted({form for secret in secrets if secret for form in secret_forms(secret)}, key=lambda form: (-len(form), form))
    return tuple((form, form.lower()) for form in forms)


@functools.lru_cache(maxsize=256)
def _pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    # longest first: a secret that contains another (or a form that contains a shorter form) goes whole.
    # Case-insensitive: a percent or \x escape may come in lower case (%c3%a9); over-redacting a
    # case variant of a secret costs nothing.
    return re.compile("|".join(re.escape(form) for form in forms), re.IGNORECASE)


def redact(text: str, secrets: Iterable[str]) -> str:
    forms = _forms(tuple(secrets))
    if not forms:
        return text
    # a substring search per form is fast; the regex runs only with the forms that occur, so a
    # multi-megabyte report is not matched against hundreds of alternatives at every position
    lowered = text.lower()
    present = tuple(form for form, lower in forms if lower in lowered)
    return _pattern(present).sub(REDACTED, text) if present else text


def redact_data(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (JSON-like: dicts, lists, strings, numbers) with every string redacted, keys too.

    Done before serialising, value by value, so the JSON text stays valid; anything that is not
    JSON (a Path, an exception) becomes its redacted `str`, as `json.dumps(default=str)` would show it.
    """
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(key), secrets): redact_data(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(item, secrets) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value), secrets)
