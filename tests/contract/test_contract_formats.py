"""Workspace export and import formats: JUPYTER, HTML, DBC, AUTO of an .ipynb, folders, direct_download.

Two levels: the backend contract on every backend (local, DatabricksBackend -> emulator, live),
and the real SDK's own calls (`w.workspace.export/download/upload`) against the emulator, with
what the emulator answered read from its request log (no 500, ever).
"""
from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import nbformat
import pytest
from databricks.sdk.errors import DatabricksError, NotFound
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language

from bricktasks.backends.base import ObjectType
from bricktasks.errors import InvalidRequest
from bricktasks.testing.emulator import start_emulator, workspace_client

REPO = Path(__file__).resolve().parents[2]
EVALUATE = (REPO / "forecasting" / "Evaluate.py").read_bytes()
NOTEBOOK_KEY = "application/vnd.databricks.v1+notebook"


def _ipynb(*cells, language: str = "python") -> bytes:
    notebook = nbformat.v4.new_notebook(metadata={NOTEBOOK_KEY: {"language": language, "notebookName": "x"}})
    notebook.cells = list(cells)
    return nbformat.writes(notebook).encode()


# -- the backend contract ------------------------------------------------------------------------


def test_jupyter_export_then_import_gives_the_same_notebook(place, backend):
    backend.import_object(f"{place.workspace}/Evaluate.py", EVALUATE)
    exported = backend.export(f"{place.workspace}/Evaluate", format="JUPYTER")
    notebook = nbformat.reads(exported.decode(), as_version=4)
    assert notebook.metadata[NOTEBOOK_KEY]["language"] == "python"
    assert [cell.cell_type for cell in notebook.cells][:2] == ["markdown", "code"]
    backend.import_object(f"{place.workspace}/Copy", exported, format="JUPYTER")
    assert backend.get_status(f"{place.workspace}/Copy").language == "PYTHON"
    assert backend.export(f"{place.workspace}/Copy").replace(b"\r\n", b"\n") == EVALUATE


def test_auto_import_of_an_ipynb_is_a_notebook_named_without_the_extension(place, backend):
    content = _ipynb(nbformat.v4.new_markdown_cell("# Q"), nbformat.v4.new_code_cell("SELECT 1"), language="sql")
    backend.import_object(f"{place.workspace}/query.ipynb", content)
    info = backend.get_status(f"{place.workspace}/query")
    assert (info.object_type, info.language) == (ObjectType.NOTEBOOK, "SQL")
    source = backend.export(f"{place.workspace}/query").decode().replace("\r\n", "\n")
    assert source == "-- Databricks notebook source\n-- MAGIC %md\n-- MAGIC # Q\n\n-- COMMAND ----------\n\nSELECT 1\n"


def test_auto_import_of_a_broken_ipynb_keeps_it_as_a_file(place, backend):
    backend.import_object(f"{place.workspace}/broken.ipynb", b"{not json")
    assert backend.get_status(f"{place.workspace}/broken.ipynb").object_type is ObjectType.FILE


def test_jupyter_import_of_a_malformed_notebook_is_refused_and_writes_nothing(place, backend):
    with pytest.raises(InvalidRequest):
        backend.import_object(f"{place.workspace}/bad", b'{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4}',
                              format="JUPYTER")
    assert [info.path for info in backend.list(place.workspace)] == []


def test_html_export_is_a_page_of_the_notebook(place, backend):
    backend.import_object(f"{place.workspace}/Evaluate.py", EVALUATE)
    page = backend.export(f"{place.workspace}/Evaluate", format="HTML").decode()
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "Evaluate" in page and "__DATABRICKS_NOTEBOOK_MODEL" in page


def test_dbc_export_of_a_notebook_and_of_a_folder(place, backend):
    backend.mkdirs(f"{place.workspace}/dir/sub")
    backend.import_object(f"{place.workspace}/dir/a.py", EVALUATE)
    backend.import_object(f"{place.workspace}/dir/sub/q.sql", b"-- Databricks notebook source\nSELECT 1\n")
    backend.import_object(f"{place.workspace}/dir/data.csv", b"a,b\n")
    single = zipfile.ZipFile(io.BytesIO(backend.export(f"{place.workspace}/dir/a", format="DBC")))
    assert [json.loads(single.read(name))["name"] for name in single.namelist()] == ["a"]
    folder = zipfile.ZipFile(io.BytesIO(backend.export(f"{place.workspace}/dir", format="DBC")))
    assert sorted(folder.namelist()) == ["dir/a.python", "dir/sub/q.sql"]  # notebooks only, as the API says


def test_a_folder_does_not_export_as_jupyter_or_html(place, backend):
    for format in ("JUPYTER", "HTML"):
        with pytest.raises(InvalidRequest):
            backend.export(place.workspace, format=format)


# -- the real SDK against the emulator -------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with start_emulator(tmp_path_factory.mktemp("formats") / "root", token="formats-token") as handle:
        yield handle


@pytest.fixture(scope="module")
def w(emulator):
    client = workspace_client(emulator.url, "formats-token")
    client.workspace.mkdirs("/Users/me@example.com/formats")
    client.workspace.upload("/Users/me@example.com/formats/Evaluate.py", EVALUATE, format=ImportFormat.AUTO)
    return client


FOLDER = "/Users/me@example.com/formats"


@pytest.mark.parametrize("format, file_type", [
    (ExportFormat.SOURCE, "py"), (ExportFormat.JUPYTER, "ipynb"), (ExportFormat.HTML, "html"), (ExportFormat.DBC, "dbc"),
])
def test_sdk_export_answers_base64_content_and_the_file_type(w, format, file_type):
    answer = w.workspace.export(f"{FOLDER}/Evaluate", format=format)
    assert answer.file_type == file_type
    content = base64.b64decode(answer.content)
    assert content == w.workspace.download(f"{FOLDER}/Evaluate", format=format).read()  # direct_download: the same bytes raw
    if format is ExportFormat.JUPYTER:
        nbformat.validate(nbformat.reads(content.decode(), as_version=4))


def test_sdk_upload_as_jupyter_and_download_as_source(w):
    content = _ipynb(nbformat.v4.new_code_cell("%pip install x"), nbformat.v4.new_code_cell("print(1)"))
    w.workspace.upload(f"{FOLDER}/from_jupyter", content, format=ImportFormat.JUPYTER)
    status = w.workspace.get_status(f"{FOLDER}/from_jupyter")
    assert (status.object_type.value, status.language) == ("NOTEBOOK", Language.PYTHON)
    source = w.workspace.download(f"{FOLDER}/from_jupyter").read().decode()
    assert source == "# Databricks notebook source\n# MAGIC %pip install x\n\n# COMMAND ----------\n\nprint(1)\n"


def test_sdk_folder_export_is_a_dbc_archive_even_as_source(w):
    answer = w.workspace.export(FOLDER, format=ExportFormat.SOURCE)
    assert answer.file_type == "dbc"
    assert "formats/Evaluate.python" in zipfile.ZipFile(io.BytesIO(base64.b64decode(answer.content))).namelist()


def test_sdk_bad_input_gets_the_api_errors_never_a_500(w, emulator):
    cases = [
        lambda: w.workspace.upload(f"{FOLDER}/bad", b"{not json", format=ImportFormat.JUPYTER),
        lambda: w.workspace.upload(f"{FOLDER}/bad", b"<html>no model</html>", format=ImportFormat.HTML),
        lambda: w.workspace.export(FOLDER, format=ExportFormat.JUPYTER),
        lambda: w.workspace.export(f"{FOLDER}/Evaluate", format=ExportFormat.R_MARKDOWN),
        lambda: w.api_client.do("GET", "/api/2.0/workspace/export", query={"path": f"{FOLDER}/Evaluate", "format": "PDF"}),
    ]
    for case in cases:
        seen = len(emulator.requests)
        with pytest.raises(DatabricksError) as caught:  # upload() re-raises a 400 as a plain DatabricksError with a hint
            case()
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
        assert [entry["status"] for entry in emulator.requests[seen:]] == [400]
    for hostile in ("/../../etc/passwd", f"{FOLDER}/../../..", "/a\x00b"):
        with pytest.raises(DatabricksError) as caught:
            w.workspace.upload(hostile + ".ipynb", _ipynb(), format=ImportFormat.AUTO)
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
        with pytest.raises(DatabricksError) as caught:
            w.workspace.export(hostile, format=ExportFormat.DBC)
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(NotFound):
        w.workspace.export(f"{FOLDER}/missing", format=ExportFormat.JUPYTER)
    with pytest.raises(NotFound):
        w.workspace.get_status(f"{FOLDER}/bad")  # nothing was written
    assert all(entry["status"] < 500 for entry in emulator.requests)
