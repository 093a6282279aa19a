"""The magic cells other than %run and %md: %pip, %sh, %sql, %fs.

Each takes the cell body (the text after the magic word) and explicit collaborators, and
prints or displays what the cell shows. Failures raise MagicCommandError or
LibraryInstallError with a message that says what to do instead.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bricktasks.pipcache import EXTRA_INDEX_OPTIONS, INDEX_OPTIONS, index_problem
from bricktasks.runtime.errors import LibraryInstallError, MagicCommandError
from bricktasks.runtime.fsutils import FsUtils

__all__ = ["PipInstall", "pip_install", "is_library_path", "run_sh", "run_sql", "split_sql", "run_fs"]

# pip options that change nothing here (the install goes to the run's cache either way)
_HARMLESS_FLAGS = {
    "-q", "--quiet", "-U", "--upgrade", "--no-deps", "--force-reinstall", "--no-cache-dir",
    "--disable-pip-version-check", "--pre", "--user", "--no-input", "--no-warn-script-location", "-v", "--verbose",
}
# options that would change what pip fetches in ways the pip cache's key does not capture
MAX_REQUIREMENT_FILES = 20
_DIRECT_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_REFUSED_OPTIONS = {"-f", "--find-links", "--trusted-host", "--proxy", "-c", "--constraint", "--no-index"}


@dataclass(frozen=True)
class PipInstall:
    """What one `%pip install` cell names: targets (library files and requirements, in order) and
    the index the requirements come from (None: pip's own configuration)."""

    targets: tuple[str, ...]
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()


def pip_install(body: str, read_requirements: Callable[[str], str]) -> PipInstall:
    """The `%pip install ...` cell parsed (`-r FILE` read through: its lines are read as more
    arguments, so a file may name its index too); never run through a shell."""
    tokens = shlex.split(body, comments=True)
    if not tokens or tokens[0] != "install":
        raise MagicCommandError(
            f"%pip {tokens[0] if tokens else ''} is not supported locally".replace("  ", " "),
            "only %pip install works, with library files or requirements",
        )
    targets: list[str] = []
    index_url: str | None = None
    extra: list[str] = []
    pending = list(reversed(tokens[1:]))  # a stack: a -r file's tokens go on top, in order
    args = _popping(pending)
    files_read = 0
    for token in args:
        option = token.split("=", 1)[0]
        if option in INDEX_OPTIONS + EXTRA_INDEX_OPTIONS:
            url = _option_value(token, args)
            problem = index_problem(url, option)
            if problem:
                raise LibraryInstallError(f"%pip install: {problem}")
            if option in INDEX_OPTIONS:
                index_url = url
            else:
                extra.append(url)
        elif option in _REFUSED_OPTIONS:
            raise LibraryInstallError(f"%pip install {option} is not supported locally", "name the index with --index-url")
        elif option in ("-r", "--requirement"):
            files_read += 1
            if files_read > MAX_REQUIREMENT_FILES:
                raise MagicCommandError(f"%pip install reads more than {MAX_REQUIREMENT_FILES} requirements files (a -r loop?)")
            lines = read_requirements(_option_value(token, args)).splitlines()
            pending.extend(reversed([token for line in lines for token in _requirement_line_tokens(line)]))
        elif option in ("-e", "--editable"):
            raise LibraryInstallError("%pip install -e is not supported locally", "build a wheel and install that")
        elif token.startswith("-"):
            if token not in _HARMLESS_FLAGS:
                raise MagicCommandError(f"%pip install option {token} is not supported locally")
        else:
            targets.append(token)
    if not targets:
        raise MagicCommandError("%pip install names nothing to install")
    return PipInstall(tuple(targets), index_url, tuple(extra))


def _requirement_line_tokens(line: str) -> list[str]:
    """A requirements-file line as arguments: an option line split as a shell would; a requirement
    whole (`pandas >= 2 ; python_version < '3.12'` is one requirement)."""
    line = line.strip()
    if line.startswith("-"):
        return shlex.split(line, comments=True)
    line = line.split(" #", 1)[0].strip() if not line.startswith("#") else ""
    return [line] if line else []


def _popping(stack: list[str]) -> Iterator[str]:
    while stack:
        yield stack.pop()


def _option_value(token: str, args: Iterator[str]) -> str:
    """`--opt=value`'s value, or the next token's for `--opt value`."""
    return token.split("=", 1)[1] if "=" in token else next(args, "")


def is_library_path(target: str) -> bool:
    """Whether a %pip target is a file (as opposed to a requirement like `pandas==2.2.3`, or a
    direct reference `name @ https://.../name-1.0-py3-none-any.whl`, which pip fetches)."""
    if _DIRECT_REFERENCE.match(target):
        return False
    return target.endswith((".whl", ".egg", ".tar.gz", ".zip")) or "/" in target or target.startswith(".")


def run_sh(script: str, cwd: Path, pythonpath: str) -> None:
    """`%sh`: bash in the run dir, output into the cell; a non-zero exit fails the cell."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH", "")]))
    cwd.mkdir(parents=True, exist_ok=True)
    # same process group as the run: cancelling the run kills the command too
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
    )
    if done.stdout:
        print(done.stdout, end="" if done.stdout.endswith("\n") else "\n")
    if done.returncode != 0:
        raise MagicCommandError(f"%sh command exited with code {done.returncode}")


def split_sql(text: str) -> list[str]:
    """Statements separated by `;` outside quotes and `--` comments."""
    statements, current, quote, i = [], [], "", 0
    while i < len(text):
        char = text[i]
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
            current.append(char)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif char == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    statements.append("".join(current))
    return [statement.strip() for statement in statements if statement.strip()]


def run_sql(text: str, spark: Any, display: Callable[[Any], None]) -> None:
    """`%sql`: each statement through spark.sql; the last one's result is displayed."""
    statements = split_sql(text)
    if not statements:
        raise MagicCommandError("%sql cell has no statement")
    result = None
    for statement in statements:
        result = spark.sql(statement)
    if result is not None and len(result.columns) > 0:
        display(result)
    else:
        print("OK")


def _one_path(args: list[str]) -> str:
    """The one path argument; any other number of them is the TypeError the call would raise."""
    if len(args) != 1:
        raise TypeError(f"expected 1 path, got {len(args)}")
    return args[0]


def _two_paths(args: list[str]) -> tuple[str, str]:
    """The source and destination; any other number of arguments is the TypeError the call would raise."""
    if len(args) != 2:
        raise TypeError(f"expected 2 paths, got {len(args)}")
    return args[0], args[1]


def run_fs(body: str, fs: FsUtils, add_output: Callable[[dict[str, Any]], None]) -> None:
    """`%fs ls /path`, `%fs rm -r /path`...: the dbutils.fs call, its result shown."""
    tokens = shlex.split(body)
    if not tokens:
        raise MagicCommandError("%fs needs a command, e.g. %fs ls dbfs:/")
    command, args = tokens[0], tokens[1:]
    recurse = any(arg in ("-r", "--recurse") for arg in args)
    args = [arg for arg in args if arg not in ("-r", "--recurse")]
    calls: dict[str, Callable[[], Any]] = {
        "ls": lambda: fs.ls(*(args or ["/"])),
        "head": lambda: fs.head(args[0], *(int(a) for a in args[1:2])),
        "mkdirs": lambda: fs.mkdirs(*args),
        "rm": lambda: fs.rm(_one_path(args), recurse=recurse),
        "cp": lambda: fs.cp(*_two_paths(args), recurse=recurse),
        "mv": lambda: fs.mv(*_two_paths(args), recurse=recurse),
        "put": lambda: fs.put(args[0], " ".join(args[1:])),
    }
    if command not in calls:
        raise MagicCommandError(f"%fs {command} is not supported locally", f"use one of: {', '.join(sorted(calls))}")
    try:
        result = calls[command]()
    except (TypeError, IndexError):
        raise MagicCommandError(f"%fs {command}: wrong arguments {args!r}") from None
    if command == "ls":
        rows = [[entry.path, entry.name, entry.size, entry.modificationTime] for entry in result]
        add_output({"type": "table", "columns": ["path", "name", "size", "modificationTime"], "rows": rows, "truncated": False})
    elif isinstance(result, str):
        print(result)
    else:
        print(repr(result))

