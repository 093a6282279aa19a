"""A notebook run result (cells, outputs, error) as one self-contained HTML page.

Used by the local backend's `export_run` (the local stand-in for a Databricks run
export, which it serves for `export_run`) and, piece by piece, by the CI report (bricktasks.report). Inline CSS
only, needs no JavaScript, and says so in a Content-Security-Policy.

`html` outputs come from the notebook's own `displayHTML`/`_repr_html_`: a branch's code, so
hostile in a pull request. Each is shown in its own sandboxed iframe (`sandbox=""`: no scripts,
no forms, no navigating the report, a unique origin) with the markup in `srcdoc`, escaped, under
the same policy. So a `<meta http-equiv=refresh>` cannot redirect the report, and its ids and CSS
stay inside the frame: they can neither hide nor fake the report's `id="status"`. Raw HTML in
markdown cells is shown as text for the same reason.

Stable hooks for tests and for people grepping a report: `id="status"` (overall
status, once per page) and the classes `notebook`, `cell`, `cell-error`, `exit-value`,
`exit-table`, `error-trace`, `output-table`, `output-image`, `output-html`, `output-text`.
"""
from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Iterable
from typing import Any

import markdown

from bricktasks.durations import format_duration

__all__ = ["CSP", "CSS", "clean_text", "esc", "html_frame", "image_src", "link", "overall_status", "page", "render_markdown",
           "render_notebook", "render_run_html", "seconds", "shorten", "status_badge"]

# Scripts, frames and remote loads are off; inline styles and data: images are all a report needs.
# (The displayHTML frames are `srcdoc`: they load nothing, so `frame-src 'none'` does not stop them.)
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; "
    "form-action 'none'; frame-src 'none'; object-src 'none'; script-src 'none'"
)
# What the frames say about themselves, on top of the policy they inherit from the report.
_FRAME_HEAD = f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{CSP}"></head><body>'

CSS = """
body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1200px;padding:16px;color:#1f2328}
h1{font-size:22px}h2{font-size:18px;margin:0}code,pre{font:12px/1.4 ui-monospace,Consolas,monospace}
pre{background:#f6f8fa;border-radius:4px;margin:6px 0;overflow:auto;padding:8px;white-space:pre-wrap;word-break:break-word}
.badge{border-radius:10px;color:#fff;font-size:12px;font-weight:600;padding:2px 8px;vertical-align:middle}
.badge-success{background:#1a7f37}.badge-failed{background:#cf222e}.badge-other{background:#9a6700}
.notebook{border:1px solid #d0d7de;border-radius:6px;margin:16px 0;padding:12px}
.meta{color:#57606a;font-size:12px}.cell{border-left:3px solid #d0d7de;margin:10px 0;padding:4px 10px}
.cell-error{background:#fff5f5;border-left-color:#cf222e}.cell-head{color:#57606a;font-size:12px}
.error-message{color:#cf222e;font-weight:600}pre.error-trace{background:#ffebe9}
.exit-value pre{background:#dafbe1}.output-html{border:1px solid #d0d7de;height:320px;resize:vertical;width:100%}
.output-image{max-width:100%}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #d0d7de;font-size:12px;padding:3px 6px;text-align:left}
th{background:#f6f8fa}.note{color:#57606a;font-size:12px;font-style:italic}
.figures{display:flex;flex-wrap:wrap;gap:12px}.figures figure{margin:0;max-width:580px}
.figures img{border:1px solid #d0d7de;max-width:100%}.figures figcaption{color:#57606a;font-size:12px}
"""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# What XML 1.0 forbids: C0 controls but tab/newline/return, lone surrogates, U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_IMAGE_TYPES = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "gif": "gif", "webp": "webp", "svg": "svg+xml", "svg+xml": "svg+xml"}
_MAGIC = re.compile(r"\A\s*%md(-sandbox)?[ \t]*\n?")


def clean_text(value: Any) -> str:
    """Text fit for XML and HTML: ANSI colour codes (Databricks traces have them) and forbidden characters removed."""
    text = value if isinstance(value, str) else str(value)
    return _FORBIDDEN.sub("", _ANSI.sub("", text))


def esc(value: Any) -> str:
    """Cleaned, HTML-escaped text (quotes too: it may sit in an attribute)."""
    return html.escape(clean_text(value), quote=True)


def seconds(value: Any) -> str:
    """A duration for people: tenths below a minute (cells are quick), format_duration above."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "?"
    return f"{number:.1f}s" if number < 60 else format_duration(number)


def shorten(text: str | None, limit: int = 200) -> str:
    """At most `limit` characters, for summary tables; the detail section has the whole text."""
    if text is None:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def link(url: str | None, label: str) -> str:
    """Only http(s) URLs become links: a run page URL is data, not something to follow blindly."""
    if not url:
        return ""
    if re.match(r"^https?://", url, re.IGNORECASE):
        return f'<a href="{esc(url)}">{esc(label)}</a>'
    return f"{esc(label)}: <code>{esc(url)}</code>"


def status_badge(status: str | None, *, element_id: str | None = None) -> str:
    state = (status or "UNKNOWN").upper()
    kind = "success" if state == "SUCCESS" else "failed" if state == "FAILED" else "other"
    ident = f' id="{esc(element_id)}"' if element_id else ""
    return f'<span{ident} class="badge badge-{kind}">{esc(state)}</span>'


def render_markdown(source: str) -> str:
    """A markdown cell (with or without its `%md` line) as HTML, raw HTML in it shown as text."""
    # Databricks keeps the magic on the cell's first line; the runtime may or may not strip it.
    text = _MAGIC.sub("", clean_text(source), count=1)
    renderer = markdown.Markdown(extensions=["tables", "fenced_code"])
    # raw HTML in a markdown cell is as hostile as displayHTML: shown as text (Python-Markdown's documented way)
    renderer.preprocessors.deregister("html_block")
    renderer.inlinePatterns.deregister("html")
    return f'<div class="markdown">{renderer.convert(text)}</div>'


def _render_table(output: dict[str, Any]) -> str:
    columns = output.get("columns") or []
    head = "".join(f"<th>{esc(column)}</th>" for column in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc('null' if value is None else value)}</td>" for value in row) + "</tr>"
        for row in output.get("rows") or []
    )
    note = '<p class="note">(truncated)</p>' if output.get("truncated") else ""
    return f'<table class="output-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{note}'


def image_src(output: dict[str, Any]) -> str | None:
    """An image output as a data: URI, or None when its data is not valid base64 of a known image type.

    Never write a data: URI we have not checked: it sits inside an attribute.
    """
    kind = _IMAGE_TYPES.get(str(output.get("format") or "png").lower())
    data = re.sub(r"\s+", "", str(output.get("data_base64") or ""))
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return f"data:image/{kind};base64,{data}" if kind and data else None


def _render_image(output: dict[str, Any]) -> str:
    src = image_src(output)
    if src is None:
        return '<p class="note">(an image that could not be shown)</p>'
    return f'<img class="output-image" alt="image output" src="{src}">'


def _render_output(output: dict[str, Any]) -> str:
    kind = output.get("type")
    if kind == "table":
        return _render_table(output)
    if kind == "image":
        return _render_image(output)
    if kind == "html":
        return html_frame(output.get("html") or "")
    text = output.get("text") if kind == "text" else json.dumps(output, default=str)[:2000]
    return f'<pre class="output-text">{esc(text or "")}</pre>'


def html_frame(markup: Any) -> str:
    """A displayHTML output, isolated: a sandboxed frame (no scripts, no navigation of the report, its own
    ids and CSS) whose document is the markup, escaped into `srcdoc`."""
    document = _FRAME_HEAD + clean_text(markup) + "</body></html>"
    return (
        '<iframe class="output-html" sandbox="" referrerpolicy="no-referrer" title="displayHTML output" '
        f'srcdoc="{html.escape(document, quote=True)}"></iframe>'
    )


def _error_block(error: str | None, trace: str | None) -> str:
    parts = []
    if error:
        parts.append(f'<p class="error-message">{esc(error)}</p>')
    if trace:
        parts.append(f'<pre class="error-trace">{esc(trace)}</pre>')
    return "".join(parts)


def _exit_table(exit_value: str) -> str:
    """A JSON object of plain values (the example exits with its metrics) as a two-column table.

    For a remote run this is the only table in the report: its cells stay in the Databricks export.
    """
    try:
        data = json.loads(exit_value)
    except ValueError:
        return ""
    if not isinstance(data, dict) or not data or any(isinstance(value, (dict, list)) for value in data.values()):
        return ""

    def shown(value: Any) -> str:
        if isinstance(value, float):
            return format(value, ".6g")  # the raw JSON below keeps every digit
        return "null" if value is None else str(value)

    rows = "".join(f"<tr><th>{esc(key)}</th><td>{esc(shown(value))}</td></tr>" for key, value in data.items())
    return f'<table class="exit-table"><tbody>{rows}</tbody></table>'


def _render_cell(cell: dict[str, Any], anchor: str, failed: bool, result: dict[str, Any]) -> str:
    kind = str(cell.get("kind") or "python")
    index = cell.get("index")
    classes = f"cell kind-{esc(kind)}" + (" cell-error" if failed else "")
    head = f'<div class="cell-head">Cmd {esc(index)} · {esc(kind)} · {seconds(cell.get("duration_s"))}</div>'
    body = [render_markdown(cell.get("source") or "") if kind == "md" else f'<pre class="source">{esc(cell.get("source") or "")}</pre>']
    if cell.get("stdout"):
        body.append(f'<pre class="stdout">{esc(cell["stdout"])}</pre>')
    body.extend(_render_output(output) for output in cell.get("outputs") or [] if isinstance(output, dict))
    if failed:
        body.append(_error_block(cell.get("error") or result.get("error"), result.get("error_trace")))
    elif cell.get("error"):
        body.append(_error_block(cell["error"], None))
    return f'<div class="{classes}" id="{esc(anchor)}-cell-{esc(index)}">{head}{"".join(body)}</div>'


def render_notebook(result: dict[str, Any], *, anchor: str, title: str | None = None, extra_html: str = "") -> str:
    """One notebook's section: header, cells, the failure (in its cell when there is one), exit value.

    `extra_html` is trusted markup the caller adds under the header (the report's links).
    A result without cells (a remote run) shows its error and trace at notebook level.
    """
    path = result.get("notebook_path") or ""
    status = result.get("status")
    failed_cell = result.get("failed_cell")
    cells = [cell for cell in result.get("cells") or [] if isinstance(cell, dict)]
    failed_here = {cell.get("index") for cell in cells if failed_cell is not None and cell.get("index") == failed_cell}
    failed_note = ""
    if failed_cell is not None:
        failed_note = f' · failed at <a href="#{esc(anchor)}-cell-{esc(failed_cell)}">cell {esc(failed_cell)}</a>'
    head = (
        f'<h2>{esc(title or path.rsplit("/", 1)[-1] or "notebook")} {status_badge(status)}</h2>'
        f'<p class="meta"><code>{esc(path)}</code> · {seconds(result.get("duration_s"))}{failed_note}</p>'
    )
    body = [_render_cell(cell, anchor, cell.get("index") in failed_here, result) for cell in cells]
    if (result.get("error") or result.get("error_trace")) and not failed_here:
        body.append(f'<div class="notebook-error">{_error_block(result.get("error"), result.get("error_trace"))}</div>')
    if result.get("exit_value") is not None:
        exit_value = clean_text(result["exit_value"])
        body.append(f'<div class="exit-value"><strong>Exit value</strong>{_exit_table(exit_value)}<pre>{esc(exit_value)}</pre></div>')
    return f'<section class="notebook" id="{esc(anchor)}">{head}{extra_html}{"".join(body)}</section>'


def page(title: str, body: str) -> str:
    """The document around rendered sections: charset, CSP, inline CSS."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def overall_status(statuses: Iterable[str | None]) -> str:
    """SUCCESS when every notebook succeeded, else the first other state; UNKNOWN for none."""
    states = [(status or "UNKNOWN").upper() for status in statuses]
    if not states:
        return "UNKNOWN"
    return next((state for state in states if state != "SUCCESS"), "SUCCESS")


def render_run_html(run_name: str, results: list[dict]) -> str:
    """The whole page for one run: its name, overall status (`id="status"`), every notebook."""
    status = overall_status(result.get("status") for result in results)
    total = sum(float(result.get("duration_s") or 0) for result in results)
    header = (
        f'<h1>{esc(run_name)} {status_badge(status, element_id="status")}</h1>'
        f'<p class="meta">{len(results)} notebook(s) · {seconds(total)}</p>'
    )
    sections = [render_notebook(result, anchor=f"nb-{number}") for number, result in enumerate(results, 1)]
    if not results:
        sections.append('<p class="note">This run left no notebook results.</p>')
    return page(run_name, header + "\n".join(sections))
