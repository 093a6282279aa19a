"""mkdocs hook: the task reference of docs/tasks.md, built from the tasks themselves at build time.

Each task of `bricktasks.tasks.namespace` (and of any collection under it) becomes a section: its
name and aliases, a usage line, its docstring, and each flag as `invoke --help TASK` prints it
(invoke's own `ParserContext.help_tuples`). Nothing is written to disk, so the page cannot drift from
the tasks: a task, flag or help text changed in `bricktasks/tasks.py` changes the next build.
"""
from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

__all__ = ["MARKER", "PAGE", "on_page_markdown", "task_reference"]

PAGE = "tasks.md"
MARKER = "<!-- task-reference: generated from bricktasks.tasks.namespace by docs/hooks/task_reference.py -->"

# Python-Markdown's backslash escapes: a docstring or help text is prose, never markup
# ("named [BRANCH] <name>", "jobs/production/*.json", "conf/<env>_config").
_MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|"


def _escape(text: str) -> str:
    escaped = "".join(f"\\{char}" if char in _MARKDOWN_SPECIALS else char for char in text)
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _tasks(collection: Any, prefix: str = "") -> Iterator[tuple[str, list[str], Any]]:
    """(name as typed, aliases, Task) for every task, in the collection's order, sub-collections after."""
    for name, task in collection.tasks.items():
        yield f"{prefix}{name}", list(task.aliases), task
    for sub_name, sub in collection.collections.items():
        yield from _tasks(sub, f"{prefix}{sub_name}.")


def _section(name: str, aliases: list[str], task: Any) -> list[str]:
    from invoke.parser import ParserContext

    from bricktasks.cli.guard import task_arguments

    context = ParserContext(name=name, aliases=aliases, args=task_arguments(task))
    positional = " ".join((arg.name or "").upper() for arg in context.positional_args)
    usage = f"invoke {name} [--options]" + (f" {positional}" if positional else "")
    lines = [f"### `{name}`", ""]
    if aliases:
        lines += ["Aliases: " + ", ".join(_code(alias) for alias in aliases) + ".", ""]
    lines += ["```text", usage, "```", ""]
    doc = inspect.cleandoc(task.__doc__ or "")
    lines += [_escape(doc) if doc else "*No docstring.*", ""]
    lines += ["| flag | help |", "|---|---|"]
    lines += [f"| {_code(flags)} | {_escape(help_text or '')} |" for flags, help_text in context.help_tuples()]
    return lines + [""]


def task_reference(namespace: Any) -> str:
    """The reference as Markdown: a summary table linking to one section per task."""
    tasks = list(_tasks(namespace))
    lines = ["| task | aliases | does |", "|---|---|---|"]
    for name, aliases, task in tasks:
        summary = inspect.cleandoc(task.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        anchor = name.replace(".", "")
        lines.append(f"| [{name}](#{anchor}) | {', '.join(_code(a) for a in aliases)} | {_escape(summary)} |")
    lines.append("")
    for name, aliases, task in tasks:
        lines += _section(name, aliases, task)
    return "\n".join(lines)


def _namespace_of(root: Path) -> Any:
    """This checkout's `bricktasks.tasks.namespace`, not that of another installed copy."""
    if sys.path[:1] != [str(root)]:
        sys.path.insert(0, str(root))
    import bricktasks
    import bricktasks.tasks

    # mkdocs serve rebuilds in the same process: read the tasks as they are now, not as first imported
    namespace = importlib.reload(bricktasks.tasks).namespace
    package = Path(bricktasks.__file__).resolve().parent
    if package != root / "bricktasks":
        raise PluginError(f"the task reference imported bricktasks from {package}, not {root / 'bricktasks'}; "
                          f"build the site from this checkout with python -m mkdocs build")
    return namespace


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"docs/{PAGE} lost its marker line {MARKER}; put it back where the reference goes")
    root = Path(config.config_file_path).resolve().parent
    return markdown.replace(MARKER, task_reference(_namespace_of(root)))
