"""What one `execute_notebook` call holds for all the notebooks it runs: libraries, Spark,
figures, the current cell's outputs, cell sources for tracebacks, the environment it set.

Everything it changes in the process is undone by `close()`: `sys.path`, modules loaded
from the run's libraries, pyplot's show, the environment variables it set, `sys.argv`, the
Spark session. A runtime subprocess exits right after anyway; an in-process run (tests, a
caller that wants no subprocess) leaves the caller as it found it, except for the Spark
JVM, which pyspark keeps until the process ends.
"""
from __future__ import annotations

import linecache
import os
import sys
from pathlib import Path

from bricktasks.pipcache import PipRequest, requirement_problem
from bricktasks.runtime.context import RuntimeContext
from bricktasks.runtime.display import OutputSink
from bricktasks.runtime.errors import LibraryInstallError, NotebookNotFound
from bricktasks.runtime.figures import FigureCapture
from bricktasks.runtime.fsutils import FsUtils
from bricktasks.runtime.libraries import RunLibraries
from bricktasks.runtime.magics import PipInstall, is_library_path
from bricktasks.runtime.notebook import Notebook, parse_notebook
from bricktasks.runtime.paths import normal_workspace_path, resolve_notebook_path
from bricktasks.runtime.result import Redactor
from bricktasks.runtime.spark import SparkHolder
from bricktasks.runtime.taskvalues import TaskValues
from bricktasks.runtime.tracking import tracking_environment

__all__ = ["Session"]

_OTHER_LANGUAGES = {".sql": "SQL", ".scala": "Scala", ".r": "R", ".R": "R"}


class Session:
    """Resources shared by a run's notebooks (the top-level one, %run and notebook.run children)."""

    def __init__(self, ctx: RuntimeContext, notebook_path: str) -> None:
        self.ctx = ctx
        self.notebook_path = notebook_path
        self.libraries = RunLibraries(ctx.run_dir)
        self.spark = SparkHolder(ctx.spark_master, ctx.run_dir, f"bricktasks {notebook_path}", lambda: self.libraries.pythonpath)
        self.figures = FigureCapture()
        self.redact = Redactor(ctx.secrets)
        self.fs = FsUtils(ctx.to_local_path)
        self.task_values = TaskValues.for_context(ctx)  # notebook.run children are in the same task
        self.sink = OutputSink()
        self._filenames: set[str] = set()
        self._saved_env: dict[str, str | None] = {}
        self._saved_argv: list[str] | None = None

    # -- life ---------------------------------------------------------------------
    def open(self) -> None:
        """Prepare the process for the run; cluster libraries go on the path before the first cell."""
        self.ctx.run_dir.mkdir(parents=True, exist_ok=True)
        for folder in ("dbfs", "volumes"):
            (self.ctx.local_root / folder).mkdir(parents=True, exist_ok=True)  # their roots always list
        self.libraries.activate()
        # notebooks find the local Volumes and DBFS through these (see forecasting/conf/production_config)
        self._set_env("BRICKTASKS_VOLUMES_DIR", str(self.ctx.local_root / "volumes"))
        self._set_env("BRICKTASKS_DBFS_DIR", str(self.ctx.local_root / "dbfs"))
        self._set_env("MPLBACKEND", "Agg")
        # MLflow logs to the local root's store; on Databricks the workspace's tracking needs no setting
        for name, value in tracking_environment(self.ctx.local_root).items():
            self._set_env(name, value)
        # the notebook is the main program, as on a cluster: tools that read sys.argv[0] (MLflow's
        # source name and git tags) see the notebook's file, not this runtime in the toolkit's checkout
        self._saved_argv = list(sys.argv)
        sys.argv[:] = [str(self.ctx.workspace_file(self.notebook_path + ".py"))]
        # index packages first: a wheel's dependencies may be among them
        for request in self.ctx.pip_requests:
            self.libraries.install_requirements(request, self.pip_cache, os.environ)
        for library in self.ctx.libraries:
            self.libraries.install_file(Path(library))

    def close(self) -> None:
        """Undo what the run changed in this process."""
        try:
            self.spark.stop()
        finally:
            self.figures.uninstall()
            self.libraries.deactivate()
            if self._saved_argv is not None:
                sys.argv[:] = self._saved_argv
                self._saved_argv = None
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_env = {}
            for filename in self._filenames:
                linecache.cache.pop(filename, None)
            self._filenames = set()

    def _set_env(self, name: str, value: str) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    # -- notebooks ------------------------------------------------------------------
    def load(self, notebook_path: str) -> Notebook:
        """The parsed notebook at a workspace path (an override wins over the file)."""
        source = self.ctx.notebook_source(notebook_path)
        if source is None:
            plain = normal_workspace_path(notebook_path)
            for extension, language in _OTHER_LANGUAGES.items():
                if self.ctx.workspace_file(plain + extension).is_file():
                    raise NotebookNotFound(f"{plain} is a {language} notebook", "only Python notebooks run locally")
            raise NotebookNotFound(
                f"Notebook not found: {plain}",
                f"expected {self.ctx.workspace_file(plain)}.py, or an override for {plain}",
            )
        return parse_notebook(source)

    def cell_filename(self, notebook_path: str, index: int, code: str) -> str:
        """A traceback name for a cell, with its lines registered so tracebacks show them."""
        filename = f"{notebook_path}, cell {index}"
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        self._filenames.add(filename)
        return filename

    def is_cell_filename(self, filename: str) -> bool:
        return filename in self._filenames

    # -- libraries ------------------------------------------------------------------
    @property
    def pip_cache(self) -> Path:
        """The local root's pip cache: shared by every run of it, so an install happens once."""
        return self.ctx.local_root / "pip-cache"

    def install(self, target: str, notebook_path: str) -> str:
        """`dbutils.library.install(target)`: a library file, or a requirement; returns the note to print."""
        return self.pip_install(PipInstall((target,)), notebook_path)

    def pip_install(self, command: PipInstall, notebook_path: str) -> str:
        """`%pip install ...`: its files one by one, its requirements as one pip request (they
        resolve together, as one pip command would); returns the notes to print."""
        requirements = tuple(target for target in command.targets if not is_library_path(target))
        for requirement in requirements:  # all checked before anything is installed
            problem = requirement_problem(requirement)
            if problem:
                raise LibraryInstallError(f"%pip install: {problem}")
        notes = []
        if requirements:  # first: a wheel of the same cell may depend on them
            request = PipRequest(requirements, command.index_url, command.extra_index_urls)
            notes.append(self.libraries.install_requirements(request, self.pip_cache, os.environ))
        notes += [
            self.libraries.install_file(self.library_file(target, notebook_path))
            for target in command.targets if is_library_path(target)
        ]
        self.spark.libraries_changed()
        return "\n".join(note for note in notes if note)

    def library_file(self, target: str, notebook_path: str) -> Path:
        """The local file of a library path as a notebook names it."""
        if target.startswith(("dbfs:", "/dbfs/", "/Volumes/")):
            return self.ctx.to_local_path(target)
        if target.startswith("/Workspace/"):
            return self.ctx.workspace_file(target)
        if target.startswith("file:"):
            return Path(target[len("file:"):])
        if target.startswith("/"):
            local = Path(target)
            return local if local.exists() else self.ctx.workspace_file(target)
        # relative: next to the notebook in the workspace, as the notebook's folder is its cwd there
        return self.ctx.workspace_file(resolve_notebook_path(notebook_path, target))

    def requirements_text(self, target: str, notebook_path: str) -> str:
        """The text of a `%pip install -r FILE` requirements file."""
        return self.library_file(target, notebook_path).read_text(encoding="utf-8")
