"""Model quality against master: this build's metrics beside the deployed line's and the branch's.

`compare_quality` takes this build, the newest successful build of master/main and the branch's
last builds (gathered by bricktasks.ci.quality) and makes one row per metric: the value, master's,
the change (▲/▼ and %) and the trend over the branch's builds ending with this one.
`render_quality_markdown` writes it for a CI summary or a pull-request comment; the HTML section
is in `quality_html`.

Which way is better is not known in general, so ▲/▼ say only which way the number moved. A metric
is judged better or worse only when its direction is declared (BRICKTASKS_LOWER_IS_BETTER /
BRICKTASKS_HIGHER_IS_BETTER: names or fnmatch patterns of the dotted key or of its last part) or
its last part names an error by convention (a word such as mae, rmse, loss or error: lower is
better; accuracy, auc, f1, precision, recall, r2: higher is better).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

__all__ = [
    "BuildMetrics", "MetricRow", "QualityComparison", "Directions", "compare_quality", "render_quality_markdown",
    "format_value", "format_change", "sparkline", "markdown_text", "describe_better", "last_builds", "MAX_ROWS",
]

MAX_ROWS = 30  # rows shown; the rest are counted
MAX_NOTES = 12
LOWER_WORDS = frozenset({"mae", "mse", "rmse", "mape", "smape", "wape", "loss", "error", "err", "rmsle", "logloss"})
HIGHER_WORDS = frozenset({"accuracy", "acc", "auc", "f1", "precision", "recall", "r2"})
_SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class BuildMetrics:
    """One CI build's recorded metrics (clean: see quality_metrics) and notes on what was not trusted."""

    name: str  # the CI folder's name, <build>-<branch folder>
    branch: str
    created: str
    result: str | None
    metrics: dict[str, float]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Directions:
    """Which metrics are declared lower- or higher-is-better (patterns); the convention covers the rest."""

    lower: tuple[str, ...] = ()
    higher: tuple[str, ...] = ()

    @classmethod
    def parse(cls, lower: str | None, higher: str | None) -> Directions:
        def split(text: str | None) -> tuple[str, ...]:
            return tuple(part.strip() for part in (text or "").split(",") if part.strip())

        return cls(split(lower), split(higher))

    def better(self, key: str) -> tuple[str, str]:
        """("lower" | "higher" | "", "declared" | "convention" | "") for a metric key."""
        last = key.rsplit(".", 1)[-1]
        for direction, patterns in (("lower", self.lower), ("higher", self.higher)):
            if any(fnmatchcase(key, pattern) or fnmatchcase(last, pattern) for pattern in patterns):
                return direction, "declared"
        words = set(re.split(r"[^a-z0-9]+", last.lower()))
        if words & LOWER_WORDS:
            return "lower", "convention"
        if words & HIGHER_WORDS:
            return "higher", "convention"
        return "", ""


@dataclass(frozen=True)
class MetricRow:
    key: str
    value: float
    master: float | None
    better: str  # "lower", "higher" or "" (unknown)
    declared: str  # "declared", "convention" or ""
    trend: tuple[float | None, ...]  # the branch's builds, oldest first, then this build

    @property
    def change(self) -> float | None:
        return None if self.master is None else self.value - self.master

    @property
    def percent(self) -> float | None:
        """The change relative to master's value; None where master is 0 (no meaningful ratio)."""
        return None if self.master is None or self.master == 0 else (self.value - self.master) / abs(self.master) * 100

    @property
    def arrow(self) -> str:
        change = self.change
        if change is None:
            return ""
        return "▲" if change > 0 else "▼" if change < 0 else "="

    @property
    def verdict(self) -> str:
        """"better", "worse", "same", or "" when the direction of better is unknown or there is no master."""
        change = self.change
        if change is None or not self.better:
            return ""
        if change == 0:
            return "same"
        return "better" if (change < 0) == (self.better == "lower") else "worse"

    @property
    def is_key(self) -> bool:
        """A key metric (plotted): one whose better direction is known."""
        return bool(self.better)


@dataclass(frozen=True)
class QualityComparison:
    current: BuildMetrics
    master: BuildMetrics | None
    branch_builds: tuple[BuildMetrics, ...]  # this branch's earlier builds, oldest first
    rows: tuple[MetricRow, ...]
    hidden: int = 0  # metrics beyond MAX_ROWS, not shown
    notes: tuple[str, ...] = ()
    requests: int = 0  # workspace requests the history took
    master_found: str | None = None  # master's newest successful build, even when it has no metrics

    @property
    def nothing_to_compare(self) -> str | None:
        """Why there is no comparison with master, or None when there is one."""
        if not self.current.metrics:
            return "nothing to compare yet: this build recorded no metrics (no task's exit value is a JSON object with numbers)"
        if self.master is not None and self.master.metrics:
            return None
        if self.master_found:
            return (f"nothing to compare yet: master's newest successful build {self.master_found} recorded no metrics "
                    "(it ran before metrics were recorded)")
        if not self.branch_builds:
            return "nothing to compare yet: this is the branch's first build and master has no successful build"
        return "nothing to compare yet: master has no successful build (the branch's earlier builds are shown)"

    def redacted(self, clean: Callable[[str], str]) -> QualityComparison:
        """A copy with `clean` applied to every text that came from a build (names, keys, notes)."""
        def build(found: BuildMetrics) -> BuildMetrics:
            return replace(found, name=clean(found.name), branch=clean(found.branch), created=clean(found.created),
                           metrics={clean(key): value for key, value in found.metrics.items()},
                           notes=tuple(clean(note) for note in found.notes))

        return replace(
            self, current=build(self.current), master=build(self.master) if self.master else None,
            branch_builds=tuple(build(found) for found in self.branch_builds),
            rows=tuple(replace(row, key=clean(row.key)) for row in self.rows),
            notes=tuple(clean(note) for note in self.notes),
            master_found=clean(self.master_found) if self.master_found else None,
        )

    @property
    def key_rows(self) -> tuple[MetricRow, ...]:
        """The rows to plot: the metrics whose better direction is known, else the first few."""
        keyed = tuple(row for row in self.rows if row.is_key)
        return (keyed or self.rows)[:6]


def compare_quality(
    current: BuildMetrics,
    master: BuildMetrics | None,
    branch_builds: Sequence[BuildMetrics],
    *,
    directions: Directions = Directions(),
    notes: Sequence[str] = (),
    requests: int = 0,
    master_found: str | None = None,
) -> QualityComparison:
    """One row per metric of this build (the declared and conventional ones first), capped at MAX_ROWS."""
    history = tuple(branch_builds)
    rows = []
    for key in current.metrics:
        better, declared = directions.better(key)
        rows.append(MetricRow(
            key=key, value=current.metrics[key], master=master.metrics.get(key) if master else None,
            better=better, declared=declared,
            trend=(*(build.metrics.get(key) for build in history), current.metrics[key]),
        ))
    rows.sort(key=lambda row: ({"declared": 0, "convention": 1}.get(row.declared, 2), row.key))
    all_notes = [*notes, *current.notes, *(master.notes if master else ()), *(n for build in history for n in build.notes)]
    return QualityComparison(
        current=current, master=master, branch_builds=history, rows=tuple(rows[:MAX_ROWS]),
        hidden=max(0, len(rows) - MAX_ROWS), notes=_capped_notes(all_notes), requests=requests,
        master_found=master_found or (master.name if master else None),
    )


def _capped_notes(notes: Sequence[str]) -> tuple[str, ...]:
    unique = list(dict.fromkeys(notes))
    if len(unique) <= MAX_NOTES:
        return tuple(unique)
    return (*unique[:MAX_NOTES], f"{len(unique) - MAX_NOTES} more notes not shown")


def format_value(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}"


def format_change(row: MetricRow) -> str:
    """"▼ -8.9% (better)", "▲ +0.02", "=" ...; empty without a master value."""
    if row.change is None:
        return ""
    if row.arrow == "=":
        return "= (same)" if row.verdict else "="
    amount = f"{row.percent:+.1f}%" if row.percent is not None else f"{row.change:+.4g}"
    return f"{row.arrow} {amount}" + (f" ({row.verdict})" if row.verdict else "")


def sparkline(values: Sequence[float | None]) -> str:
    """The trend as block characters (a gap for a build without the metric)."""
    known = [value for value in values if value is not None]
    if len(known) < 2:
        return ""
    low, high = min(known), max(known)
    span = high - low
    return "".join(
        " " if value is None else _SPARK[0 if span == 0 else min(7, int((value - low) / span * 7.999))] for value in values
    )


def last_builds(count: int) -> str:
    return "the last build" if count == 1 else f"the last {count} builds"


def markdown_text(text: str) -> str:
    """Text from a manifest or an exit value, shown as itself: no markup, no HTML, one line."""
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", text)


def describe_better(row: MetricRow) -> str:
    if not row.better:
        return ""
    return f"{row.better} is better" + (" (declared)" if row.declared == "declared" else "")


def render_quality_markdown(comparison: QualityComparison) -> str:
    """The comparison as Markdown: a heading, what was compared, the table, and the notes."""
    lines = ["### Model quality against master", ""]
    reason = comparison.nothing_to_compare
    master = comparison.master
    history = comparison.branch_builds
    if reason:
        lines += [f"_{reason}_", ""]
    if master is not None and master.metrics:
        lines.append(f"Compared with master build `{master.name}` (the newest successful, {master.created})"
                     + (f" and {last_builds(len(history))} of `{comparison.current.branch}`." if history else "."))
        lines.append("")
    elif history and comparison.current.metrics:
        lines += [f"{last_builds(len(history)).capitalize()} of `{comparison.current.branch}`.", ""]
    if comparison.rows:
        lines += ["| Metric | This build | master | Change | Trend |", "|---|---:|---:|---|---|"]
        for row in comparison.rows:
            better = describe_better(row)
            name = f"`{row.key}`" + (f" ({better})" if better else "")
            lines.append(f"| {name} | {format_value(row.value)} | {format_value(row.master)} | {format_change(row)} "
                         f"| {sparkline(row.trend)} |")
        lines.append("")
    if comparison.hidden:
        lines += [f"{comparison.hidden} more metrics not shown.", ""]
    if comparison.rows:
        lines += ["▲/▼ show which way a value moved; better or worse only where the metric's direction is known "
                  "(declared, or an error metric such as mae, rmse or loss).", ""]
    for note in comparison.notes:
        lines.append(f"- {markdown_text(note)}")
    return "\n".join(lines).rstrip() + "\n"
