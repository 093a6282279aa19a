"""One local Spark session for the module: applyInPandas with a per-run wheel, %sql, display, stop."""
from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest
from runtime_helpers import LocalRoot, notebook

from bricktasks.runtime import NotebookResult

pytestmark = pytest.mark.spark

PY = f"py{sys.version_info.major}.{sys.version_info.minor}"
SparkRun = tuple[NotebookResult, LocalRoot, dict[str, object]]

SPARK_NOTEBOOK = [
    # Spark starts before the wheel is installed: the workers must still see it afterwards
    "print(spark.range(3).count(), spark.conf.get('spark.sql.shuffle.partitions'), sc.defaultParallelism)",
    "# MAGIC %pip install {wheel}",
    """
import rtegg, rtwheel

def shift_and_tell(frame):
    # runs in a Python worker: both libraries must import there
    out = rtwheel.shift(frame)
    out["where"] = rtwheel.__file__
    out["answer"] = rtegg.ANSWER
    return out

frame = spark.createDataFrame([("a", 1), ("a", 2), ("b", 3)], "k string, v long")
shifted = frame.groupBy("k").applyInPandas(shift_and_tell, "k string, v long, where string, answer long")
rows = shifted.orderBy("v").collect()
print([row.v for row in rows], {row.answer for row in rows})
print(rows[0].where)
""",
    "# MAGIC %sql\n# MAGIC SELECT 1 AS one, 'x' AS two;\n# MAGIC SELECT 2 AS two",
    "display(spark.range(1500))\ndisplay(frame)",
    """
import os
path = os.environ["BRICKTASKS_VOLUMES_DIR"] + "/c/s/v/table"
frame.write.format("parquet").mode("overwrite").save(path)
print(spark.read.parquet(path).count())
""",
    "dbutils.notebook.exit('spark done')",
]


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> SparkRun:
    local = LocalRoot(tmp_path_factory.mktemp("spark"))
    egg = local.base / f"rtegg-0.1-{PY}.egg"
    with zipfile.ZipFile(egg, "w") as archive:
        archive.writestr("rtegg/__init__.py", "ANSWER = 42\n")
    local.write("/Projects/p/Spark", notebook(*(cell.replace("{wheel}", str(wheel)) for cell in SPARK_NOTEBOOK)))
    before = {"sys.path": list(sys.path), "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON")}
    result = local.run("/Projects/p/Spark", libraries=(str(egg),))
    return result, local, before


def test_the_notebook_succeeds(spark_run: SparkRun) -> None:
    result, _, _ = spark_run
    assert result.status == "SUCCESS", result.error_trace
    assert result.exit_value == "spark done"


def test_session_settings_are_local_and_small(spark_run: SparkRun) -> None:
    result, _, _ = spark_run
    assert result.cells[0].stdout == "3 4 2\n"


def test_apply_in_pandas_imports_the_run_wheel_in_the_workers(spark_run: SparkRun) -> None:
    result, local, _ = spark_run
    # the cell's own two lines; warnings pyspark raises may come first (in-process under pytest,
    # which shows every DeprecationWarning, depending on what earlier tests imported)
    lines = [line for line in result.cells[2].stdout.splitlines() if "Warning" not in line and not line.startswith("  ")]
    values, where = lines
    assert values == "[101, 102, 103] {42}"
    assert where.startswith(str(local.base / "run1" / "site-packages"))


def test_sql_magic_displays_the_last_statement(spark_run: SparkRun) -> None:
    result, _, _ = spark_run
    assert result.cells[3].outputs == [{"type": "table", "columns": ["two"], "rows": [[2]], "truncated": False}]


def test_display_of_spark_frames_is_capped(spark_run: SparkRun) -> None:
    result, _, _ = spark_run
    big, small = result.cells[4].outputs
    assert big["columns"] == ["id"] and len(big["rows"]) == 1000 and big["truncated"] is True
    assert small["rows"] == [["a", 1], ["a", 2], ["b", 3]] and small["truncated"] is False


def test_parquet_on_a_local_volume(spark_run: SparkRun) -> None:
    result, local, _ = spark_run
    assert result.cells[5].stdout == "3\n"
    assert any((local.root / "volumes" / "c" / "s" / "v" / "table").glob("*.parquet"))


def test_the_session_is_stopped_and_the_process_restored(spark_run: SparkRun) -> None:
    from pyspark import SparkContext

    _, _, before = spark_run
    assert SparkContext._active_spark_context is None
    assert sys.path == before["sys.path"]
    assert os.environ.get("PYSPARK_PYTHON") == before["PYSPARK_PYTHON"]
    assert "rtwheel" not in sys.modules and "rtegg" not in sys.modules


def test_a_missing_java_is_named_before_spark_tries(tmp_path, monkeypatch):
    from bricktasks.runtime.spark import JavaMissing, _require_java

    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # a JAVA_HOME with no bin/java
    with pytest.raises(JavaMissing, match=r"JAVA_HOME=.* has no bin/java.*openjdk-17-jre-headless"):
        _require_java()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaMissing, match="no java on PATH"):
        _require_java()
    (tmp_path / "java").write_text("#!/bin/sh\n")
    (tmp_path / "java").chmod(0o755)
    _require_java()  # found on PATH: nothing to say
