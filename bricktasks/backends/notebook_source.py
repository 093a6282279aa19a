"""A source-format notebook of any language as a list of commands, and back, as Databricks writes it.

    # Databricks notebook source          (-- for SQL, // for Scala, # for Python and R)
    print("a python command")

    # COMMAND ----------

    # DBTITLE 1,Notes
    # MAGIC %md
    # MAGIC # A markdown command

A `Command` holds what the notebook editor shows: `%md\\n# A markdown command`, without the
`# MAGIC ` prefixes. That is the form every other export format carries (a Jupyter cell, a DBC
command, the HTML page's model), so converting between formats goes through this one type.

`render_source(parse_source(s))` gives back `s` for a notebook in the layout Databricks exports
(header line, commands joined by a blank line + separator + blank line, one final newline, commands
without leading or trailing blank lines); other layouts come back in that layout. The runtime has
its own byte-exact, Python-only parser (bricktasks.runtime.notebook) for running notebooks.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bricktasks.backends.base import NOTEBOOK_HEADERS
from bricktasks.errors import InvalidRequest

__all__ = ["COMMENT", "Command", "clean_title", "parse_source", "render_source"]

# the line-comment marker each language's source notebooks use for header, separator, MAGIC and DBTITLE
COMMENT = {"PYTHON": "#", "R": "#", "SQL": "--", "SCALA": "//"}


@dataclass(frozen=True)
class Command:
    """One notebook command: its text as the editor shows it, and its title (`DBTITLE`), if any."""

    text: str
    title: str | None = None
    show_title: bool = False

    @property
    def magic(self) -> str | None:
        """The magic word (`%md`, `%sql`...) on the first line, or None for a command in the notebook's language."""
        first = self.text.split("\n", 1)[0]
        return first.split(None, 1)[0] if first.startswith("%") and first.strip() != "%" else None


def clean_title(value: object) -> str | None:
    """A command title from another format, fit for the one-line `DBTITLE` of a source notebook."""
    title = " ".join(str(value or "").splitlines()).strip()
    return title or None


def _comment(language: str) -> str:
    if language not in COMMENT:
        raise InvalidRequest(f"unknown notebook language {language!r}", "use PYTHON, SQL, SCALA or R")
    return COMMENT[language]


def parse_source(text: str, language: str) -> list[Command]:
    """The commands of a source notebook; InvalidRequest when the header line is not the language's."""
    comment = _comment(language)
    lines = text.lstrip("\ufeff").split("\n")
    if lines[0].rstrip("\r") != NOTEBOOK_HEADERS[language]:
        raise InvalidRequest(f"not a {language} source notebook: its first line is not {NOTEBOOK_HEADERS[language]!r}")
    separator = f"{comment} COMMAND ----------"
    chunks: list[list[str]] = [[]]
    for line in lines[1:]:
        if line.rstrip() == separator:
            chunks.append([])
        else:
            chunks[-1].append(line)
    return [_command("\n".join(chunk).strip("\n"), comment) for chunk in chunks]


def _command(raw: str, comment: str) -> Command:
    title, show_title = None, False
    lines = raw.split("\n")
    heading = re.fullmatch(rf"{re.escape(comment)} DBTITLE ([01]),(.*)", lines[0])
    if heading:
        title, show_title = heading.group(2), heading.group(1) == "1"
        lines = lines[1:]
    magic = f"{comment} MAGIC"
    if lines and (lines[0] == magic or lines[0].startswith(magic + " ")):
        lines = [_unmagic(line, magic) for line in lines]
    return Command("\n".join(lines), title, show_title)


def _unmagic(line: str, magic: str) -> str:
    if line.startswith(magic + " "):
        return line[len(magic) + 1:]
    return "" if line.rstrip() == magic else line


def render_source(commands: Sequence[Command], language: str) -> str:
    """The source notebook Databricks exports for these commands (magic commands behind `MAGIC` prefixes)."""
    comment = _comment(language)
    rendered = [_render(command, comment) for command in commands]
    if rendered in ([], [""]):  # a notebook of one empty command is the header alone
        return NOTEBOOK_HEADERS[language] + "\n"
    return NOTEBOOK_HEADERS[language] + "\n" + f"\n\n{comment} COMMAND ----------\n\n".join(rendered) + "\n"


def _render(command: Command, comment: str) -> str:
    text = command.text
    if command.magic is not None:
        magic = f"{comment} MAGIC"
        text = "\n".join(f"{magic} {line}" if line else magic for line in text.split("\n"))
    if command.title is not None:
        text = f"{comment} DBTITLE {int(command.show_title)},{command.title}\n" + text
    return text
