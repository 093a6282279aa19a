"""Parsing and rendering source-format notebooks: cell kinds, magic prefixes, exact round trips."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bricktasks.runtime.errors import NotebookSourceError
from bricktasks.runtime.notebook import (
    SEPARATOR,
    Cell,
    Notebook,
    is_notebook_source,
    make_cell_text,
    parse_notebook,
    render_notebook,
)

REPO = Path(__file__).resolve().parents[3]
HEADER = "# Databricks notebook source\n"

EXPORTED = """# Databricks notebook source
# MAGIC %md
# MAGIC # Title
# MAGIC
# MAGIC Some text.

# COMMAND ----------

# MAGIC %run ./conf/ci_config

# COMMAND ----------

%run ./set_environment

# COMMAND ----------

import os
print(os.getcwd())

# COMMAND ----------

# MAGIC %pip install /dbfs/libs/x.whl

# COMMAND ----------

# MAGIC %sh ls -l

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT 1

# COMMAND ----------

# MAGIC %fs ls dbfs:/

# COMMAND ----------

# MAGIC %scala
# MAGIC println(1)

# COMMAND ----------

# MAGIC %python
# MAGIC x = 1
"""


def test_cells_kinds_and_sources() -> None:
    cells = parse_notebook(EXPORTED).cells
    assert [cell.kind for cell in cells] == ["md", "run", "run", "python", "pip", "sh", "sql", "fs", "unsupported", "python"]
    assert cells[0].source == "%md\n# Title\n\nSome text."
    assert cells[0].body == "# Title\n\nSome text."
    assert cells[1].body == "./conf/ci_config"
    assert cells[2].body == "./set_environment"  # un-prefixed %run, as Databricks exports it too
    assert cells[3].source == "import os\nprint(os.getcwd())"
    assert cells[4].body == "install /dbfs/libs/x.whl"
    assert cells[5].body == "ls -l"
    assert cells[6].body == "SELECT 1"
    assert cells[8].magic == "%scala"
    assert cells[9].body == "x = 1"


def test_round_trip_of_an_export_and_of_the_example_notebooks() -> None:
    assert render_notebook(parse_notebook(EXPORTED)) == EXPORTED
    for file in sorted((REPO / "forecasting").rglob("*.py")):
        text = file.read_text()
        assert render_notebook(parse_notebook(text)) == text, file


@pytest.mark.parametrize(
    "text",
    [
        HEADER,
        HEADER + "\n",
        HEADER.rstrip("\n"),
        HEADER + SEPARATOR,
        HEADER + SEPARATOR + "\n" + SEPARATOR + "\n\n",
        HEADER.rstrip("\n") + "\r\nx = 1\r\n\r\n" + SEPARATOR + "\r\n\r\ny = 2",
        HEADER.rstrip("\n") + "   \nx = 1\n\n\n\n" + SEPARATOR + "   \n",
    ],
)
def test_round_trip_of_odd_spacing(text: str) -> None:
    assert render_notebook(parse_notebook(text)) == text


def test_empty_notebook_has_no_cells_and_separators_make_empty_cells() -> None:
    assert parse_notebook(HEADER).cells == ()
    cells = parse_notebook(HEADER + SEPARATOR + "\n").cells
    assert [cell.raw for cell in cells] == ["", ""]
    assert cells[0].kind == "python" and cells[0].source == ""


def test_missing_header_is_a_value_error_that_says_what_is_expected() -> None:
    assert is_notebook_source(HEADER + "x = 1\n")
    assert not is_notebook_source("print(1)\n")
    with pytest.raises(ValueError, match="Databricks notebook source") as caught:
        parse_notebook("print(1)\n")
    assert isinstance(caught.value, NotebookSourceError)
    assert "print(1)" in str(caught.value)


def test_make_cell_text_prefixes_every_line() -> None:
    assert make_cell_text("%md\n# T\n\nx", magic=True) == "# MAGIC %md\n# MAGIC # T\n# MAGIC\n# MAGIC x"
    assert Cell(make_cell_text("%sh\necho hi", magic=True) + "\n").body == "echo hi"


# -- property: any list of cells renders, parses and renders to the same text --------------
_LINE = st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=30).filter(
    lambda line: line.rstrip() != SEPARATOR
)
_MAGICS = {"%md": "md", "%sh": "sh", "%sql": "sql", "%run ./x": "run", "%pip install pandas": "pip", "%fs ls /": "fs"}


@st.composite
def _cells(draw: st.DrawFn) -> tuple[str | None, str]:
    """(the kind a magic cell must parse as, or None for free text; the cell's text)."""
    lines = draw(st.lists(_LINE, max_size=5))
    kind = None
    if draw(st.booleans()):
        magic = draw(st.sampled_from(sorted(_MAGICS)))
        kind = _MAGICS[magic]
        raw = make_cell_text("\n".join([magic] + lines), magic=True)
    else:
        raw = "\n".join(lines)
    before = "\n" * draw(st.integers(0, 2))
    after = "\n" * draw(st.integers(1, 3))  # a separator starts on a line of its own
    return kind, before + raw + after


@settings(max_examples=200, deadline=None)
@given(st.lists(_cells(), max_size=6), st.sampled_from(["\n", "\n\n"]))
def test_render_parse_render_is_identity(cells: list[tuple[str | None, str]], gap: str) -> None:
    built = Notebook(
        header=HEADER,
        cells=tuple(
            Cell(raw=text, separator="") if i == 0 else Cell(raw=gap[1:] + text, separator=SEPARATOR + "\n")
            for i, (_, text) in enumerate(cells)
        ),
    )
    text = render_notebook(built)
    parsed = parse_notebook(text)
    assert render_notebook(parsed) == text
    # one empty cell and no cell render alike; otherwise every cell comes back
    expected = 0 if text == HEADER else len(cells)
    assert len(parsed.cells) == expected
    assert parsed.cells == built.cells[:expected]
    for (kind, _), cell in zip(cells[:expected], parsed.cells, strict=True):
        assert kind is None or cell.kind == kind


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_after_the_header_round_trips(rest: str) -> None:
    text = HEADER + rest
    assert render_notebook(parse_notebook(text)) == text
