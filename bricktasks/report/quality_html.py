"""report.html's section on model quality: the table against master and a trend plot per key metric.

Every text is escaped (metric names come from a notebook's exit value, notes from manifests a pull
request may have written); the plots are PNGs embedded as data: URIs, which the report's
Content-Security-Policy allows and nothing else in it loads.
"""
from __future__ import annotations

from bricktasks.backends.notebook_html import esc
from bricktasks.report.quality import QualityComparison, describe_better, format_change, format_value, last_builds
from bricktasks.report.quality_plot import trend_png

__all__ = ["quality_section"]

_VERDICT_COLOURS = {"better": "#1a7f37", "worse": "#cf222e"}


def quality_section(comparison: QualityComparison | None) -> str:
    """The section's HTML; empty when the build has no comparison at all (no metrics step ran)."""
    if comparison is None:
        return ""
    parts = ['<section class="quality" id="quality"><h2>Model quality against master</h2>']
    reason = comparison.nothing_to_compare
    if reason:
        parts.append(f'<p class="note quality-reason">{esc(reason)}</p>')
    master = comparison.master
    if master is not None and master.metrics:
        history = comparison.branch_builds
        parts.append(
            f'<p class="meta">compared with master build <code>{esc(master.name)}</code> (the newest successful, '
            f"{esc(master.created)})" + (f" and {last_builds(len(history))} of this branch" if history else "")
            + "</p>"
        )
    if comparison.rows:
        rows = []
        for row in comparison.rows:
            colour = _VERDICT_COLOURS.get(row.verdict)
            style = f' style="color:{colour}"' if colour else ""
            better = describe_better(row)
            rows.append(
                f"<tr><td><code>{esc(row.key)}</code>" + (f' <span class="meta">{esc(better)}</span>' if better else "")
                + f"</td><td>{esc(format_value(row.value))}</td><td>{esc(format_value(row.master))}</td>"
                f'<td class="quality-change"{style}>{esc(format_change(row))}</td>'
                f"<td>{esc(' → '.join(format_value(value) for value in row.trend))}</td></tr>"
            )
        parts.append(
            '<table class="quality-table"><thead><tr><th>Metric</th><th>This build</th><th>master</th><th>Change</th>'
            f"<th>Trend (oldest → this build)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    if comparison.hidden:
        parts.append(f'<p class="note">{comparison.hidden} more metrics not shown</p>')
    plots = []
    for row in comparison.key_rows:
        if sum(value is not None for value in row.trend) < 2 and row.master is None:
            continue  # one point and no master line: a plot would say nothing the table does not
        src = trend_png(row.key, row.trend, row.master)
        caption = esc(f"{row.key}: this build in red, master dashed")
        plots.append(f'<figure><img class="quality-trend" alt="{caption}" src="{esc(src)}"><figcaption>{caption}</figcaption></figure>')
    if plots:
        parts.append(f'<div class="figures quality-trends">{"".join(plots)}</div>')
    if comparison.rows:
        parts.append('<p class="note">▲/▼ show which way a value moved; better or worse only where the metric\'s '
                     "direction is known (declared, or an error metric such as mae, rmse or loss)</p>")
    if comparison.notes:
        parts.append('<ul class="quality-notes">' + "".join(f"<li>{esc(note)}</li>" for note in comparison.notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)
