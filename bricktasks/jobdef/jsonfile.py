"""Reading a checked-in JSON file that may come from a pull request: one ConfigError for anything odd.

Not an object, nested thousands deep, NaN or Infinity, not UTF-8, unreadable: each is one line
naming the file, never a traceback or a request. cluster.json and the job definitions read through here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bricktasks.errors import ConfigError

__all__ = ["MAX_DEPTH", "read_json_file"]

# a real spec nests 5 deep (new_cluster.init_scripts[0].workspace.destination); a job definition 7
# (tasks[0].new_cluster.init_scripts[0].workspace.destination): 20 leaves room and stops a bomb
MAX_DEPTH = 20


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")  # NaN and Infinity: json.loads accepts them, the API does not


def _depth(value: Any) -> int:
    """How deep `value` nests, counted without recursion (a value nested 10000 deep must not
    raise RecursionError here either)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:  # deeper is refused anyway: stop counting
                stack += [(child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)]
    return deepest


def read_json_file(path: Path, what: str, hint: str) -> Any:
    """The parsed JSON of `path`; `what` names it in messages ("cluster spec cluster.json")."""
    too_deep = f"{what} is nested too deeply (more than {MAX_DEPTH} levels)"
    try:
        text = path.read_bytes().decode("utf-8-sig")
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # the json module's C scanner recurses once per nesting level
        raise ConfigError(too_deep, hint) from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ConfigError(f"{what} is not valid JSON ({reason})", hint) from None
    except OSError as exc:
        raise ConfigError(f"{what} cannot be read ({exc.strerror})", hint) from None
    if _depth(data) > MAX_DEPTH:
        raise ConfigError(too_deep, hint)
    return data
