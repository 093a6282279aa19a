"""display() and displayHTML(): tables, figures, HTML and text outputs; plt.show() captures."""
from __future__ import annotations

import base64

import pytest
from runtime_helpers import RunCells

from bricktasks.runtime.display import json_cell, to_output

PNG = b"\x89PNG\r\n\x1a\n"


def test_pandas_frames_become_tables_with_json_cells(run_cells: RunCells) -> None:
    result = run_cells(
        "import numpy as np, pandas as pd\n"
        "frame = pd.DataFrame({'n': np.array([1, 2], dtype='int64'), 'x': [1.5, float('nan')],\n"
        "                      't': pd.to_datetime(['2024-01-01', None]), 's': ['a', None]})\n"
        "display(frame)\n"
        "display(frame['n'])\n"
        "display(pd.DataFrame({'i': range(1500)}))"
    )
    assert result.status == "SUCCESS", result.error_trace
    table, series, big = result.cells[0].outputs
    assert table == {
        "type": "table",
        "columns": ["n", "x", "t", "s"],
        "rows": [[1, 1.5, "2024-01-01T00:00:00", "a"], [2, None, None, None]],
        "truncated": False,
    }
    assert series["columns"] == ["n"] and series["rows"] == [[1], [2]]
    assert len(big["rows"]) == 1000 and big["truncated"] is True and big["rows"][-1] == [999]


def test_last_expression_pandas_frame_is_a_table(run_cells: RunCells) -> None:
    result = run_cells("import pandas as pd\npd.DataFrame({'a': [1]})")
    assert result.cells[0].outputs == [{"type": "table", "columns": ["a"], "rows": [[1]], "truncated": False}]


def test_figures_display_as_png(run_cells: RunCells) -> None:
    result = run_cells(
        "import matplotlib.pyplot as plt\nfigure, axis = plt.subplots()\naxis.plot([1, 2, 3])\ndisplay(figure)\ndisplay(axis)",
    )
    assert [output["type"] for output in result.cells[0].outputs] == ["image", "image"]
    assert base64.b64decode(result.cells[0].outputs[0]["data_base64"]).startswith(PNG)


def test_plt_show_captures_the_open_figures_at_the_end_of_the_cell(run_cells: RunCells) -> None:
    result = run_cells(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.figure()\nplt.plot([3, 1])\nplt.show()",
        "figure = plt.figure()\n_ = plt.plot([0, 1])",  # no show: nothing captured, the figure stays open
        "display(figure)\nplt.show()",  # displayed already: not captured twice
        "print(len(plt.get_fignums()))",
    )
    assert result.status == "SUCCESS", result.error_trace
    assert [output["format"] for output in result.cells[0].outputs] == ["png", "png"]
    assert result.cells[1].outputs == []
    assert len(result.cells[2].outputs) == 1
    assert result.cells[3].stdout == "0\n"  # shown figures are closed, as a notebook does


def test_plt_show_is_restored_after_the_run(run_cells: RunCells) -> None:
    import matplotlib.pyplot as plt

    original = plt.show
    run_cells("import matplotlib.pyplot as plt\nplt.show()")
    assert plt.show is original


def test_html_text_and_objects(run_cells: RunCells) -> None:
    result = run_cells(
        "class Card:\n    def _repr_html_(self):\n        return '<div>card</div>'\n\n"
        "displayHTML('<h1>hi</h1>')\ndisplay(Card())\ndisplay({'a': [1, 2]})\ndisplay([1, 'two'])\ndisplay('plain')\ndisplay(3.5)"
    )
    assert result.cells[0].outputs == [
        {"type": "html", "html": "<h1>hi</h1>"},
        {"type": "html", "html": "<div>card</div>"},
        {"type": "text", "text": "{'a': [1, 2]}"},
        {"type": "text", "text": "[1, 'two']"},
        {"type": "text", "text": "plain"},
        {"type": "text", "text": "3.5"},
    ]


@pytest.mark.parametrize(
    "value, expected",
    [(float("inf"), "inf"), (b"\x00\x01", "AAE="), ((1, [2.0, None]), [1, [2.0, None]]), ({"k": 1}, {"k": 1})],
)
def test_json_cells(value: object, expected: object) -> None:
    assert json_cell(value) == expected


def test_to_output_of_numpy_and_decimal() -> None:
    import decimal

    import numpy as np

    assert json_cell(np.float32(0.5)) == 0.5 and json_cell(np.bool_(True)) is True
    assert json_cell(decimal.Decimal("1.10")) == "1.10"
    assert json_cell(np.array([1, 2])) == [1, 2]
    assert to_output(np.int64(3))["type"] == "text"
