"""Run a notebook cell by cell in one namespace, the way a Databricks cluster does.

`execute_notebook(ctx, "/Projects/x/ModelTraining")` loads the notebook (or its override),
runs each cell in order in one dict namespace holding `spark`, `sc`, `dbutils`, `display`
and `displayHTML`, and returns a NotebookResult. `%run ./x` runs x's cells in the SAME
namespace (that is how it shares variables), relative to the notebook that contains it,
to any depth. A failing cell ends the run FAILED with its number (for a failure inside a
%run child: the top-level cell that ran the child, the child's path and cell in the
error); `dbutils.notebook.exit(value)` ends it SUCCESS with that value.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import shlex
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from bricktasks.errors import BricktasksError
from bricktasks.runtime.context import RuntimeContext
from bricktasks.runtime.dbutils import DBUtils, LibraryUtils, NotebookExit, NotebookUtils, SecretsUtils, Widgets
from bricktasks.runtime.deadline import DeadlineExceeded, deadline
from bricktasks.runtime.display import Display, DisplayHTML, OutputSink, expression_output
from bricktasks.runtime.errors import LibraryInstallError, MagicCommandError, NotebookRunFailed
from bricktasks.runtime.magics import pip_install, run_fs, run_sh, run_sql
from bricktasks.runtime.notebook import Cell, Notebook
from bricktasks.runtime.paths import normal_workspace_path, resolve_notebook_path
from bricktasks.runtime.result import FAILED, SUCCESS, CellRecord, NotebookResult
from bricktasks.runtime.session import Session
from bricktasks.runtime.spark import LazySpark, LazySparkContext
from bricktasks.runtime.taskvalues import JobsUtils

__all__ = ["execute_notebook", "CellListener", "MAX_RUN_DEPTH"]

CellListener = Callable[[str, CellRecord], None]  # ("start" | "end", the top-level cell's record)
MAX_RUN_DEPTH = 16
MAX_CELL_OUTPUT = 1_000_000  # characters of stdout kept per cell; a runaway loop must not fill the disk


def execute_notebook(ctx: RuntimeContext, notebook_path: str, *, listener: CellListener | None = None) -> NotebookResult:
    """Run the notebook at a workspace path with the context's parameters, libraries and secrets."""
    started = time.monotonic()
    plain = normal_workspace_path(notebook_path)
    session = Session(ctx, plain)
    try:
        try:
            session.open()
        except Exception as exc:  # a cluster library that cannot be installed: the run never starts
            result = NotebookResult(plain, FAILED, error=_one_line(exc), error_trace=_trace(exc, session))
            if isinstance(exc, LibraryInstallError):  # the task's state says so, as a cluster's would
                result.library_error = f"Library installation failed: {exc.one_line()}"
        else:
            result = _NotebookRun(session, plain, ctx.parameters, listener).execute()
    finally:
        session.close()
    result.duration_s = round(time.monotonic() - started, 3)
    result.exit_value = session.redact(result.exit_value)
    result.error = session.redact(result.error)
    result.error_trace = session.redact(result.error_trace)
    result.library_error = session.redact(result.library_error)
    return result


class _CellFailed(Exception):
    """A cell of a %run child failed; carried up to the top-level cell that ran the child."""

    def __init__(self, error: str, trace: str, path: str, cell: int) -> None:
        super().__init__(error)
        self.error, self.trace, self.path, self.cell = error, trace, path, cell


class _NotebookRun:
    """One notebook with its own namespace: the top-level one or a dbutils.notebook.run child."""

    def __init__(self, session: Session, path: str, parameters: dict[str, str], listener: CellListener | None) -> None:
        self.session = session
        self.path = path
        self.listener = listener
        self.widgets = Widgets(parameters)
        self.stack = [path]  # the notebook whose cell runs now is last (%run children push)
        self.dbutils = DBUtils(
            widgets=self.widgets,
            notebook=NotebookUtils(self._run_other, path),
            fs=session.fs,
            secrets=SecretsUtils(session.ctx.secrets),
            library=LibraryUtils(lambda target: print(session.install(target, self.stack[-1]))),
            jobs=JobsUtils(session.task_values),
        )
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": builtins,
            "spark": LazySpark(session.spark),
            "sc": LazySparkContext(session.spark),
            "dbutils": self.dbutils,
            "display": Display(lambda: session.sink),
            "displayHTML": DisplayHTML(lambda: session.sink),
            "getArgument": self.widgets.getArgument,
        }

    # -- the top level: one record per cell -------------------------------------------
    def execute(self) -> NotebookResult:
        result = NotebookResult(self.path, SUCCESS)
        try:
            notebook = self.session.load(self.path)
        except (BricktasksError, OSError, UnicodeDecodeError) as exc:
            result.status, result.error = FAILED, _one_line(exc)
            return result
        for index, cell in enumerate(notebook.cells, start=1):
            record = CellRecord(index=index, kind=cell.kind, source=cell.source)
            result.cells.append(record)
            self._notify("start", record)
            try:
                self._run_recorded(cell, index, record)
            except NotebookExit as exit_:
                result.exit_value = exit_.value
                break
            except DeadlineExceeded:
                raise  # an enclosing dbutils.notebook.run's limit: not this notebook's failure
            except _CellFailed as failed:
                record.error = f"{failed.error} (in {failed.path}, cell {failed.cell})"
                trace = f"in {self.path}, cell {index}: %run {failed.path}\n{failed.trace}"
                self._fail(result, record, record.error, trace)
                break
            except BaseException as exc:  # noqa: BLE001  (KeyboardInterrupt and SystemExit fail the cell too)
                record.error = _one_line(exc)
                self._fail(result, record, record.error, f"in {self.path}, cell {index}:\n{_trace(exc, self.session)}")
                break
            finally:
                self._finish(record)
        return result

    def _run_recorded(self, cell: Cell, index: int, record: CellRecord) -> None:
        sink, outer = OutputSink(), self.session.sink
        self.session.sink = sink
        buffer = io.StringIO()
        started = time.monotonic()
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer), _warnings_shown_in(buffer):
                try:
                    self._run_cell(cell, self.path, index, depth=0)
                finally:
                    self.session.figures.after_cell(sink)
        finally:
            self.session.sink = outer
            record.stdout = _capped(buffer.getvalue())
            record.outputs = sink.outputs
            record.duration_s = round(time.monotonic() - started, 3)

    def _fail(self, result: NotebookResult, record: CellRecord, error: str, trace: str) -> None:
        result.status, result.failed_cell = FAILED, record.index
        result.error, result.error_trace = error, trace

    def _finish(self, record: CellRecord) -> None:
        redact = self.session.redact
        record.source = redact(record.source) or ""  # a secret pasted into a cell stays out of reports too
        record.stdout = redact(record.stdout) or ""
        record.error = redact(record.error)
        record.outputs = [redact.output(output) for output in record.outputs]
        self._notify("end", record)

    def _notify(self, event: str, record: CellRecord) -> None:
        if self.listener is not None:
            self.listener(event, record)

    # -- one cell, at any depth -----------------------------------------------------------
    def _run_cell(self, cell: Cell, path: str, index: int, depth: int) -> None:
        kind, body, session = cell.kind, cell.body, self.session
        if kind == "python":
            session.figures.before_cell(body, top_level=depth == 0)
            self._exec_python(body, path, index)
        elif kind == "md":
            pass  # kept in the record for the report
        elif kind == "run":
            self._run_included(body, path, depth)
        elif kind == "pip":
            print(session.pip_install(pip_install(body, lambda file: session.requirements_text(file, path)), path))
        elif kind == "sh":
            run_sh(body, session.ctx.run_dir, session.libraries.pythonpath)
        elif kind == "sql":
            run_sql(body, self.namespace["spark"], self.namespace["display"])
        elif kind == "fs":
            run_fs(body, session.fs, session.sink.add)
        else:
            raise MagicCommandError(
                f"{cell.magic} cells do not run locally",
                "only Python notebooks with %run, %pip, %sh, %sql, %fs and %md cells run here",
            )

    def _exec_python(self, code: str, path: str, index: int) -> None:
        if not code.strip():
            return
        filename = self.session.cell_filename(path, index, code)
        tree = ast.parse(code, filename)
        last = None
        if tree.body and isinstance(final := tree.body[-1], ast.Expr):
            # the value of a cell's last expression is shown, as in a notebook
            tree.body.pop()
            last = ast.Expression(final.value)
        # dont_inherit: the runtime's own `from __future__` imports must not change notebook code
        exec(compile(tree, filename, "exec", dont_inherit=True), self.namespace)  # noqa: S102
        if last is not None:
            value = eval(compile(last, filename, "eval", dont_inherit=True), self.namespace)  # noqa: S307
            if value is not None:
                self.session.sink.add(expression_output(value))

    # -- %run: the child's cells in this namespace --------------------------------------
    def _run_included(self, body: str, path: str, depth: int) -> None:
        try:
            tokens = shlex.split(body)
        except ValueError as exc:
            raise MagicCommandError(f"%run {body!r}: {exc}") from None
        if not tokens:
            raise MagicCommandError("%run needs a notebook path", "e.g. %run ./set_environment")
        target = resolve_notebook_path(path, tokens[0])
        arguments = {}
        for token in tokens[1:]:
            name, equals, value = token.partition("=")
            if not name.startswith("$") or not equals:
                raise MagicCommandError(f"%run argument {token!r} is not $name=value")
            arguments[name[1:]] = value
        if target in self.stack:
            raise MagicCommandError(f"%run cycle: {' -> '.join(self.stack + [target])}")
        if depth >= MAX_RUN_DEPTH:
            raise MagicCommandError(f"%run nested deeper than {MAX_RUN_DEPTH} notebooks at {target}")
        notebook = self.session.load(target)
        self.stack.append(target)
        try:
            with self.widgets.overlay(arguments):
                self._run_child_cells(notebook, target, depth + 1)
        finally:
            self.stack.pop()

    def _run_child_cells(self, notebook: Notebook, path: str, depth: int) -> None:
        for index, cell in enumerate(notebook.cells, start=1):
            try:
                self._run_cell(cell, path, index, depth)
            except (NotebookExit, DeadlineExceeded):
                raise
            except _CellFailed as failed:
                trace = f"in {path}, cell {index}: %run {failed.path}\n{failed.trace}"
                raise _CellFailed(failed.error, trace, failed.path, failed.cell) from None
            except BaseException as exc:  # noqa: BLE001
                raise _CellFailed(_one_line(exc), f"in {path}, cell {index}:\n{_trace(exc, self.session)}", path, index) from None

    # -- dbutils.notebook.run: a fresh namespace ---------------------------------------
    def _run_other(self, target: str, timeout_seconds: int, arguments: dict[str, str]) -> str:
        path = resolve_notebook_path(self.stack[-1], target)
        child = _NotebookRun(self.session, path, arguments, listener=None)
        with deadline(timeout_seconds) as token:
            try:
                result = child.execute()
            except DeadlineExceeded as exc:
                if exc.token is not token:
                    raise
                raise NotebookRunFailed(f"notebook {path} timed out after {timeout_seconds} s") from None
        if result.status != SUCCESS:
            where = f" in cell {result.failed_cell}" if result.failed_cell else ""
            failure = NotebookRunFailed(f"notebook {path} failed{where}: {result.error}")
            failure.child_trace = result.error_trace  # type: ignore[attr-defined]
            raise failure
        return result.exit_value or ""


def _capped(text: str) -> str:
    """Keep the start and the end of a very long output (the end usually says what went wrong)."""
    if len(text) <= MAX_CELL_OUTPUT:
        return text
    head, tail = text[: MAX_CELL_OUTPUT // 5], text[-(MAX_CELL_OUTPUT * 4 // 5):]
    return f"{head}\n... [{len(text) - len(head) - len(tail)} characters cut] ...\n{tail}"


def _one_line(exc: BaseException) -> str:
    """`ValueError: quality below threshold`: the exception type and the first line of its message."""
    if isinstance(exc, BricktasksError):
        message = exc.one_line()
    else:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        message = lines[0] if lines else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _trace(exc: BaseException, session: Session) -> str:
    """The traceback from the first notebook frame on (the runtime's own frames are noise)."""
    tb = exc.__traceback__
    while tb is not None and not session.is_cell_filename(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    child_trace = getattr(exc, "child_trace", None)
    if child_trace:
        text += f"\nThe child notebook's trace:\n{child_trace}"
    return text


@contextlib.contextmanager
def _warnings_shown_in(buffer: io.StringIO):
    """Show warnings in the cell's output, as a notebook does, even when a host (pytest, a
    caller's catch_warnings) has replaced showwarning to record them. Only the display hook is
    swapped, so filters a cell sets stay in force for the next cells."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings' signature
        buffer.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
