"""Task graphs: keys, dependencies, cycles and a valid order.

The Jobs API's rules for `tasks[]`: every task has a unique `task_key`, `depends_on` names tasks of
the same run, and the dependencies form no cycle. The messages name the task and, for a cycle, the
whole loop, so a user can find it in the file.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["GraphError", "TASK_KEY_PATTERN", "MAX_TASK_KEY", "check_task_key", "check_graph", "topological_order",
           "downstream_of", "upstream_of", "leaves"]

MAX_TASK_KEY = 100  # documented maximum of task_key
# the Jobs API documents task keys as word characters and dashes; ASCII only here, the safe subset
# (a key is a file name in the local run store and an id in the report)
TASK_KEY_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TASK_KEY}}}")


class GraphError(ValueError):
    """The tasks do not form a valid graph; the message says which task and why."""


def check_task_key(key: object) -> str:
    """`key` if it is a valid task_key, else GraphError."""
    if not isinstance(key, str) or not key:
        raise GraphError(f"every task needs a task_key (a non-empty string); got {key!r}")
    if not TASK_KEY_PATTERN.fullmatch(key):
        shown = key if len(key) <= 40 else key[:40] + "..."
        raise GraphError(
            f"task_key {shown!r} must be 1 to {MAX_TASK_KEY} characters of letters, digits, '_' and '-'"
        )
    return key


def check_graph(dependencies: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Validate (task_key, depends_on keys) pairs in file order; return the keys in a valid run order.

    GraphError for: a missing or malformed key, a duplicate key, a dependency on an unknown task or on
    the task itself, a dependency named twice, and a cycle (the message shows it: a -> b -> a)."""
    seen: dict[str, Sequence[str]] = {}
    for key, upstream in dependencies:
        check_task_key(key)
        if key in seen:
            raise GraphError(f"task_key {key!r} is used by more than one task")
        seen[key] = upstream
    for key, upstream in dependencies:
        named: set[str] = set()
        for dependency in upstream:
            if dependency == key:
                raise GraphError(f"task {key!r} depends on itself")
            if dependency not in seen:
                raise GraphError(f"task {key!r} depends on {dependency!r}, which is not a task of this run")
            if dependency in named:
                raise GraphError(f"task {key!r} names {dependency!r} twice in depends_on")
            named.add(dependency)
    return topological_order(seen)


def topological_order(dependencies: Mapping[str, Iterable[str]]) -> list[str]:
    """Keys ordered so each comes after everything it depends on; ties keep the mapping's order.
    GraphError naming the loop when there is a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in dependencies:
        if state.get(root):
            continue
        # iterative depth-first search: a chain of 1000 tasks must not hit the recursion limit
        path: list[str] = [root]
        pending: list[list[str]] = [list(dependencies[root])]
        state[root] = 1
        while path:
            if pending[-1]:
                child = pending[-1].pop(0)
                if state.get(child) == 1:
                    loop = path[path.index(child):] + [child]
                    raise GraphError("the tasks' depends_on form a cycle: " + " -> ".join(reversed(loop)) + " (a -> b: b depends on a)")
                if not state.get(child):
                    state[child] = 1
                    path.append(child)
                    pending.append(list(dependencies.get(child, ())))
                continue
            done = path.pop()
            pending.pop()
            state[done] = 2
            order.append(done)
    return order


def downstream_of(dependencies: Mapping[str, Iterable[str]], keys: Iterable[str]) -> set[str]:
    """Every task that depends, directly or not, on one of `keys` (the keys themselves excluded)."""
    children: dict[str, list[str]] = {key: [] for key in dependencies}
    for key, upstream in dependencies.items():
        for dependency in upstream:
            children.setdefault(dependency, []).append(key)
    found: set[str] = set()
    stack = list(keys)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found - set(keys)


def upstream_of(dependencies: Mapping[str, Iterable[str]], key: str) -> set[str]:
    """Every task `key` depends on, directly or not."""
    found: set[str] = set()
    stack = list(dependencies.get(key, ()))
    while stack:
        item = stack.pop()
        if item not in found:
            found.add(item)
            stack.extend(dependencies.get(item, ()))
    return found


def leaves(dependencies: Mapping[str, Iterable[str]]) -> list[str]:
    """The tasks nothing depends on: they decide the run's result."""
    needed = {dependency for upstream in dependencies.values() for dependency in upstream}
    return [key for key in dependencies if key not in needed]
