"""Before a local run: do the notebooks it runs use Spark, and can this machine give it to them?

pyspark is the `spark` extra (`pip install 'bricktasks[spark]'`) so that a base install stays light; the
local runtime starts Spark only when a notebook touches `spark`/`sc` (or has a %sql cell). Without this
check such a run would fail inside the notebook with a ModuleNotFoundError or a Java gateway trace; with
it, `invoke run` and `invoke ci` on the local backend refuse at once with one line (exit 2), nothing run.
"""
from __future__ import annotations

import importlib.util
import os
import posixpath
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from bricktasks.errors import ConfigError

__all__ = ["uses_spark", "check_local_spark", "SPARK_EXTRA"]

SPARK_EXTRA = "pip install 'bricktasks[spark]'"
_SPARK_CODE = re.compile(r"\b(spark|sc|sqlContext)\s*\.")
_SQL_CELL = re.compile(r"^# MAGIC %sql\b", re.MULTILINE)
_RUN = re.compile(r"^# MAGIC %run\s+(\S+)\s*$", re.MULTILINE)


def uses_spark(text: str) -> bool:
    """True when a code line (not a comment, not a markdown cell) calls spark, sc or sqlContext, or a cell is %sql."""
    if _SQL_CELL.search(text):
        return True
    return any(_SPARK_CODE.search(line) for line in text.splitlines() if not line.lstrip().startswith("#"))


def _spark_user(source_dir: Path, notebooks: Iterable[str]) -> str | None:
    """The first of `notebooks` (relative, no extension), or a notebook they %run, that uses Spark."""
    pending, seen = list(notebooks), set()
    while pending:
        name = posixpath.normpath(pending.pop(0))
        if name in seen or name.startswith(".."):
            continue
        seen.add(name)
        path = source_dir / f"{name}.py"
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if uses_spark(text):
            return name
        folder = posixpath.dirname(name)
        pending += [posixpath.join(folder, target) for target in _RUN.findall(text) if not target.startswith("/")]
    return None


def check_local_spark(source_dir: Path, notebooks: Iterable[str]) -> None:
    """Refuse (ConfigError, exit 2) a local run of notebooks that use Spark where pyspark or Java is missing."""
    user = _spark_user(source_dir, notebooks)
    if user is None:
        return
    if importlib.util.find_spec("pyspark") is None:
        raise ConfigError(f"{user} uses Spark, and pyspark is not installed for the local backend", SPARK_EXTRA)
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not (java and os.access(java, os.X_OK)):
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH"
        raise ConfigError(
            f"{user} uses Spark, and local Spark needs a Java 17 runtime: {where}",
            "install one (apt-get install openjdk-17-jre-headless) or fix JAVA_HOME",
        )
