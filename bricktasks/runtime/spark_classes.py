"""How the local Spark JVM starts fast: a class-data archive of Spark's classes, and quick-start flags.

A local run's Spark is a fresh JVM per notebook, and most of its first seconds are spent reading,
verifying and compiling the thousands of classes Spark loads for its first job, not on the job.
Two cuts, measured side by side on this project's 2-core machine (start a session, write and read
back 24,000 rows; `benchmarks/spark_start.py`): from 16.4 s to 8.5 s of wall time.

- **A class-data archive** (the JVM's own dynamic AppCDS, Java 13 and later): the first run that
  finds none records the classes it loaded into an archive when its JVM exits
  (`-XX:ArchiveClassesAtExit`; that run is slower, once); every later run maps them in from it
  (`-XX:SharedArchiveFile`). It is kept per user, in `<user cache>/spark-classes/` (about 130 MB;
  the newest two are kept), named by the java binary and the Spark jars, so a new JDK or a new
  pyspark records a new one. The JVM checks an archive before it uses it and runs without one it
  cannot use, silently (`-Xlog:cds=off`). An archive is code the JVM runs: it is only handed a file
  of this user's, not a symlink, in a folder nobody else can write into. A recording is written
  under a name of its own and renamed into place after its JVM exited cleanly, so two runs at once
  never see half an archive.
- **Quick-start flags**: `-XX:TieredStopAtLevel=1` (only the fast JIT compiler: a local run's
  small data is done before the optimizing compiler would pay off) and `-XX:+UseSerialGC` (no GC
  threads to start on a driver of a few hundred MB).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bricktasks.cachedir import is_own_file, is_private_folder, user_cache_dir

__all__ = ["ClassArchive", "QUICK_START_FLAGS", "QUIET_ARCHIVE_FLAGS", "class_archive", "end_jvm_and_keep_archive", "java_binary"]

QUICK_START_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
QUIET_ARCHIVE_FLAGS = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")  # an archive it cannot use is no news to the notebook
ARCHIVES_KEPT = 2
_STALE_RECORDING_S = 3600  # a recording this old was left by a run that was killed
_FORMAT = 1  # bump when the flags change what an archive holds
_JAVA_VERSION = re.compile(r'^JAVA_VERSION="(?:1\.)?(\d+)', re.M)
_SAFE_PATH = re.compile(r"^[\w./+-]+$")  # Spark splits extraJavaOptions on spaces: no quoting games


@dataclass(frozen=True)
class ClassArchive:
    """The JVM options a local Spark starts with, and the archive it records at exit (if any)."""

    java_options: tuple[str, ...]
    recording: Path | None = None  # where this JVM writes the archive it records
    archive: Path | None = None  # where the recording goes once whole


def java_binary(environ: Mapping[str, str]) -> str | None:
    """The java pyspark starts: $JAVA_HOME/bin/java when JAVA_HOME is set, else `java` on PATH."""
    java_home = environ.get("JAVA_HOME")
    return os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")


def _java_major(java: Path) -> int | None:
    """The Java feature version from the runtime's `release` file (no JVM started to ask)."""
    try:
        text = (java.parent.parent / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = _JAVA_VERSION.search(text)
    return int(found.group(1)) if found else None


def _spark_jars(environ: Mapping[str, str]) -> Path | None:
    """The jars Spark's class path is made of (SPARK_HOME's, else the pyspark package's)."""
    spark_home = environ.get("SPARK_HOME")
    if not spark_home:
        import pyspark

        spark_home = os.path.dirname(pyspark.__file__)
    jars = Path(spark_home) / "jars"
    return jars if jars.is_dir() else None


def _key(java: Path, jars: Path) -> str:
    """Names the archive: the JVM binary and every jar (name, size, time), and this module's flags."""
    java_info = java.stat()
    listing = []
    for entry in os.scandir(jars):
        info = entry.stat()  # once per jar: a pyspark has about 250
        listing.append((entry.name, info.st_size, info.st_mtime_ns))
    listing.sort()
    facts: list[Any] = [_FORMAT, QUICK_START_FLAGS, str(java), java_info.st_size, java_info.st_mtime_ns, str(jars), listing]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]


def _own_file(path: Path) -> bool:
    """An archive (or a recording) that is this user's regular file and not empty."""
    try:
        return is_own_file(path) and path.lstat().st_size > 0
    except OSError:  # gone since: another run pruned it
        return False


def _remove_stale_recordings(folder: Path) -> None:
    now = time.time()
    for part in folder.glob("*.part"):
        try:
            if now - part.lstat().st_mtime > _STALE_RECORDING_S:
                part.unlink()
        except OSError:
            pass


def class_archive(environ: Mapping[str, str], java: str | None) -> ClassArchive:
    """The options for the next local Spark JVM: the quick-start flags always; the user's class
    archive when there is one to trust, else a recording of one (where Java can make it)."""
    quick = ClassArchive(QUICK_START_FLAGS)
    cache = user_cache_dir(environ)
    if not java or cache is None:
        return quick
    try:
        real_java = Path(java).resolve(strict=True)
        major = _java_major(real_java)
        jars = _spark_jars(environ)
        if major is None or major < 13 or jars is None:
            return quick  # no dynamic archives before Java 13
        folder = cache / "spark-classes"
        if not _SAFE_PATH.match(str(folder)):
            return quick
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.mkdir(exist_ok=True, mode=0o700)
        if not (is_private_folder(cache) and is_private_folder(folder)):
            return quick
        archive = folder / f"{_key(real_java, jars)}.jsa"
    except (OSError, ImportError, RuntimeError):
        return quick
    if _own_file(archive):
        return ClassArchive((*QUICK_START_FLAGS, *QUIET_ARCHIVE_FLAGS, f"-XX:SharedArchiveFile={archive}"))
    _remove_stale_recordings(folder)
    recording = folder / f"{archive.stem}.{os.getpid()}.{secrets.token_hex(4)}.part"
    return ClassArchive((*QUICK_START_FLAGS, *QUIET_ARCHIVE_FLAGS, f"-XX:ArchiveClassesAtExit={recording}"), recording, archive)


def _keep(plan: ClassArchive, exit_code: int | None) -> None:
    """The recording renamed into place if its JVM exited cleanly, else removed; the oldest archives
    beyond ARCHIVES_KEPT removed (an old JDK's or pyspark's)."""
    assert plan.recording is not None and plan.archive is not None
    try:
        if exit_code == 0 and _own_file(plan.recording):
            os.replace(plan.recording, plan.archive)
        else:
            plan.recording.unlink(missing_ok=True)
        archives = sorted(plan.archive.parent.glob("*.jsa"), key=lambda path: path.lstat().st_mtime, reverse=True)
        for old in archives[ARCHIVES_KEPT:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be kept is no error: the next run records again


def end_jvm_and_keep_archive(plan: ClassArchive, gateway: Any, *, timeout_s: float = 120.0) -> None:
    """After the session stopped: end the JVM now (it writes its recording as it exits) and keep the
    archive. pyspark's gateway JVM exits when its stdin closes; without this it would outlive the
    notebook's process and write the archive after the run had ended."""
    if plan.recording is None:
        return
    process: subprocess.Popen[bytes] | None = getattr(gateway, "proc", None)
    if process is None or process.stdin is None:  # a JVM pyspark did not start: nothing to wait for
        plan.recording.unlink(missing_ok=True)
        return
    exit_code: int | None
    try:
        process.stdin.close()
        exit_code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        exit_code = None
    except OSError:
        exit_code = None
    _keep(plan, exit_code)
