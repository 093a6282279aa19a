"""Databricks source-format notebooks: parse into cells and render back, byte for byte.

    # Databricks notebook source
    print("a python cell")

    # COMMAND ----------

    # MAGIC %md
    # MAGIC # A markdown cell

The parser partitions the text: the header line, then for each cell the separator line
that opens it (none for the first) and the cell's raw text up to the next separator.
Rendering concatenates the pieces, so `render_notebook(parse_notebook(s)) == s` holds for
any text that starts with the header, whatever its blank lines or line endings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bricktasks.runtime.errors import NotebookSourceError

__all__ = [
    "HEADER",
    "SEPARATOR",
    "MAGIC_PREFIX",
    "CELL_KINDS",
    "Cell",
    "Notebook",
    "is_notebook_source",
    "parse_notebook",
    "render_notebook",
    "make_cell_text",
]

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
MAGIC_PREFIX = "# MAGIC"
CELL_KINDS = ("python", "md", "run", "pip", "sh", "sql", "fs", "unsupported")

# magic word -> cell kind; anything else after a % (scala, r, conda...) cannot run here
_MAGIC_KINDS = {
    "%python": "python",
    "%md": "md",
    "%md-sandbox": "md",
    "%run": "run",
    "%pip": "pip",
    "%sh": "sh",
    "%sql": "sql",
    "%fs": "fs",
}
_LINE = re.compile(r"[^\n]*\n|[^\n]+")  # lines with their "\n"; only "\n" splits, like Databricks


@dataclass(frozen=True)
class Cell:
    """One cell: its raw text (exactly as in the file) and the separator line before it."""

    raw: str
    separator: str = ""

    @property
    def is_magic(self) -> bool:
        """Whether the cell is written with `# MAGIC ` prefixes."""
        first = _first_line(self.raw)
        return first.startswith(MAGIC_PREFIX) and (len(first) == len(MAGIC_PREFIX) or first[len(MAGIC_PREFIX)] == " ")

    @property
    def source(self) -> str:
        """The cell's text without `# MAGIC ` prefixes and without surrounding blank lines."""
        lines = self.raw.split("\n")
        if self.is_magic:
            lines = [_unmagic(line) for line in lines]
        while lines and not lines[0].strip():
            lines.pop(0)
        return "\n".join(lines).rstrip()

    @property
    def magic(self) -> str | None:
        """The magic word (`%sh`, `%run`...) that starts the source, or None for plain Python."""
        first = self.source.split("\n", 1)[0].strip()
        if not first.startswith("%"):
            return None
        return first.split(None, 1)[0]

    @property
    def kind(self) -> str:
        """One of CELL_KINDS; un-prefixed magics (`%run ./x` alone in a cell) count too."""
        magic = self.magic
        if magic is None:
            return "python"
        return _MAGIC_KINDS.get(magic, "unsupported")

    @property
    def body(self) -> str:
        """The source after the magic word (`%sh ls -l` -> `ls -l`); the whole source for Python."""
        source = self.source
        if self.magic is None:
            return source
        return source[len(self.magic):].lstrip(" \t").lstrip("\n") if source.startswith(self.magic) else source


@dataclass(frozen=True)
class Notebook:
    """A parsed notebook: the header line (with its line end) and the cells in order."""

    header: str
    cells: tuple[Cell, ...]


def is_notebook_source(text: str) -> bool:
    """Whether `text` starts with the `# Databricks notebook source` header line."""
    return text.split("\n", 1)[0].rstrip() == HEADER


def parse_notebook(source: str) -> Notebook:
    """Split source-format text into its header and cells, keeping every character."""
    if not is_notebook_source(source):
        first = source.split("\n", 1)[0][:60]
        raise NotebookSourceError(
            f"not a Databricks notebook: its first line is {first!r}, not {HEADER!r}",
            "export notebooks in SOURCE format, or add the header line to the .py file",
        )
    lines = _LINE.findall(source)
    header, rest = lines[0], lines[1:]
    cells: list[Cell] = []
    separator = ""
    chunk: list[str] = []
    for line in rest:
        if line.rstrip() == SEPARATOR:
            cells.append(Cell("".join(chunk), separator))
            separator, chunk = line, []
        else:
            chunk.append(line)
    if chunk or separator or cells:
        cells.append(Cell("".join(chunk), separator))
    return Notebook(header=header, cells=tuple(cells))


def render_notebook(notebook: Notebook) -> str:
    """The exact text `parse_notebook` read (or the text of a notebook built from cells)."""
    return notebook.header + "".join(cell.separator + cell.raw for cell in notebook.cells)


def make_cell_text(source: str, *, magic: bool) -> str:
    """A cell's raw text as Databricks exports it: prefixed with `# MAGIC ` if it is a magic cell."""
    if not magic:
        return source
    return "\n".join(f"{MAGIC_PREFIX} {line}" if line else MAGIC_PREFIX for line in source.split("\n"))


def _first_line(raw: str) -> str:
    for line in raw.split("\n"):
        if line.strip():
            return line.rstrip("\r")
    return ""


def _unmagic(line: str) -> str:
    if line.startswith(MAGIC_PREFIX + " "):
        return line[len(MAGIC_PREFIX) + 1:]
    if line.rstrip() == MAGIC_PREFIX:
        return ""
    return line
