"""The report's quality settings: how many earlier builds, which metrics are lower or higher is better."""
from __future__ import annotations

import pytest

from bricktasks.errors import ConfigError
from bricktasks.report.quality import Directions
from bricktasks.settings import load_settings, quality_build_count


def test_defaults_and_declarations(tmp_path):
    settings = load_settings(tmp_path, {})
    assert quality_build_count(settings) == 5 and settings.lower_is_better is None
    declared = load_settings(tmp_path, {"BRICKTASKS_QUALITY_BUILDS": "12", "BRICKTASKS_LOWER_IS_BETTER": "*.latency, T.cost",
                                        "BRICKTASKS_HIGHER_IS_BETTER": "ModelTraining.coverage"})
    assert quality_build_count(declared) == 12
    directions = Directions.parse(declared.lower_is_better, declared.higher_is_better)
    assert directions.better("Serve.latency") == ("lower", "declared") and directions.better("T.cost") == ("lower", "declared")
    assert directions.better("ModelTraining.coverage") == ("higher", "declared")


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BRICKTASKS_QUALITY_BUILDS", "many", "BRICKTASKS_QUALITY_BUILDS='many' is not a number of builds"),
    ("BRICKTASKS_QUALITY_BUILDS", "51", "BRICKTASKS_QUALITY_BUILDS='51' is not a number of builds"),
    ("BRICKTASKS_QUALITY_BUILDS", "-1", "BRICKTASKS_QUALITY_BUILDS='-1' is not a number of builds"),
    ("BRICKTASKS_LOWER_IS_BETTER", "ok,<script>", "BRICKTASKS_LOWER_IS_BETTER holds '<script>', which is not a metric name"),
])
def test_a_malformed_setting_is_one_line_and_exit_2(tmp_path, name, value, message):
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, {name: value})
    assert message in raised.value.one_line() and "\n" not in raised.value.one_line()
    assert raised.value.exit_code == 2
