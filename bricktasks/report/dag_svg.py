"""The run's task graph as inline SVG for report.html: no script, no external resource, every text escaped.

Tasks are laid out by depth (the longest path from a task with no dependencies) in columns, in the
run's task order within a column; an edge goes from each dependency to its task. Each node shows
the task key, its state (in the state's colour) and its duration, and links to the task's section
by its number (`#nb-3`): a task key is never used as an id or a link. A report must draw whatever
the run reported, so unknown dependencies are left out and a cycle cannot hang the layout.
"""
from __future__ import annotations

from collections.abc import Sequence

from bricktasks.backends.notebook_html import esc, seconds
from bricktasks.report.model import NotebookRunReport, outcome

__all__ = ["dag_svg", "layout"]

_WIDTH, _HEIGHT = 200, 54  # a node
_COLUMN_GAP, _ROW_GAP, _MARGIN = 56, 16, 8
_KEY_LIMIT = 26  # characters of a key shown in a node; the whole key is in its tooltip
# (stroke, fill) per outcome: the badge colours of the report, with light fills the text reads on
_COLOURS = {
    "passed": ("#1a7f37", "#dafbe1"),
    "failure": ("#cf222e", "#ffebe9"),
    "error": ("#cf222e", "#ffebe9"),
    "skipped": ("#6e7781", "#f6f8fa"),
    "running": ("#9a6700", "#fff8c5"),
}
_UNFINISHED = frozenset({"PENDING", "QUEUED", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY"})


def layout(tasks: Sequence[NotebookRunReport]) -> list[tuple[int, int]]:
    """(column, row) of each task: column = longest path from a root, row = order within the column."""
    index: dict[str, int] = {}
    for number, task in enumerate(tasks):
        index.setdefault(task.key, number)  # a duplicate key: edges go to the first
    parents = [[index[key] for key in task.depends_on if key in index and index[key] != number]
               for number, task in enumerate(tasks)]
    depth: dict[int, int] = {}

    def depth_of(number: int, path: frozenset[int]) -> int:
        if number not in depth:
            # a dependency already on the path is a cycle: it adds nothing rather than recursing forever
            depth[number] = max((depth_of(parent, path | {parent}) + 1 for parent in parents[number] if parent not in path),
                                default=0)
        return depth[number]

    columns = [depth_of(number, frozenset({number})) for number in range(len(tasks))]
    rows: list[int] = []
    filled: dict[int, int] = {}  # column -> rows used so far
    for column in columns:
        rows.append(filled.get(column, 0))
        filled[column] = rows[-1] + 1
    return list(zip(columns, rows, strict=True))


def _colours(task: NotebookRunReport) -> tuple[str, str]:
    if task.result_state in _UNFINISHED or task.life_cycle_state in _UNFINISHED and not task.result_state:
        return _COLOURS["running"]
    return _COLOURS[outcome(task.result_state)]


def _short(key: str) -> str:
    return key if len(key) <= _KEY_LIMIT else key[: _KEY_LIMIT - 1] + "…"


def _position(place: tuple[int, int]) -> tuple[int, int]:
    column, row = place
    return _MARGIN + column * (_WIDTH + _COLUMN_GAP), _MARGIN + row * (_HEIGHT + _ROW_GAP)


def _edge(start: tuple[int, int], end: tuple[int, int]) -> str:
    x1, y1 = start[0] + _WIDTH, start[1] + _HEIGHT // 2
    x2, y2 = end[0], end[1] + _HEIGHT // 2
    bend = _COLUMN_GAP // 2
    return (f'<path class="dag-edge" d="M{x1} {y1} C{x1 + bend} {y1} {x2 - bend} {y2} {x2 - 2} {y2}" fill="none" '
            'stroke="#8c959f" stroke-width="1.5" marker-end="url(#dag-arrow)"/>')


def _node(task: NotebookRunReport, number: int, corner: tuple[int, int]) -> str:
    x, y = corner
    stroke, fill = _colours(task)
    state = task.result_state or task.life_cycle_state or "UNKNOWN"
    facts = f"{state} · {seconds(task.duration_s)}" + (f" · {task.attempts} attempts" if task.attempts > 1 else "")
    tooltip = f"{task.key} ({task.name}): {facts}" + (f"; {task.state_message}" if task.state_message else "")
    return (
        f'<a class="dag-node" href="#nb-{number}"><title>{esc(tooltip)}</title>'
        f'<rect x="{x}" y="{y}" width="{_WIDTH}" height="{_HEIGHT}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
        f'<text x="{x + 10}" y="{y + 22}" font-size="13" font-weight="600" fill="#1f2328">{esc(_short(task.key))}</text>'
        f'<text x="{x + 10}" y="{y + 42}" font-size="12" fill="{stroke}">{esc(facts)}</text></a>'
    )


def dag_svg(tasks: Sequence[NotebookRunReport]) -> str:
    """The graph of `tasks` (numbered from 1 like their sections); empty for no tasks."""
    if not tasks:
        return ""
    places = layout(tasks)
    corners = [_position(place) for place in places]
    index: dict[str, int] = {}
    for number, task in enumerate(tasks):
        index.setdefault(task.key, number)
    edges = [_edge(corners[index[key]], corners[number])
             for number, task in enumerate(tasks) for key in task.depends_on if key in index and index[key] != number]
    nodes = [_node(task, number + 1, corners[number]) for number, task in enumerate(tasks)]
    width = _MARGIN * 2 + (max(column for column, _ in places) + 1) * (_WIDTH + _COLUMN_GAP) - _COLUMN_GAP
    height = _MARGIN * 2 + (max(row for _, row in places) + 1) * (_HEIGHT + _ROW_GAP) - _ROW_GAP
    arrow = ('<defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="8" markerHeight="8" '
             'orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="#8c959f"/></marker></defs>')
    return (
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="task graph" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">{arrow}'
        + "".join(edges) + "".join(nodes) + "</svg>"
    )
