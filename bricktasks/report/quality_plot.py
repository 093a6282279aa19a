"""A small trend plot per key metric: the branch's builds and this one, master's value as a line.

Drawn with matplotlib's Agg canvas on a `Figure` of its own (no pyplot: no global state, no
display), at a size that keeps each PNG to a few kilobytes, and embedded as a data: URI.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Sequence

__all__ = ["trend_png", "PLOT_SIZE_INCHES", "PLOT_DPI"]

PLOT_SIZE_INCHES = (3.2, 1.5)
PLOT_DPI = 80


def trend_png(key: str, trend: Sequence[float | None], master: float | None) -> str:
    """A data:image/png URI of the trend (oldest build first, this build last, highlighted)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=PLOT_SIZE_INCHES, dpi=PLOT_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    points = [(index, value) for index, value in enumerate(trend) if value is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", markersize=3, linewidth=1.2, color="#1f77b4")
        axes.plot([xs[-1]], [ys[-1]], marker="o", markersize=6, color="#d62728")  # this build
    if master is not None:
        axes.axhline(master, linestyle="--", linewidth=1, color="#2ca02c")
    axes.set_xticks([])
    axes.tick_params(labelsize=7)
    axes.set_title(key if len(key) <= 48 else "…" + key[-47:], fontsize=7)
    figure.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PLOT_DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
