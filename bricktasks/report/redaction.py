"""Secrets out of a report before it is rendered: every string of every task, and the base64
notebook model inside a Databricks run export, where plain text replacement cannot see a token.

Redacting the data before rendering means an escaped or encoded form of a secret (HTML entities,
JSON escapes) never gets made; the writers redact the text they write once more.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote

from bricktasks.console.redaction import redact
from bricktasks.report.model import BuildReport, NotebookRunReport

__all__ = ["redact", "redact_export", "redact_report", "secrets_of"]

_MODEL = re.compile(r"(__DATABRICKS_NOTEBOOK_MODEL\s*=\s*')([^']*)(')")


def secrets_of(secrets: Iterable[str]) -> tuple[str, ...]:
    """The non-empty secrets as a tuple: a generator must survive several passes."""
    return tuple(secret for secret in secrets if secret)


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {_scrub(key, secrets): _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, tuple):  # depends_on stays a tuple
        return tuple(_scrub(item, secrets) for item in value)
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    return value


def redact_export(text: str, secrets: Iterable[str]) -> str:
    """Redact a Databricks run export, including inside its base64 notebook model.

    A model we cannot decode might hide a secret, so with secrets to look for it is dropped.
    """
    secrets = secrets_of(secrets)

    def fix(match: re.Match[str]) -> str:
        blob = match.group(2)
        outer = "%" in blob  # base64 has no '%': the blob was URL-encoded once more
        try:
            model = unquote(base64.b64decode(unquote(blob) if outer else blob, validate=True).decode("utf-8"))
        except (binascii.Error, ValueError):
            return match.group(1) + match.group(3) if secrets else match.group(0)
        cleaned = redact(model, secrets)
        if cleaned == model:
            return match.group(0)
        encoded = base64.b64encode(quote(cleaned, safe="!~*'()").encode("ascii")).decode("ascii")
        return match.group(1) + (quote(encoded, safe="") if outer else encoded) + match.group(3)

    return redact(_MODEL.sub(fix, text), secrets) if secrets else text


def redact_report(report: BuildReport, secrets: Iterable[str]) -> BuildReport:
    """A copy of the report with every secret removed from every string in it."""
    secrets = secrets_of(secrets)
    if not secrets:
        return report
    notebooks = []
    for nb in report.notebooks:
        fields = {field.name: _scrub(getattr(nb, field.name), secrets) for field in dataclasses.fields(nb)}
        fields["export_html"] = redact_export(nb.export_html, secrets) if nb.export_html else nb.export_html
        notebooks.append(NotebookRunReport(**fields))
    fields = {field.name: _scrub(getattr(report, field.name), secrets) for field in dataclasses.fields(report)}
    quality = report.quality.redacted(lambda text: redact(text, secrets)) if report.quality else None
    return BuildReport(**{**fields, "notebooks": notebooks, "quality": quality})
