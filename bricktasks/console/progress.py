"""Live displays for a terminal: an upload bar (files and bytes) and a status line while a run waits.

On a terminal they are drawn with rich; in a CI log (not a terminal) they print a plain line
when something starts or a run changes state, never one per file or per poll. Every text is
redacted before rich sees it, and the rich console writes through `RedactingFile`, so a secret
cannot reach the screen by this side path either.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from bricktasks.backends.base import Run, TaskRun
from bricktasks.console.console import printable
from bricktasks.console.redaction import redact
from bricktasks.durations import format_duration

if TYPE_CHECKING:  # rich is imported where a terminal draws (0.15 s): a log, or nothing to upload, never needs it
    from rich.console import Console as RichConsole
    from rich.live import Live
    from rich.progress import Progress, TaskID
    from rich.table import Table
    from rich.text import Text

__all__ = ["RedactingFile", "rich_console", "UploadProgress", "RunStatusLine", "task_state", "human_size"]

_SHOWN_TASKS = 2  # unfinished tasks named on the live line; the rest are counted
_MESSAGE_LIMIT = 60  # of a waiting task's message on its line

class RedactingFile:
    """A text stream that redacts what rich writes: the last guard behind the texts we redact ourselves.

    rich writes a whole frame per `write` call, so a secret is not split across two calls.
    """

    def __init__(self, stream: TextIO, secrets: list[str]) -> None:
        self.stream = stream
        self.secrets = secrets

    def write(self, text: str) -> int:
        self.stream.write(redact(text, self.secrets))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return True  # only ever built for a terminal (or a test that says it is one)

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"


def human_size(size: int) -> str:
    """`size` bytes in decimal units, as rich writes them: 1 byte, 512 bytes, 1.2 kB, 3.5 MB."""
    if size == 1:
        return "1 byte"
    if size < 1000:
        return f"{size:,} bytes"
    suffixes = ("kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
    power = next((power for power in range(2, len(suffixes) + 1) if size < 1000**power), len(suffixes) + 1)
    return f"{1000 * size / 1000**power:,.1f} {suffixes[power - 2]}"


def rich_console(stream: TextIO, secrets: list[str], *, width: int | None = None) -> RichConsole:
    """A rich console drawing on `stream` as on a terminal; no markup or highlighting of our texts."""
    from rich.console import Console as RichConsole

    return RichConsole(
        # rich types `file` as IO[str] but uses only write, flush, isatty and encoding, which RedactingFile has
        file=RedactingFile(stream, secrets), force_terminal=True, force_interactive=True, width=width,  # type: ignore[arg-type]
        markup=False, highlight=False, emoji=False, soft_wrap=True,
    )


class UploadProgress:
    """Counts uploaded files and bytes; a bar on a terminal, one announcing line in a log.

    `advance` is called from the upload threads (sync's `on_upload` callback), so it locks.
    """

    def __init__(
        self,
        *,
        files: int,
        total_bytes: int,
        label: str,
        rich: RichConsole | None,
        announce: Callable[[str], None] | None,
    ) -> None:
        self.files = files
        self.total_bytes = total_bytes
        self.label = label
        self.rich = rich
        self.announce = announce
        self.done_files = 0
        self.done_bytes = 0
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> UploadProgress:
        if self.files == 0:
            return self  # nothing to upload: no bar, no line
        if self.rich is not None:
            # the label on a line of its own: a long folder path beside the bar would push the counts
            # onto a second line in an 80-column terminal
            self.rich.print(self.label, highlight=False)
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                BarColumn(),
                TextColumn("{task.fields[done_files]}/{task.fields[files]} files"),
                DownloadColumn(),
                TimeElapsedColumn(),
                console=self.rich,
                redirect_stdout=False,  # never swap sys.stdout under other threads
                redirect_stderr=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=max(self.total_bytes, 1), done_files=0, files=self.files)
        elif self.announce is not None:
            self.announce(f"{self.label}: {self.files} files ({human_size(self.total_bytes)})")
        return self

    def advance(self, size: int) -> None:
        """One file of `size` bytes is up."""
        with self._lock:
            self.done_files += 1
            self.done_bytes += size
            if self._progress is not None and self._task is not None:
                completed = self.done_bytes if self.total_bytes else (1 if self.done_files >= self.files else 0)
                self._progress.update(self._task, completed=completed, done_files=self.done_files)

    def close(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    def __exit__(self, *exc: object) -> None:
        self.close()


class RunStatusLine:
    """`on_state` for runs.wait_for_run: a live line (state, elapsed, the tasks, run page URL) on a
    terminal, a plain line per run or task state change in a log.

    On a terminal the elapsed times keep ticking between polls: the line is drawn from the last
    state plus the time since it was seen (a running task's from its start time). It stops by itself
    when the run is terminal; `close` stops it on timeout, signal or error. Task keys and messages
    come from the run and are shown `printable`: a key cannot move the cursor or fake a line.
    """

    def __init__(
        self,
        run_id: int,
        *,
        secrets: list[str],
        rich: RichConsole | None,
        print_line: Callable[[str], None] | None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.run_id = run_id
        self.secrets = secrets
        self.rich = rich
        self.print_line = print_line
        self.clock = clock
        self.wall_clock = wall_clock
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._run: Run | None = None
        self._elapsed = 0.0
        self._seen_at = clock()
        self._printed_run: tuple[str, str | None] | None = None
        self._printed_tasks: dict[str, str] = {}

    def describe(self, run: Run, elapsed: float, tasks: str = "") -> str:
        state = run.life_cycle_state + (f" {run.result_state}" if run.result_state else "")
        url = f" {run.run_page_url}" if run.run_page_url else ""
        summary = f" · {tasks}" if tasks else ""
        return redact(f"run {self.run_id}: {state} after {format_duration(elapsed)}{summary}{url}", self.secrets)

    def task_lines(self, run: Run) -> list[str]:
        """A line for each task whose state (or attempt) changed since the last call."""
        lines = []
        for task in run.latest_tasks():
            shown = task_state(task)
            if self._printed_tasks.get(task.task_key) == shown:
                continue
            self._printed_tasks[task.task_key] = shown
            took = f" in {format_duration(task.duration_ms / 1000)}" if task.is_terminal and task.duration_ms else ""
            lines.append(redact(f"run {self.run_id}: {printable(task.task_key)} {shown}{took}", self.secrets))
        return lines

    def task_summary(self, run: Run) -> str:
        """The tasks in a few words: how many are done and what is under way; at the end, the count per state."""
        tasks = run.latest_tasks()
        if not tasks:
            return ""
        if run.is_terminal:
            counts: dict[str, int] = {}
            for task in tasks:
                state = task.result_state or task.life_cycle_state
                counts[state] = counts.get(state, 0) + 1
            return ", ".join(f"{count} {state}" for state, count in counts.items())
        done = sum(task.is_terminal for task in tasks)
        active = sorted((task for task in tasks if not task.is_terminal), key=lambda task: task.life_cycle_state != "RUNNING")
        now_ms = self.wall_clock() * 1000
        parts = [f"{done}/{len(tasks)} done"]
        for task in active[:_SHOWN_TASKS]:
            running = ""
            if task.start_time and task.life_cycle_state == "RUNNING":
                running = f" {format_duration((now_ms - task.start_time) / 1000)}"
            parts.append(f"{printable(task.task_key)} {task_state(task)}{running}")
        if len(active) > _SHOWN_TASKS:
            parts.append(f"+{len(active) - _SHOWN_TASKS} more")
        return " · ".join(parts)

    def __call__(self, run: Run, elapsed: float) -> None:
        # the lock is never held while calling into Live: Live draws by calling _render, which takes it
        with self._lock:
            self._run, self._elapsed, self._seen_at = run, elapsed, self.clock()
            live = self._live
        if self.rich is None:
            self._print_changes(run, elapsed)
            return
        from rich.live import Live
        from rich.text import Text

        if live is None and not run.is_terminal:
            live = Live(
                get_renderable=self._render, console=self.rich, refresh_per_second=4,
                redirect_stdout=False, redirect_stderr=False,
            )
            with self._lock:
                self._live = live
            live.start()
        if run.is_terminal:
            if live is None:  # terminal at the first look: one plain final line, no live display
                self.rich.print(Text(self.describe(run, elapsed, self.task_summary(run))))
            self.close()

    def _print_changes(self, run: Run, elapsed: float) -> None:
        """In a log: the run's line when its state changed (after its tasks' lines once it has ended)."""
        if self.print_line is None:
            return
        lines = self.task_lines(run)
        state = (run.life_cycle_state, run.result_state)
        if state != self._printed_run:
            self._printed_run = state
            line = self.describe(run, elapsed)
            lines = [*lines, line] if run.is_terminal else [line, *lines]
        for line in lines:
            self.print_line(line)

    def _render(self) -> Table | Text:
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            run = self._run
            if run is None:
                return Text("")
            if run.is_terminal:
                return Text(self.describe(run, self._elapsed, self.task_summary(run)))
            elapsed = self._elapsed + self.clock() - self._seen_at
            line = self.describe(run, elapsed, self.task_summary(run))
        row = Table.grid(padding=(0, 1))
        row.add_row(Spinner("dots"), Text(line))
        return row

    def close(self) -> None:
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            live.stop()  # draws the last frame: the final state stays on screen

    def __enter__(self) -> RunStatusLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def task_state(task: TaskRun) -> str:
    """A task's state in one word or two: its result once it has ended, else its life cycle state; the
    attempt after a retry, and while it waits the workspace's message (e.g. "Waiting for cluster")."""
    notes = [f"attempt {task.attempt_number + 1}"] if task.attempt_number else []
    if task.is_terminal:
        state = task.result_state or task.life_cycle_state
    else:
        state = task.life_cycle_state
        if task.state_message and state != "RUNNING":  # why it waits; a running task's message ("In run") says nothing
            message = printable(task.state_message)
            notes.append(message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…")
    return state + (f" ({'; '.join(notes)})" if notes else "")
