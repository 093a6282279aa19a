"""Figures a cell shows with `plt.show()` become image outputs of that cell.

The run draws with the Agg backend, where `plt.show()` does nothing on a machine without
a display. While a run is on, `matplotlib.pyplot.show` is wrapped to note that the cell
asked for its figures; at the end of such a cell every open figure it did not `display()`
already is captured and closed, as a notebook shows them. The wrapper is removed when the
run ends. pyplot is imported before a cell only when that cell mentions matplotlib, so a
run that never plots never pays for the import.
"""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

from bricktasks.runtime.display import OutputSink, figure_output

__all__ = ["FigureCapture"]


class FigureCapture:
    """The run's hold on `pyplot.show`: install, watch cells, uninstall."""

    def __init__(self) -> None:
        self._pyplot: Any = None
        self._original_show: Callable[..., Any] | None = None
        self._shown = False

    def before_cell(self, code: str, *, top_level: bool = True) -> None:
        """Make sure the wrapper is in place if this cell may plot (cells of %run children too)."""
        if top_level:
            self._shown = False
        if self._pyplot is not None:
            return
        if "matplotlib.pyplot" not in sys.modules:
            if ("matplotlib" not in code and "pyplot" not in code) or importlib.util.find_spec("matplotlib") is None:
                return
            import matplotlib.pyplot  # noqa: F401  (imported here so its show can be wrapped)
        self._install(sys.modules["matplotlib.pyplot"])

    def after_cell(self, sink: OutputSink) -> None:
        """Capture the open figures if the cell called `plt.show()`."""
        if self._pyplot is None and "matplotlib.pyplot" in sys.modules:
            self._install(sys.modules["matplotlib.pyplot"])  # imported by a library: watch from now on
            return
        if not self._shown or self._pyplot is None:
            return
        self._shown = False
        for number in self._pyplot.get_fignums():
            figure = self._pyplot.figure(number)
            if id(figure) not in sink.shown_figures:
                sink.add(figure_output(figure))
                sink.shown_figures.add(id(figure))
            self._pyplot.close(figure)

    def uninstall(self) -> None:
        """Give pyplot its own show back."""
        if self._pyplot is not None and self._original_show is not None:
            self._pyplot.show = self._original_show
        self._pyplot = None
        self._original_show = None

    def _install(self, pyplot: Any) -> None:
        original = pyplot.show

        def show(*args: Any, **kwargs: Any) -> Any:
            self._shown = True
            return original(*args, **kwargs)

        show.__doc__ = original.__doc__
        pyplot.show = show
        self._pyplot = pyplot
        self._original_show = original
