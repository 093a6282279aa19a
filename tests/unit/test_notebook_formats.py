"""Notebook format conversions: source <-> commands <-> ipynb / HTML / DBC, and what malformed input gets."""
from __future__ import annotations

import base64
import io
import json
import re
import urllib.parse
import zipfile
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bricktasks.backends.notebook_archive import dbc_archive, from_html, html_page
from bricktasks.backends.notebook_export import export_notebook, notebook_from_import
from bricktasks.backends.notebook_jupyter import CELL_KEY, NOTEBOOK_KEY, from_ipynb, is_ipynb, to_ipynb
from bricktasks.backends.notebook_source import Command, parse_source, render_source
from bricktasks.errors import InvalidRequest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_NOTEBOOKS = sorted((REPO / "forecasting").rglob("*.py"))


def test_the_example_has_notebooks_to_convert():
    assert len(EXAMPLE_NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", EXAMPLE_NOTEBOOKS, ids=lambda p: p.name)
def test_example_notebooks_round_trip_through_ipynb_html_and_commands(path):
    source = path.read_text(encoding="utf-8")
    commands = parse_source(source, "PYTHON")
    assert render_source(commands, "PYTHON") == source
    ipynb = export_notebook(source.encode(), "PYTHON", path.stem, "JUPYTER")
    assert notebook_from_import(ipynb, "JUPYTER") == (source.encode(), "PYTHON")
    html = export_notebook(source.encode(), "PYTHON", path.stem, "HTML")
    assert notebook_from_import(html, "HTML") == (source.encode(), "PYTHON")


def test_ipynb_export_has_databricks_metadata_markdown_cells_and_kept_magics():
    source = (REPO / "forecasting" / "Evaluate.py").read_text(encoding="utf-8")
    notebook = nbformat.reads(to_ipynb(parse_source(source, "PYTHON"), "PYTHON", "Evaluate").decode(), as_version=4)
    nbformat.validate(notebook)
    meta = notebook.metadata[NOTEBOOK_KEY]
    assert (meta["language"], meta["notebookName"], notebook.nbformat, notebook.nbformat_minor) == ("python", "Evaluate", 4, 0)
    first, second, third = notebook.cells[:3]
    assert first.cell_type == "markdown" and first.source.startswith("# Evaluate\n")  # the %md line is gone
    assert (second.cell_type, second.source) == ("code", "%run ./set_environment")  # other magics stay
    assert third.cell_type == "code" and third.source.startswith("import json") and third.execution_count == 0
    assert third.outputs == [] and CELL_KEY in third.metadata
    assert "id" not in first  # nbformat 4.0, as Databricks writes it


def test_titles_and_other_languages_survive():
    sql = (
        "-- Databricks notebook source\n-- DBTITLE 1,Count rows\nSELECT count(*) FROM t\n\n-- COMMAND ----------\n\n"
        "-- MAGIC %python\n-- MAGIC print(1)\n\n-- COMMAND ----------\n\n-- DBTITLE 0,hidden\n-- MAGIC %md\n-- MAGIC # Notes\n"
    )
    commands = parse_source(sql, "SQL")
    assert commands == [
        Command("SELECT count(*) FROM t", "Count rows", True),
        Command("%python\nprint(1)"),
        Command("%md\n# Notes", "hidden", False),
    ]
    ipynb = to_ipynb(commands, "SQL", "q")
    cell = json.loads(ipynb)["cells"][0]["metadata"][CELL_KEY]
    assert (cell["title"], cell["showTitle"]) == ("Count rows", True)
    assert from_ipynb(ipynb) == (commands, "SQL")
    assert render_source(from_ipynb(ipynb)[0], "SQL") == sql


def test_a_scala_notebook_uses_its_own_comment_marker():
    scala = "// Databricks notebook source\nval x = 1\n\n// COMMAND ----------\n\n// MAGIC %md\n// MAGIC hi\n"
    assert parse_source(scala, "SCALA") == [Command("val x = 1"), Command("%md\nhi")]
    assert render_source(parse_source(scala, "SCALA"), "SCALA") == scala


def test_a_header_only_notebook_is_one_empty_command():
    assert parse_source("# Databricks notebook source\n", "PYTHON") == [Command("")]
    assert render_source([Command("")], "PYTHON") == "# Databricks notebook source\n"


def test_a_plain_jupyter_notebook_imports_with_its_kernel_language():
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "ir", "language": "R", "display_name": "R"}})
    notebook.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x <- 1", outputs=[
        nbformat.v4.new_output("stream", text="ignored\n")])]
    source, language = notebook_from_import(nbformat.writes(notebook).encode(), "JUPYTER")
    assert language == "R"
    assert source == b"# Databricks notebook source\n# MAGIC %md\n# MAGIC # Title\n\n# COMMAND ----------\n\nx <- 1\n"


def test_a_4_5_notebook_without_cell_ids_is_repaired_not_refused():
    raw = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [], "execution_count": None}],
           "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    assert from_ipynb(json.dumps(raw).encode()) == ([Command("x = 1")], "PYTHON")


MALFORMED = {
    "not json": b"{cells",
    "not utf-8": b"\xff\xfe\x00",
    "a list": b"[]",
    "no cells": b'{"metadata": {}, "nbformat": 4, "nbformat_minor": 0}',
    "cells not objects": b'{"cells": [1], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
    "version 3": b'{"cells": [], "metadata": {}, "nbformat": 3, "nbformat_minor": 0}',
    "version a string": b'{"cells": [], "metadata": {}, "nbformat": "4", "nbformat_minor": 0}',
    "cell without metadata": b'{"cells": [{"cell_type": "code", "source": ""}], "metadata": {}, "nbformat": 4, "nbformat_minor": 0}',
    "unknown cell type": b'{"cells": [{"cell_type": "x", "source": "", "metadata": {}}], "metadata": {}, '
                         b'"nbformat": 4, "nbformat_minor": 0}',
    "language_info not an object": b'{"cells": [], "metadata": {"language_info": 5}, "nbformat": 4, "nbformat_minor": 0}',
    "a language Databricks lacks": json.dumps({"cells": [], "metadata": {NOTEBOOK_KEY: {"language": "julia"}},
                                               "nbformat": 4, "nbformat_minor": 0}).encode(),
}


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_ipynb_is_an_invalid_request_with_a_hint(content):
    with pytest.raises(InvalidRequest) as caught:
        from_ipynb(content)
    assert caught.value.message and "\n" not in caught.value.message
    assert not is_ipynb(content)


@pytest.mark.parametrize("content", [b"<html></html>", b"__DATABRICKS_NOTEBOOK_MODEL = 'bm90IGpzb24='",
                                     b"__DATABRICKS_NOTEBOOK_MODEL = '" + base64.b64encode(b"%7B%7D") + b"'"])
def test_html_without_a_sound_model_is_an_invalid_request(content):
    with pytest.raises(InvalidRequest):
        from_html(content)


def test_the_html_page_shows_commands_escaped_and_runs_nothing():
    hostile = [Command('%md\n# Hi <script>alert(1)</script>'), Command("x = '</script><script>alert(2)</script>'", "t</title>", True)]
    page = html_page(hostile, "PYTHON", "nb<1>").decode()
    assert "script-src 'none'" in page  # the policy forbids even the model's line
    assert page.count("<script") == 1 and "<script>alert" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(2)" in page and "nb&lt;1&gt;" in page
    encoded = re.search(r"__DATABRICKS_NOTEBOOK_MODEL = '([^']*)'", page).group(1)
    model = json.loads(urllib.parse.unquote(base64.b64decode(encoded).decode()))  # Databricks' encoding
    assert [c["command"] for c in model["commands"]] == [c.text for c in hostile]


def test_a_dbc_archive_holds_one_notebookv1_json_per_notebook():
    archive = zipfile.ZipFile(io.BytesIO(dbc_archive([("dir/a", [Command("x = 1")], "PYTHON"), ("dir/q", [Command("SELECT 1")], "SQL")])))
    assert archive.namelist() == ["dir/a.python", "dir/q.sql"]
    model = json.loads(archive.read("dir/q.sql"))
    assert (model["version"], model["name"], model["language"]) == ("NotebookV1", "q", "sql")
    assert [(c["version"], c["command"], c["position"]) for c in model["commands"]] == [("CommandV1", "SELECT 1", 1.0)]


def test_exports_are_stable_across_calls():
    source = (REPO / "forecasting" / "PrepareData.py").read_bytes()
    for format in ("JUPYTER", "HTML", "DBC"):
        assert export_notebook(source, "PYTHON", "PrepareData", format) == export_notebook(source, "PYTHON", "PrepareData", format)


def test_a_bad_header_or_language_is_refused():
    with pytest.raises(InvalidRequest):
        parse_source("print(1)\n", "PYTHON")
    with pytest.raises(InvalidRequest):
        parse_source("# Databricks notebook source\n", "JULIA")


# Commands the way Databricks stores them: no blank lines at either end, no separator line inside,
# magic commands starting with a magic word; titles on one line.
_line = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=30)
_body = st.lists(_line, min_size=1, max_size=5).map("\n".join).filter(
    lambda text: text.strip() != "" and text == text.strip("\n") and text.split("\n")[0].strip() != ""
    and not text.lstrip().startswith("%") and "COMMAND ----------" not in text and "DBTITLE" not in text and "MAGIC" not in text
)
_magic = st.sampled_from(["%md", "%sql", "%sh", "%pip install x", "%run ./other"])
_title = st.none() | _line.map(str.strip).filter(lambda title: title != "")


@st.composite
def _commands(draw) -> list[Command]:
    commands = []
    for _ in range(draw(st.integers(1, 5))):
        magic = draw(st.none() | _magic)
        text = draw(_body) if magic is None else f"{magic}\n{draw(_body)}"
        title = draw(_title)
        commands.append(Command(text, title, draw(st.booleans()) if title is not None else False))
    return commands


@settings(max_examples=60, deadline=None)
@given(_commands(), st.sampled_from(["PYTHON", "SQL", "SCALA", "R"]))
def test_source_to_ipynb_to_source_is_identical(commands, language):
    source = render_source(commands, language)
    assert parse_source(source, language) == commands
    ipynb = export_notebook(source.encode(), language, "nb", "JUPYTER")
    assert notebook_from_import(ipynb, "JUPYTER") == (source.encode(), language)
