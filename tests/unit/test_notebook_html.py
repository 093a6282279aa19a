"""notebook_html: a run result as a self-contained page, escaped, with the failure where it happened."""
from __future__ import annotations

import base64
from html.parser import HTMLParser

from bricktasks.backends.notebook_html import clean_text, image_src, render_notebook, render_run_html

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
PATH = "/Projects/forecasting/CI/12-BI-1/ModelTraining"


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside elements with a given class."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def with_class(self, name: str) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.tags if name in attrs.get("class", "").split()]

    def ids(self) -> list[str]:
        return [attrs["id"] for _, attrs in self.tags if "id" in attrs]


def cell(index: int, kind: str = "python", source: str = "x = 1", **extra) -> dict:
    return {"index": index, "kind": kind, "source": source, "stdout": "", "outputs": [], "error": None, "duration_s": 0.2, **extra}


def result(**extra) -> dict:
    base = {
        "notebook_path": PATH, "status": "SUCCESS", "exit_value": None, "error": None, "error_trace": None,
        "failed_cell": None, "duration_s": 3.5, "cells": [cell(1)],
    }
    return {**base, **extra}


def failed() -> dict:
    return result(
        status="FAILED",
        error="ValueError: quality below threshold",
        error_trace="Traceback (most recent call last):\n  File \"<cell 2>\", line 1\nValueError: quality below threshold",
        failed_cell=2,
        cells=[
            cell(1, "run", "%run ./set_environment"),
            cell(2, source="raise ValueError('quality below threshold')", error="ValueError: quality below threshold"),
            cell(3),
        ],
    )


def test_code_sources_are_escaped_never_raw() -> None:
    page = render_run_html("CI-12-BI-1", [result(cells=[cell(1, source='display("<script>alert(1)</script>")', stdout="<b>out</b>")])])
    assert "<script>alert(1)</script>" not in page and "<b>out</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;out&lt;/b&gt;" in page
    assert "<script" not in page.lower()


def test_markdown_cells_are_rendered_without_the_magic() -> None:
    markdown = "%md\n# Model training\n\nTrains *one* model.\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    page = render_run_html("run", [result(cells=[cell(1, "md", markdown)])])
    assert "<h1>Model training</h1>" in page and "<em>one</em>" in page and "<td>1</td>" in page
    assert "%md" not in page


def test_tables_escape_every_value_and_say_when_truncated() -> None:
    table = {"type": "table", "columns": ["series", "<mae>"], "rows": [["a&b", 0.5], [None, "<i>x</i>"]], "truncated": True}
    page = render_run_html("run", [result(cells=[cell(1, outputs=[table])])])
    assert len(Elements(page).with_class("output-table")) == 1
    assert "<th>&lt;mae&gt;</th>" in page and "<td>a&amp;b</td>" in page and "<td>null</td>" in page
    assert "<i>x</i>" not in page and "(truncated)" in page


def test_images_become_data_uris_and_bad_data_is_not_written_into_an_attribute() -> None:
    outputs = [{"type": "image", "format": "png", "data_base64": PNG}, {"type": "image", "format": "png", "data_base64": '" onerror="x'}]
    page = render_run_html("run", [result(cells=[cell(1, outputs=outputs)])])
    (image,) = Elements(page).with_class("output-image")
    assert image["src"] == f"data:image/png;base64,{PNG}"
    assert "onerror" not in page  # unchecked data never reaches an attribute
    assert "could not be shown" in page


def test_html_outputs_are_framed_whole_and_text_outputs_escaped() -> None:
    outputs = [{"type": "html", "html": "<div class='chart'><b>bold</b></div>"}, {"type": "text", "text": "a < b"}]
    page = render_run_html("run", [result(cells=[cell(1, outputs=outputs)])])
    (frame,) = Elements(page).with_class("output-html")
    assert "<div class='chart'><b>bold</b></div>" in frame["srcdoc"]  # the markup whole, in its sandboxed frame
    assert "<b>bold</b>" not in page
    assert '<pre class="output-text">a &lt; b</pre>' in page


def test_the_failing_cell_is_highlighted_with_its_error_and_trace() -> None:
    page = render_run_html("CI-12-BI-1", [failed()])
    elements = Elements(page)
    cells = elements.with_class("cell")
    assert [c["id"] for c in cells] == ["nb-1-cell-1", "nb-1-cell-2", "nb-1-cell-3"]
    assert [c["id"] for c in elements.with_class("cell-error")] == ["nb-1-cell-2"]
    assert len(elements.with_class("error-trace")) == 1
    failing = page.split('id="nb-1-cell-2"', 1)[1].split('id="nb-1-cell-3"', 1)[0]
    assert "quality below threshold" in failing and 'class="error-trace"' in failing and "Traceback" in failing
    assert 'href="#nb-1-cell-2"' in page  # the header points at it
    assert '<span id="status" class="badge badge-failed">FAILED</span>' in page


def test_exit_value_is_shown() -> None:
    page = render_run_html("run", [result(exit_value='{"mae_ratio": 0.4}')])
    assert len(Elements(page).with_class("exit-value")) == 1
    assert "{&quot;mae_ratio&quot;: 0.4}" in page.split('class="exit-value"', 1)[1]
    assert '<span id="status" class="badge badge-success">SUCCESS</span>' in page


def test_a_result_without_cells_shows_its_error_at_notebook_level() -> None:
    section = render_notebook(
        {"notebook_path": PATH, "status": "TIMEDOUT", "error": "timed out", "error_trace": "\x1b[0;31mTrace\x1b[0m\x00", "cells": []},
        anchor="nb-x",
    )
    assert 'class="notebook-error"' in section and '<pre class="error-trace">Trace</pre>' in section
    assert "badge-other" in section and "\x1b" not in section and "\x00" not in section


def test_the_page_is_self_contained_with_one_status_and_unique_ids() -> None:
    page = render_run_html("two notebooks", [result(cells=[cell(1), cell(2)]), failed()])
    elements = Elements(page)
    ids = elements.ids()
    assert ids.count("status") == 1 and len(ids) == len(set(ids))
    assert "Content-Security-Policy" in page and "<style>" in page
    for tag, attrs in elements.tags:
        assert tag not in ("script", "link", "iframe")
        assert not attrs.get("src", "data:").startswith(("http", "//"))
    assert 'id="status" class="badge badge-failed"' in page  # any failure fails the run


def test_a_run_without_results_says_so() -> None:
    page = render_run_html("empty", [])
    assert ">UNKNOWN<" in page and "no notebook results" in page


def test_clean_text_removes_what_xml_forbids_and_ansi_codes() -> None:
    assert clean_text("a\x00b\x07c\x1b[1;31md\x1b[0m\te\nf\ud800\uffff") == "abcd\te\nf"
    assert clean_text(12) == "12"


def test_a_json_object_exit_value_is_also_a_table_of_its_values() -> None:
    exit_value = '{"environment": "ci", "series_in": 200, "mae_ratio": 0.29581790949401177, "note": "<b>", "gone": null}'
    page = render_run_html("run", [result(exit_value=exit_value)])
    (table,) = Elements(page).with_class("exit-table")
    block = page.split('class="exit-value"', 1)[1]
    assert "<tr><th>series_in</th><td>200</td></tr>" in block and "<tr><th>mae_ratio</th><td>0.295818</td></tr>" in block
    assert "<td>&lt;b&gt;</td>" in block and "<td>null</td>" in block
    assert "0.29581790949401177" in block  # the raw value, every digit, stays under the table


def test_exit_values_that_are_not_flat_json_objects_stay_text_only() -> None:
    for exit_value in ("done", "[1, 2]", '{"nested": {"a": 1}}', "{}", "{not json"):
        page = render_run_html("run", [result(exit_value=exit_value)])
        assert Elements(page).with_class("exit-table") == [], exit_value
        assert len(Elements(page).with_class("exit-value")) == 1


def test_image_src_is_a_checked_data_uri_or_none() -> None:
    assert image_src({"type": "image", "format": "png", "data_base64": PNG}) == f"data:image/png;base64,{PNG}"
    assert image_src({"type": "image", "format": "svg", "data_base64": PNG}).startswith("data:image/svg+xml;base64,")
    assert image_src({"type": "image", "format": "png", "data_base64": '" onerror="x'}) is None
    assert image_src({"type": "image", "format": "bmp-or-worse", "data_base64": PNG}) is None
    assert image_src({"type": "image", "format": "png", "data_base64": ""}) is None
