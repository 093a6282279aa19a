"""The order modules are handed to the workers in.

`--dist loadfile` gives each worker a whole module, in the order collected here (pyproject passes
`--no-loadscope-reorder`; xdist would otherwise hand out the modules with the most tests first, so
the few-test, long end-to-end modules came last and one of them ran alone for the last minutes).
The longest modules go first and the many short unit modules last, where they fill the gaps.
"""
from __future__ import annotations

from pathlib import Path

import pytest

_TESTS = Path(__file__).parent


def _weight(item: pytest.Item) -> int:
    """0 for a test marked spark (a Spark run costs tens of seconds), 1 for the other end-to-end
    modules, 2 for the contract modules, 3 for the rest (unit, the library's)."""
    path = Path(item.path)
    if item.get_closest_marker("spark"):
        return 0
    if path.is_relative_to(_TESTS / "e2e"):
        return 1
    if path.is_relative_to(_TESTS / "contract"):
        return 2
    return 3


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # a module's weight is its heaviest test's; the sort is stable, so a module's tests stay
    # together and in their order, and modules of one weight keep the collection's order
    weights: dict[Path, int] = {}
    for item in items:
        weights[Path(item.path)] = min(weights.get(Path(item.path), 3), _weight(item))
    items.sort(key=lambda item: weights[Path(item.path)])
