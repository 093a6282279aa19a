"""The run's `spark` and `sc`: a local SparkSession, started on first use and stopped at the end.

Most notebooks and most cells never touch Spark, and a JVM costs seconds to start, so the
namespace holds proxies that build the session the first time an attribute is used.
The session runs `local[2]` (the context's spark_master) with:
- the running interpreter for the driver and the Python workers (`PYSPARK_PYTHON`,
  `PYSPARK_DRIVER_PYTHON`), or the workers would pick whatever `python3` is on PATH;
- the run's library entries on the workers' PYTHONPATH, so a UDF can import a wheel the
  run installed (updated in `sc.environment` when a library comes later);
- few shuffle partitions, no UI, warehouse, scratch and Derby folders inside the run dir
  (which also puts the run dir on the JVM's command line, where a cancel can be checked).
The JVM is started by pyspark as a child of this process in the same process group: a
cancel that kills the group kills Spark too. Delta Lake is not available offline, so
notebooks should write parquet when they run locally (the example configs choose the
format with `TABLE_FORMAT`).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bricktasks.runtime.spark_classes import ClassArchive, class_archive, end_jvm_and_keep_archive, java_binary

__all__ = ["SparkHolder", "LazySpark", "LazySparkContext"]

_PYTHON_VARIABLES = ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")


class SparkHolder:
    """Creates the session on demand and owns it until `stop()`."""

    def __init__(self, master: str, run_dir: Path, app_name: str, pythonpath: Callable[[], str]) -> None:
        self.master = master
        self.run_dir = Path(run_dir)
        self.app_name = app_name
        self._pythonpath = pythonpath
        self._session: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._class_archive: ClassArchive | None = None

    @property
    def started(self) -> bool:
        return self._session is not None

    def session(self) -> Any:
        """The SparkSession, started now if this is the first use."""
        if self._session is None:
            self._session = self._start()
        return self._session

    def _start(self) -> Any:
        from pyspark.sql import SparkSession

        _require_java()
        # pyspark reads these from the environment when the context starts; restored in stop()
        for name in _PYTHON_VARIABLES:
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = sys.executable
        scratch = self.run_dir / "spark"
        for folder in ("warehouse", "local", "derby"):
            (scratch / folder).mkdir(parents=True, exist_ok=True)
        # the class archive and quick-start flags (runtime/spark_classes): the JVM in half the time
        self._class_archive = class_archive(os.environ, java_binary(os.environ))
        java_options = [f"-Dderby.system.home={scratch / 'derby'}", *self._class_archive.java_options]
        builder = (
            SparkSession.builder.master(self.master)
            .appName(self.app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")  # Databricks clusters run in UTC
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
            .config("spark.local.dir", str(scratch / "local"))
            .config("spark.driver.extraJavaOptions", " ".join(java_options))
            .config("spark.driver.host", "127.0.0.1")  # offline machines may not resolve their own name
            .config("spark.driver.bindAddress", "127.0.0.1")
        )
        pythonpath = self._pythonpath()
        if pythonpath:
            builder = builder.config("spark.executorEnv.PYTHONPATH", pythonpath)
        return builder.getOrCreate()

    def libraries_changed(self) -> None:
        """A library was installed after Spark started: later UDFs' workers must see it too."""
        if self._session is None:
            return
        pythonpath = self._pythonpath()
        environment = self._session.sparkContext.environment
        if pythonpath:
            environment["PYTHONPATH"] = pythonpath
        else:
            environment.pop("PYTHONPATH", None)

    def stop(self) -> None:
        """Stop the session and restore the environment. The JVM ends with this process, or here when
        it records the class archive (it writes the archive as it exits)."""
        session, self._session = self._session, None
        if session is not None:
            try:
                session.stop()
            except Exception as exc:  # noqa: BLE001  (a dead JVM must not cost the run its result)
                print(f"stopping Spark failed: {exc}", file=sys.stderr)
            self._end_recording_jvm()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def _end_recording_jvm(self) -> None:
        """A JVM recording the class archive is ended here and waited for, so the archive is whole
        and in place when the run ends (runtime/spark_classes)."""
        plan, self._class_archive = self._class_archive, None
        if plan is None or plan.recording is None:
            return
        from pyspark import SparkContext

        try:
            end_jvm_and_keep_archive(plan, SparkContext._gateway)
        finally:  # a later session in this process starts a JVM of its own
            SparkContext._gateway = None
            SparkContext._jvm = None


class LazySpark:
    """Stands in for `spark` in the namespace: every attribute comes from the real session."""

    def __init__(self, holder: SparkHolder) -> None:
        object.__setattr__(self, "_holder", holder)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._holder.session(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._holder.session(), name, value)

    def __repr__(self) -> str:
        if self._holder.started:
            return repr(self._holder.session())
        return f"<local SparkSession {self._holder.master}, started on first use>"


class LazySparkContext:
    """Stands in for `sc`: the session's SparkContext, started on first use."""

    def __init__(self, holder: SparkHolder) -> None:
        object.__setattr__(self, "_holder", holder)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._holder.session().sparkContext, name)

    def __repr__(self) -> str:
        return f"<local SparkContext {self._holder.master}, started on first use>"


class JavaMissing(RuntimeError):
    """Spark cannot start: no Java runtime where pyspark looks for one."""


def _require_java() -> None:
    """Say what is missing before pyspark fails with JAVA_GATEWAY_EXITED and a page of trace.

    pyspark runs $JAVA_HOME/bin/java when JAVA_HOME is set, else `java` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    java = java_binary(os.environ)
    if java and os.access(java, os.X_OK):
        return
    where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH"
    raise JavaMissing(
        f"local Spark needs a Java 17 runtime: {where}; install one (apt-get install openjdk-17-jre-headless) or fix JAVA_HOME"
    )
