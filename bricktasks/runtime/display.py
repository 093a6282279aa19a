"""`display()` and `displayHTML()`: turn what a notebook shows into JSON outputs of its cell.

    pandas / Spark DataFrame  -> {"type": "table", "columns", "rows", "truncated"} (first 1000 rows)
    matplotlib Figure / Axes  -> {"type": "image", "format": "png", "data_base64"}
    anything with _repr_html_ -> {"type": "html", "html"}
    lists, dicts, the rest    -> {"type": "text", "text"}

pandas, pyspark and matplotlib are never imported here: an object is recognised by the
module of its type, so a notebook that displays nothing pays for none of them.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import io
import math
import pprint
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_ROWS", "OutputSink", "Display", "DisplayHTML", "to_output", "expression_output", "figure_output", "table_output"]

MAX_ROWS = 1000


class OutputSink:
    """Where one top-level cell collects its outputs (and which figures it has shown already)."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.shown_figures: set[int] = set()

    def add(self, output: dict[str, Any]) -> None:
        self.outputs.append(output)


class Display:
    """The notebook's `display(obj)`: appends the object's output to the running cell."""

    def __init__(self, sink: Callable[[], OutputSink]) -> None:
        self._sink = sink

    def __call__(self, obj: Any = None, *args: Any, **kwargs: Any) -> None:
        # Databricks' display takes extra keyword options (streamName, summary...): accepted, ignored
        if obj is None:
            return
        sink = self._sink()
        if _is_figure(obj) or _is_axes(obj):
            figure = obj if _is_figure(obj) else obj.figure
            sink.shown_figures.add(id(figure))
        sink.add(to_output(obj))

    def __repr__(self) -> str:
        return "<display: shows tables, figures and HTML in the run's result>"


class DisplayHTML:
    """The notebook's `displayHTML(html)`."""

    def __init__(self, sink: Callable[[], OutputSink]) -> None:
        self._sink = sink

    def __call__(self, html: str) -> None:
        self._sink().add({"type": "html", "html": str(html)})


def to_output(obj: Any) -> dict[str, Any]:
    """The JSON output for one displayed object."""
    if _from_module(obj, "pyspark") and hasattr(obj, "limit") and hasattr(obj, "toPandas"):
        # one row past the limit tells whether there were more, without counting the whole frame
        frame = obj.limit(MAX_ROWS + 1).toPandas()
        return table_output(frame.head(MAX_ROWS), truncated=len(frame) > MAX_ROWS)
    if _from_module(obj, "pandas") and hasattr(obj, "to_frame") and not hasattr(obj, "columns"):
        obj = obj.to_frame()  # a Series shows as a one-column table
    if _from_module(obj, "pandas") and hasattr(obj, "columns") and hasattr(obj, "itertuples"):
        return table_output(obj.head(MAX_ROWS), truncated=len(obj) > MAX_ROWS)
    if _is_figure(obj):
        return figure_output(obj)
    if _is_axes(obj):
        return figure_output(obj.figure)
    if isinstance(obj, str):
        return {"type": "text", "text": obj}
    if isinstance(obj, list) and obj and all(dataclasses.is_dataclass(item) and type(item) is type(obj[0]) for item in obj):
        # dbutils.fs.ls() and the like: a list of records shows as a table
        columns = [field.name for field in dataclasses.fields(obj[0])]
        rows = [[json_cell(getattr(item, name)) for name in columns] for item in obj[:MAX_ROWS]]
        return {"type": "table", "columns": columns, "rows": rows, "truncated": len(obj) > MAX_ROWS}
    if isinstance(obj, (list, tuple, dict, set)):
        return {"type": "text", "text": pprint.pformat(obj, width=100, sort_dicts=False)}
    html = getattr(obj, "_repr_html_", None)
    if callable(html):
        rendered = html()
        if rendered is not None:
            return {"type": "html", "html": str(rendered)}
    return {"type": "text", "text": repr(obj)}


def expression_output(value: Any) -> dict[str, Any]:
    """A cell's last expression: DataFrames of pandas as tables, everything else as its repr."""
    if _from_module(value, "pandas") and (hasattr(value, "itertuples") or hasattr(value, "to_frame")):
        return to_output(value)
    return {"type": "text", "text": repr(value)}


def table_output(frame: Any, *, truncated: bool) -> dict[str, Any]:
    """A pandas DataFrame (already cut to size) as a table output with JSON-safe cells."""
    rows = [[json_cell(value) for value in row] for row in frame.itertuples(index=False, name=None)]
    return {"type": "table", "columns": [str(column) for column in frame.columns], "rows": rows, "truncated": truncated}


def figure_output(figure: Any) -> dict[str, Any]:
    """A matplotlib figure rendered to PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return {"type": "image", "format": "png", "data_base64": base64.b64encode(buffer.getvalue()).decode("ascii")}


def json_cell(value: Any) -> Any:
    """One table cell as a JSON value: numpy scalars unwrapped, NaN/NaT as null, times as ISO text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else str(value)
    if _from_module(value, "numpy") and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return json_cell(value.item())
    if _is_missing(value):
        return None
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(key): json_cell(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)) or (_from_module(value, "numpy") and hasattr(value, "tolist")):
        return [json_cell(item) for item in (value.tolist() if hasattr(value, "tolist") else value)]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _is_missing(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return False
    return value is pandas.NA or value is pandas.NaT


def _from_module(obj: Any, package: str) -> bool:
    module = type(obj).__module__ or ""
    return module == package or module.startswith(package + ".")


def _is_figure(obj: Any) -> bool:
    return _from_module(obj, "matplotlib") and hasattr(obj, "savefig") and hasattr(obj, "canvas")


def _is_axes(obj: Any) -> bool:
    return _from_module(obj, "matplotlib") and hasattr(obj, "figure") and _is_figure(getattr(obj, "figure", None))
