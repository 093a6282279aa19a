"""runs/submit bodies as RunSpecs over HTTP: the rules are `backends/task_rules` (shared with the
local backend's saved jobs); a refusal there is 400 INVALID_PARAMETER_VALUE here."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bricktasks.backends import task_rules
from bricktasks.backends.base import RunSpec
from bricktasks.backends.task_rules import LEGACY_TASK_FIELDS, PERFORMANCE_TARGETS
from bricktasks.emulator.protocol import ApiError
from bricktasks.errors import InvalidRequest

__all__ = ["spec_from_body", "PERFORMANCE_TARGETS", "LEGACY_TASK_FIELDS"]


def spec_from_body(body: Mapping[str, Any], *, version: str = "2.2", serverless: bool = True) -> RunSpec:
    """The RunSpec a runs/submit body asks for; ApiError 400 for what the Jobs API refuses."""
    try:
        return task_rules.spec_from_body(body, version=version, serverless=serverless)
    except InvalidRequest as exc:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", exc.message) from None
