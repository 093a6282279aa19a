"""bricktasks.runs.local_spark: which notebooks use Spark (through their %run children too), and the one
line when this machine lacks Java for them (pyspark missing: tests/e2e/test_e2e_package.py, in a venv without it)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bricktasks.errors import ConfigError
from bricktasks.runs.local_spark import check_local_spark, uses_spark

HEADER = "# Databricks notebook source\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("df = spark.range(3)\n", True),
        ("sc.parallelize([1])\n", True),
        ("# MAGIC %sql\n# MAGIC SELECT 1\n", True),
        ("# spark.range(3) in a comment\n", False),
        ("# MAGIC %md\n# MAGIC Uses spark.sql later\n", False),
        ("sparkle.run()\nprint('spark')\n", False),
    ],
)
def test_uses_spark(text: str, expected: bool):
    assert uses_spark(HEADER + text) is expected


def _notebooks(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)
    (folder / "Main.py").write_text(HEADER + "# MAGIC %run ./sub/Child\n\nprint(1)\n")
    (folder / "sub" / "Child.py").write_text(HEADER + "spark.range(1).count()\n")
    (folder / "Plain.py").write_text(HEADER + "print(2)\n")


def test_without_java_a_spark_notebook_or_its_parent_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _notebooks(tmp_path)
    (tmp_path / "jdk").mkdir()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(ConfigError) as refused:
        check_local_spark(tmp_path, ["Main"])
    assert refused.value.exit_code == 2
    expected = f"sub/Child uses Spark, and local Spark needs a Java 17 runtime: JAVA_HOME={tmp_path / 'jdk'} has no bin/java"
    assert refused.value.one_line().startswith(expected)
    check_local_spark(tmp_path, ["Plain"])  # no Spark: nothing to ask of the machine


def test_with_pyspark_and_java_the_run_may_start(tmp_path: Path):
    # the tested environment has pyspark and Java (requirements.txt, .ci/run); a base install has not
    _notebooks(tmp_path)
    check_local_spark(tmp_path, ["Main"])
