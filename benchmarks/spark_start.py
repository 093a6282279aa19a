"""How long a local Spark notebook's JVM takes to start and run a first small job, three ways side by side.

    python benchmarks/spark_start.py [--runs 3]

Each measured process starts a local SparkSession as the local runtime does (`local[2]`, no UI,
arrow on), writes 24,000 rows of pandas to parquet, reads them back and aggregates, then stops;
its whole wall time is counted, the JVM's exit included. Three JVM setups, one run of each in turn
(so a noisy neighbour hits all three alike):

- `plain`: the JVM as pyspark starts it;
- `flags`: with bricktasks' quick-start flags (`-XX:TieredStopAtLevel=1 -XX:+UseSerialGC`);
- `archive`: the flags and a class-data archive of this workload's classes, recorded once before the
  measured runs (its recording run is timed too, and printed: the one-off cost).

Prints each setup's median (min-max) and its ratio to `plain`. The archive lives in a temporary
folder, not the user's cache. Needs Java 13+ and pyspark (requirements.txt).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bricktasks.runtime.spark_classes import QUICK_START_FLAGS, QUIET_ARCHIVE_FLAGS  # noqa: E402

WORKLOAD = """
import sys
from pyspark.sql import SparkSession
import numpy as np, pandas as pd
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false").config("spark.sql.shuffle.partitions", "4")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true")
         .config("spark.driver.extraJavaOptions", sys.argv[2]).getOrCreate())
frame = pd.DataFrame({"a": np.arange(24000), "b": np.random.default_rng(1).random(24000)})
spark.createDataFrame(frame).write.mode("overwrite").parquet(sys.argv[1])
table = spark.read.parquet(sys.argv[1])
assert table.groupBy((table.a % 10).alias("k")).count().count() == 10
spark.stop()
gateway = spark.sparkContext._gateway
gateway.proc.stdin.close()  # the JVM exits now (and writes an archive it records), not after us
gateway.proc.wait()
"""
QUIET = " ".join(QUIET_ARCHIVE_FLAGS)


def timed_run(folder: Path, java_options: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", WORKLOAD, str(folder / "table.parquet"), java_options or "-Dbench=1"],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    flags = " ".join(QUICK_START_FLAGS)
    with tempfile.TemporaryDirectory(prefix="spark-start-") as scratch:
        folder = Path(scratch)
        archive = folder / "classes.jsa"
        recording = timed_run(folder, f"{flags} {QUIET} -XX:ArchiveClassesAtExit={archive}")
        assert archive.is_file() and os.path.getsize(archive) > 0, "no archive was recorded (Java 13+ needed)"
        archive_mib = os.path.getsize(archive) / 2**20
        setups = {"plain": "", "flags": flags, "archive": f"{flags} {QUIET} -XX:SharedArchiveFile={archive}"}
        times: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(args.runs):
            for name, options in setups.items():
                times[name].append(timed_run(folder, options))
    plain = statistics.median(times["plain"])
    print(f"local Spark: start, write and read 24,000 rows, stop; {args.runs} runs each, {os.cpu_count()} cores")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:8} {median:6.2f} s ({min(values):.2f}-{max(values):.2f})  {plain / median:4.2f}x of plain")
    print(f"  recording the archive (once): {recording:.2f} s, {archive_mib:.0f} MiB")


if __name__ == "__main__":
    main()
