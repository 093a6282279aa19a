"""SIGINT and SIGTERM for one task: installed once when the task starts, kept until it ends.

A CI system cancels a pipeline with SIGINT or SIGTERM (GitHub: SIGINT, SIGTERM 7.5 s later,
then SIGKILL). The first signal raises `Interrupted` in the main thread, wherever it is (the
build's subprocess, the uploads, the submit, the wait, the reports); whoever knows of a run
cancels it on the way out. Later signals are noted and not raised: the way out is short (every
request after a signal has a short budget, see `hurried`), and a second raise would abandon
the cancel it interrupts.

`Interrupted` is a BaseException, like KeyboardInterrupt: the `except Exception` of the SDK's
retry loop, of a backend's error translation or of a worker cannot swallow it.

Low level on purpose (the backends read `received()`): it imports nothing of the project.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = [
    "Interrupted", "handle_signals", "received", "deferred", "hurried", "hurrying", "EXIT_CODES", "AFTER_SIGNAL_SECONDS",
]

EXIT_CODES: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}
# what a request may take once a signal arrived (SDK retries included): the process is on its way out
AFTER_SIGNAL_SECONDS = 5


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. `detail` says what became of the run (set by whoever cancelled it)."""

    def __init__(self, signum: int, detail: str = "") -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.detail = detail
        self.run_id: int | None = None  # a run submitted as the signal came (see runs.submit_answered)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 128 + self.signum)

    def one_line(self) -> str:
        return f"interrupted by {self}" + (f"; {self.detail}" if self.detail else "")


class _State:
    def __init__(self) -> None:
        self.depth = 0  # nested handle_signals() blocks: only the outermost installs
        self.received: Interrupted | None = None
        self.deferring = 0
        self.pending = False  # received while deferring, not raised yet
        self.hurry = 0  # hurrying() blocks open (a cancel on timeout)


_state = _State()


def received() -> Interrupted | None:
    """The signal this task received, if any (also from worker threads)."""
    return _state.received


def hurried() -> bool:
    """Whether requests should give up quickly: a signal arrived, or a cancel is under way."""
    return _state.received is not None or _state.hurry > 0


@contextlib.contextmanager
def hurrying() -> Iterator[None]:
    """Inside the block every request has a short budget (AFTER_SIGNAL_SECONDS), as after a signal."""
    _state.hurry += 1
    try:
        yield
    finally:
        _state.hurry -= 1


def _handler(signum: int, frame: object) -> None:
    if _state.received is not None:
        return  # already on the way out: the cleanup has its own short deadlines
    _state.received = Interrupted(signum)
    if _state.deferring:
        _state.pending = True
        return
    raise _state.received


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """SIGINT/SIGTERM raise `Interrupted` inside the block (main thread only; nested blocks share it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outermost = _state.depth == 0
    previous = {}
    if outermost:
        _state.received, _state.pending = None, False
        previous = {sig: signal.signal(sig, _handler) for sig in EXIT_CODES}
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if outermost:
            for sig, old in previous.items():
                signal.signal(sig, old)
            _state.received, _state.pending = None, False  # the next task (a test's) starts afresh


@contextlib.contextmanager
def deferred(*, reraise: bool = True) -> Iterator[None]:
    """A signal inside the block is raised when the block ends (a cancel must not be cut in half);
    with reraise=False it is only noted (the task is ending anyway)."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
    if reraise and not _state.deferring and _state.pending and _state.received is not None:
        _state.pending = False
        raise _state.received
