"""A requirements.txt as one PipRequest: requirement lines, `--index-url`/`--extra-index-url`; any other
option is refused (it would change what pip does in ways the cache key does not capture)."""
from __future__ import annotations

import shlex

from bricktasks.pipcache.requests import EXTRA_INDEX_OPTIONS, INDEX_OPTIONS, PipRequest, index_problem, requirement_problem

__all__ = ["parse_requirements_text"]


def parse_requirements_text(text: str, where: str) -> PipRequest:
    """The request a requirements file makes; ValueError naming `where` and the line for a bad one."""
    requirements: list[str] = []
    index_url: str | None = None
    extra: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("-"):
            tokens = shlex.split(line)
            option, _, value = tokens[0].partition("=")
            value = value or (tokens[1] if len(tokens) > 1 else "")
            if option not in INDEX_OPTIONS + EXTRA_INDEX_OPTIONS:
                raise ValueError(f"{where} line {number}: option {option} is not supported; list requirements and index URLs only")
            problem = index_problem(value, option)
            if problem:
                raise ValueError(f"{where} line {number}: {problem}")
            if option in INDEX_OPTIONS:
                index_url = value
            else:
                extra.append(value)
            continue
        problem = requirement_problem(line)
        if problem:
            raise ValueError(f"{where} line {number}: {problem}")
        requirements.append(line)
    if not requirements:
        raise ValueError(f"{where} names no requirement; list one per line, e.g. requests==2.32.3")
    return PipRequest(tuple(requirements), index_url, tuple(extra))
