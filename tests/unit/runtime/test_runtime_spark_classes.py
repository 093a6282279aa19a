"""The local Spark JVM's class archive: recorded once, renamed into place whole, then mapped in by
every later run; never taken from a place another user could have written (runtime/spark_classes)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runtime_helpers import LocalRoot, notebook

from bricktasks.runtime.spark_classes import QUICK_START_FLAGS, ClassArchive, class_archive, end_jvm_and_keep_archive


def fake_java(tmp_path: Path, version: str = "17.0.15") -> Path:
    """A JDK's layout as pyspark and the archive's key see it: bin/java and the `release` file."""
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    (home / "release").write_text(f'IMPLEMENTOR="Debian"\nJAVA_VERSION="{version}"\n')
    return java


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    spark_home = tmp_path / "spark"
    (spark_home / "jars").mkdir(parents=True)
    (spark_home / "jars" / "spark-core_2.12-3.5.1.jar").write_bytes(b"PK")
    return {"XDG_CACHE_HOME": str(tmp_path / "cache"), "SPARK_HOME": str(spark_home)}


def option(plan: ClassArchive, name: str) -> str | None:
    return next((flag.split("=", 1)[1] for flag in plan.java_options if flag.startswith(f"-XX:{name}=")), None)


def test_the_first_run_records_an_archive_the_next_runs_map_in(tmp_path: Path, environ: dict[str, str]) -> None:
    java = fake_java(tmp_path)
    first = class_archive(environ, str(java))
    assert first.java_options[:2] == QUICK_START_FLAGS and "-Xlog:cds=off" in first.java_options
    assert first.recording is not None and first.archive is not None
    assert option(first, "ArchiveClassesAtExit") == str(first.recording) and option(first, "SharedArchiveFile") is None
    folder = first.archive.parent
    assert folder == tmp_path / "cache" / "bricktasks" / "spark-classes"
    assert folder.stat().st_mode & 0o777 == 0o700 and first.recording.parent == folder
    assert first.recording.name.endswith(".part") and first.recording.name.startswith(first.archive.stem)

    first.archive.write_bytes(b"an archive")
    later = class_archive(environ, str(java))
    assert later.recording is None and option(later, "SharedArchiveFile") == str(first.archive)

    # a new jar (a new pyspark) is a new archive's name
    (Path(environ["SPARK_HOME"]) / "jars" / "delta-spark_2.12-3.2.0.jar").write_bytes(b"PK")
    assert class_archive(environ, str(java)).archive != first.archive


def test_an_archive_anyone_else_could_have_written_is_never_handed_to_the_jvm(tmp_path: Path, environ: dict[str, str]) -> None:
    java = fake_java(tmp_path)
    plan = class_archive(environ, str(java))
    assert plan.archive is not None
    elsewhere = tmp_path / "planted.jsa"
    elsewhere.write_bytes(b"someone's code")
    plan.archive.symlink_to(elsewhere)
    symlinked = class_archive(environ, str(java))
    assert option(symlinked, "SharedArchiveFile") is None and symlinked.recording is not None  # recorded afresh instead

    plan.archive.unlink()
    plan.archive.write_bytes(b"an archive")
    folder = plan.archive.parent
    folder.chmod(0o777)  # a folder others may write into: nothing in it is trusted, nothing recorded there
    assert class_archive(environ, str(java)) == ClassArchive(QUICK_START_FLAGS)
    folder.chmod(0o700)
    folder.parent.chmod(0o775)
    assert class_archive(environ, str(java)) == ClassArchive(QUICK_START_FLAGS)


def test_no_archive_where_java_cannot_make_one_or_the_path_would_be_split(tmp_path: Path, environ: dict[str, str]) -> None:
    old = fake_java(tmp_path / "old", version="11.0.2")
    assert class_archive(environ, str(old)) == ClassArchive(QUICK_START_FLAGS)  # dynamic archives came in Java 13
    eight = fake_java(tmp_path / "eight", version="1.8.0_392")
    assert class_archive(environ, str(eight)) == ClassArchive(QUICK_START_FLAGS)
    java = fake_java(tmp_path)
    (java.parent.parent / "release").unlink()  # an unknown runtime: the safe choice
    assert class_archive(environ, str(java)) == ClassArchive(QUICK_START_FLAGS)
    java = fake_java(tmp_path / "new")
    assert class_archive({**environ, "XDG_CACHE_HOME": str(tmp_path / "my cache")}, str(java)) == ClassArchive(QUICK_START_FLAGS)
    assert class_archive(environ, None) == ClassArchive(QUICK_START_FLAGS)
    assert class_archive(environ, str(tmp_path / "missing" / "java")) == ClassArchive(QUICK_START_FLAGS)


class Gateway:
    """What end_jvm_and_keep_archive reads of pyspark's gateway: `proc`, the JVM process pyspark
    started. Here a real process that, like pyspark's gateway JVM, ends when its stdin closes and
    writes its recording as it exits."""

    def __init__(self, recording: Path, exit_code: int = 0) -> None:
        script = (
            "import sys, pathlib\n"
            "sys.stdin.read()\n"
            f"pathlib.Path({str(recording)!r}).write_bytes(b'classes')\n"
            f"sys.exit({exit_code})\n"
        )
        self.proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)


def test_a_recording_is_kept_only_when_its_jvm_exited_cleanly(tmp_path: Path, environ: dict[str, str]) -> None:
    java = fake_java(tmp_path)
    plan = class_archive(environ, str(java))
    assert plan.recording is not None and plan.archive is not None
    end_jvm_and_keep_archive(plan, Gateway(plan.recording))
    assert plan.archive.read_bytes() == b"classes" and not list(plan.archive.parent.glob("*.part"))

    plan.archive.unlink()
    failed = class_archive(environ, str(java))
    assert failed.recording is not None and failed.archive is not None
    end_jvm_and_keep_archive(failed, Gateway(failed.recording, exit_code=1))
    assert not failed.archive.exists() and not list(failed.archive.parent.glob("*.part"))


def test_old_archives_and_killed_recordings_are_cleared(tmp_path: Path, environ: dict[str, str]) -> None:
    java = fake_java(tmp_path)
    plan = class_archive(environ, str(java))
    assert plan.archive is not None
    folder = plan.archive.parent
    long_ago = time.time() - 7200
    for name in ("a" * 32, "b" * 32, "c" * 32):
        (folder / f"{name}.jsa").write_bytes(b"old")
        os.utime(folder / f"{name}.jsa", (long_ago, long_ago))
    killed = folder / f"{'d' * 32}.123.0a0b0c0d.part"
    killed.write_bytes(b"half")
    os.utime(killed, (long_ago, long_ago))
    recent = folder / f"{'e' * 32}.456.0a0b0c0d.part"  # another run recording right now
    recent.write_bytes(b"half")
    again = class_archive(environ, str(java))
    assert again.recording is not None
    assert not killed.exists() and recent.exists()
    end_jvm_and_keep_archive(again, Gateway(again.recording))
    assert len(list(folder.glob("*.jsa"))) == 2 and plan.archive.exists()  # the new one and the newest old one


# ---- one real JVM: records, then maps the archive in ------------------------------------------------

SPARK_CELLS = [
    "print(spark.range(5).count())",
    "print(spark.sparkContext.getConf().get('spark.driver.extraJavaOptions'))",
]


def run_as_the_local_backend_does(local: LocalRoot, workspace_path: str, cache: Path) -> tuple[dict, str]:
    """`python -m bricktasks.runtime` in a process of its own, as the run supervisor starts it: a
    JVM of its own too (in this test process pyspark would reuse an earlier module's JVM)."""
    context = local.context()
    context_file, result_file = context.run_dir / "context.json", context.run_dir / "result.json"
    context.run_dir.mkdir(parents=True, exist_ok=True)
    context.to_json(context_file)
    process = subprocess.run(
        [sys.executable, "-m", "bricktasks.runtime", "--context", str(context_file), "--notebook", workspace_path,
         "--result", str(result_file)],
        env={**os.environ, "XDG_CACHE_HOME": str(cache)}, capture_output=True, text=True, timeout=300,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads(result_file.read_text()), process.stdout


@pytest.mark.spark
def test_a_real_spark_run_records_the_archive_and_the_next_maps_it(tmp_path: Path) -> None:
    local = LocalRoot(tmp_path)
    local.write("/Projects/p/Spark", notebook(*SPARK_CELLS))
    cache = tmp_path / "cache"
    first, first_output = run_as_the_local_backend_does(local, "/Projects/p/Spark", cache)
    folder = cache / "bricktasks" / "spark-classes"
    archives = list(folder.glob("*.jsa"))
    assert first["status"] == "SUCCESS", first
    # whole and in place when the run has ended (its JVM was waited for), no recording left behind
    assert len(archives) == 1 and archives[0].stat().st_size > 1_000_000 and not list(folder.glob("*.part"))
    recorded_at = archives[0].stat().st_mtime_ns
    second, second_output = run_as_the_local_backend_does(local, "/Projects/p/Spark", cache)
    assert second["status"] == "SUCCESS", second
    assert "-XX:ArchiveClassesAtExit=" in first_output and f"-XX:SharedArchiveFile={archives[0]}" in second_output
    assert "cds" not in second_output.replace("-Xlog:cds", "")  # the JVM's archive talk stays out of the output
    assert archives[0].stat().st_mtime_ns == recorded_at and not list(folder.glob("*.part"))
