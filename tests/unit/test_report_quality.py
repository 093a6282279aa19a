"""Model quality against master: metrics read safely, compared, rendered as Markdown and HTML."""
from __future__ import annotations

import base64
import json
import re
import struct

from bricktasks.report.quality import (
    MAX_ROWS,
    BuildMetrics,
    Directions,
    compare_quality,
    render_quality_markdown,
    sparkline,
)
from bricktasks.report.quality_html import quality_section
from bricktasks.report.quality_metrics import (
    MAX_METRICS,
    clean_metrics,
    merge_metrics,
    metrics_from_exit_value,
    mlflow_run_id,
)


def build(name: str, branch: str, metrics: dict[str, float], *, created: str = "2026-12-01T10:00:00+00:00",
          result: str = "SUCCESS") -> BuildMetrics:
    return BuildMetrics(name, branch, created, result, metrics)


# ---- reading metrics -------------------------------------------------------------------------


def test_exit_value_numbers_become_dotted_metrics_and_text_is_left_out():
    exit_value = json.dumps({"mae_ratio": 0.41, "series_in": 200, "mlflow_run_id": "abc", "quality_gate": "passed",
                             "ok": True, "nested": {"rmse": 1.5, "deep": {"x": 2}}, "list": [1, 2]})
    metrics = metrics_from_exit_value("ModelTraining", exit_value)
    assert metrics.values == {"ModelTraining.mae_ratio": 0.41, "ModelTraining.series_in": 200.0,
                              "ModelTraining.nested.rmse": 1.5, "ModelTraining.nested.deep.x": 2.0}
    assert metrics.notes == ()
    assert metrics_from_exit_value("Smoke", "ci 0.4.0").values == {}  # plain text: a fine exit value, no metrics
    assert metrics_from_exit_value("Smoke", "[1, 2]").values == {}
    assert metrics_from_exit_value("Smoke", None).values == {}


def test_the_mlflow_run_id_is_taken_only_when_it_looks_like_one():
    assert mlflow_run_id(json.dumps({"mlflow_run_id": "717d0a95b0df404f98a7d1e5d24d066f"})) == "717d0a95b0df404f98a7d1e5d24d066f"
    assert mlflow_run_id(json.dumps({"mlflow_run_id": "../../etc/passwd"})) is None
    assert mlflow_run_id(json.dumps({"mlflow_run_id": 12})) is None
    assert mlflow_run_id("not json") is None


def test_hostile_metrics_are_capped_and_reported_never_trusted():
    raw = {f"k{index:07d}": index for index in range(1_000_000)}
    raw.update({"nan": float("nan"), "inf": float("inf"), "text": "0.5", "flag": True, "huge": 10**400,
                "x" * 500: 1.0, "bad\nkey": 1.0})
    cleaned = clean_metrics(raw, source="build 3-master's metrics")
    assert len(cleaned.values) == MAX_METRICS
    assert all(isinstance(value, float) for value in cleaned.values.values())
    assert "nan" not in cleaned.values and "text" not in cleaned.values and "flag" not in cleaned.values
    assert any("2 metric names ignored" in note for note in cleaned.notes)
    assert any("5 values ignored (not finite numbers)" in note for note in cleaned.notes)
    assert any(f"only the first {MAX_METRICS} by name kept" in note for note in cleaned.notes)
    not_an_object = clean_metrics([1, 2], source="m")
    assert not_an_object.values == {} and not_an_object.notes == ("m is not a JSON object: ignored",)
    assert clean_metrics("text").values == {}


def test_an_exit_value_with_nan_and_a_million_keys_is_cut_down():
    exit_value = json.dumps({"a": float("nan"), "b": float("inf"), **{f"m{i}": i for i in range(50_000)}})
    metrics = metrics_from_exit_value("T", exit_value)
    assert len(metrics.values) == MAX_METRICS and metrics.notes
    nested = "[" * 100_000 + "]" * 100_000  # deeper than the parser recurses
    assert metrics_from_exit_value("T", '{"a": ' + nested + "}").values == {}
    assert metrics_from_exit_value("T", "1" * 2_000_000).notes  # too long to read: said so


def test_merged_metrics_stay_capped():
    parts = [clean_metrics({f"t{part}.m{index}": index for index in range(150)}) for part in range(3)]
    merged = merge_metrics(parts)
    assert len(merged.values) == MAX_METRICS and any("only the first" in note for note in merged.notes)


# ---- the comparison ----------------------------------------------------------------------------


def test_this_build_against_master_with_the_branch_trend():
    master = build("12-master", "master", {"ModelTraining.mae_ratio": 0.5, "ModelTraining.series_in": 200, "T.accuracy": 0.8})
    history = [build("3-BI-1", "BI-1", {"ModelTraining.mae_ratio": 0.6}), build("4-BI-1", "BI-1", {"ModelTraining.mae_ratio": 0.45})]
    current = build("5-BI-1", "BI-1", {"ModelTraining.mae_ratio": 0.4, "ModelTraining.series_in": 210, "T.accuracy": 0.7,
                                       "T.new": 1.0})
    comparison = compare_quality(current, master, history)
    assert comparison.nothing_to_compare is None
    rows = {row.key: row for row in comparison.rows}
    mae = rows["ModelTraining.mae_ratio"]
    assert mae.arrow == "▼" and round(mae.percent, 1) == -20.0 and mae.verdict == "better" and mae.better == "lower"
    assert mae.trend == (0.6, 0.45, 0.4)
    assert rows["T.accuracy"].verdict == "worse" and rows["T.accuracy"].arrow == "▼"
    series = rows["ModelTraining.series_in"]
    assert series.arrow == "▲" and round(series.percent, 1) == 5.0 and series.verdict == ""  # direction unknown
    assert rows["T.new"].master is None and rows["T.new"].arrow == ""
    # the metrics whose direction is known come first, and are the ones plotted
    assert [row.key for row in comparison.rows][:2] == ["ModelTraining.mae_ratio", "T.accuracy"]
    assert [row.key for row in comparison.key_rows] == ["ModelTraining.mae_ratio", "T.accuracy"]


def test_a_declared_direction_beats_the_convention():
    directions = Directions.parse("*.series_in", "ModelTraining.mae_ratio")
    assert directions.better("ModelTraining.series_in") == ("lower", "declared")
    assert directions.better("ModelTraining.mae_ratio") == ("higher", "declared")
    assert Directions().better("Evaluate.mean_baseline_mae") == ("lower", "convention")
    assert Directions().better("T.val_loss") == ("lower", "convention")
    assert Directions().better("T.maestro") == ("", "")  # words, not substrings
    assert Directions().better("T.f1") == ("higher", "convention")


def test_zero_master_value_has_no_percent_but_a_change():
    comparison = compare_quality(build("2-b", "b", {"t.loss": 0.25}), build("1-master", "master", {"t.loss": 0.0}), [])
    (row,) = comparison.rows
    assert row.percent is None and row.change == 0.25 and row.verdict == "worse"
    assert "▲ +0.25 (worse)" in render_quality_markdown(comparison)


def test_nothing_to_compare_says_which():
    first = compare_quality(build("1-BI-1", "BI-1", {"t.mae": 1.0}), None, [])
    assert first.nothing_to_compare == (
        "nothing to compare yet: this is the branch's first build and master has no successful build")
    later = compare_quality(build("2-BI-1", "BI-1", {"t.mae": 1.0}), None, [build("1-BI-1", "BI-1", {"t.mae": 2.0})])
    assert later.nothing_to_compare == "nothing to compare yet: master has no successful build (the branch's earlier builds are shown)"
    old_master = compare_quality(build("2-BI-1", "BI-1", {"t.mae": 1.0}), None, [], master_found="9-master")
    assert "master's newest successful build 9-master recorded no metrics" in old_master.nothing_to_compare
    no_metrics = compare_quality(build("2-BI-1", "BI-1", {}), build("9-master", "master", {"t.mae": 1.0}), [])
    assert no_metrics.nothing_to_compare.startswith("nothing to compare yet: this build recorded no metrics")
    markdown = render_quality_markdown(first)
    assert "_nothing to compare yet: this is the branch's first build" in markdown


def test_rows_are_capped():
    current = build("2-b", "b", {f"t.m{index:03d}": index for index in range(MAX_ROWS + 7)})
    comparison = compare_quality(current, None, [])
    assert len(comparison.rows) == MAX_ROWS and comparison.hidden == 7
    assert "7 more metrics not shown." in render_quality_markdown(comparison)


# ---- rendering -------------------------------------------------------------------------------


def test_markdown_table_with_change_and_trend():
    master = build("12-master", "master", {"ModelTraining.mae_ratio": 0.5})
    history = [build("3-BI-1", "BI-1", {"ModelTraining.mae_ratio": 0.6})]
    comparison = compare_quality(build("5-BI-1", "BI-1", {"ModelTraining.mae_ratio": 0.4}), master, history,
                                 notes=["build 2-BI-1: its manifest is not trusted (<b>|x|</b> is not JSON)"])
    markdown = render_quality_markdown(comparison)
    assert markdown.startswith("### Model quality against master\n")
    assert "Compared with master build `12-master`" in markdown and "and the last build of `BI-1`." in markdown
    assert "| `ModelTraining.mae_ratio` (lower is better) | 0.4 | 0.5 | ▼ -20.0% (better) | █▁ |" in markdown
    # a note from a manifest is shown as text, not markup
    assert "&lt;b&gt;\\|x\\|&lt;/b&gt;" in markdown and "<b>" not in markdown


def test_sparkline_spans_the_values():
    assert sparkline([1.0, 2.0, 3.0]) == "▁▄█"
    assert sparkline([1.0, None, 1.0]) == "▁ ▁"
    assert sparkline([1.0]) == ""


def png_size(data_uri: str) -> tuple[int, int]:
    data = base64.b64decode(data_uri.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_html_section_has_the_table_escaped_and_a_small_trend_plot_per_key_metric():
    master = build("12-master", "master", {"T.mae": 0.5, "T.loss": 2.0, "T.count": 3})
    history = [build("3-BI-1", "BI-1", {"T.mae": 0.6, "T.loss": 2.5})]
    current = build("5-BI-1", "BI-1", {"T.mae": 0.4, "T.loss": 2.2, "T.count": 4, "T.<script>": 1.0})
    html = quality_section(compare_quality(current, master, history, notes=["<img src=x onerror=alert(1)>"]))
    assert '<section class="quality" id="quality">' in html and "<h2>Model quality against master</h2>" in html
    assert "<code>T.mae</code>" in html and "▼ -20.0% (better)" in html and "▲ +10.0% (worse)" in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img src=x" not in html
    plots = re.findall(r'<img class="quality-trend" alt="([^"]*)" src="(data:image/png;base64,[^"]+)"', html)
    assert [alt.split(":")[0] for alt, _ in plots] == ["T.loss", "T.mae"]  # the key metrics only, not T.count
    for _, src in plots:
        width, height = png_size(src)
        assert (width, height) == (256, 120)
        assert len(src) < 20_000  # small: a few kilobytes each
    assert quality_section(None) == ""


def test_html_section_says_there_is_nothing_to_compare():
    html = quality_section(compare_quality(build("1-BI-1", "BI-1", {"T.mae": 0.4}), None, []))
    assert "nothing to compare yet: this is the branch&#x27;s first build" in html
    assert "quality-trend" not in html  # one point and no master: no plot


def test_secrets_in_a_metric_name_or_a_note_are_redacted_from_report_html(tmp_path):
    from bricktasks.report.html import write_html_report
    from bricktasks.report.model import BuildReport

    secret = "dapi-quality-secret-0123456789"
    current = build("5-BI-1", "BI-1", {f"T.{secret}": 1.0, "T.mae": 0.4})
    comparison = compare_quality(current, build("1-master", "master", {"T.mae": 0.5}), [], notes=[f"build 2-BI-1: {secret}"])
    report = BuildReport("5", "BI-1", "abc", "/Projects/forecasting/CI/5-BI-1", "local", "2026-11-20T10:00:00+00:00", [],
                         quality=comparison)
    page = write_html_report(report, tmp_path, secrets=[secret]).read_text()
    assert "Model quality against master" in page and "▼ -20.0% (better)" in page
    assert secret not in page
    markdown = render_quality_markdown(comparison.redacted(lambda text: text.replace(secret, "***")))
    assert secret not in markdown and "`T.***`" in markdown
