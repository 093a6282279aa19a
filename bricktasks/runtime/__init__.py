"""The local Databricks notebook runtime: source notebooks, %run, %pip, dbutils, spark, display.

    from bricktasks.runtime import RuntimeContext, execute_notebook
    result = execute_notebook(RuntimeContext(local_root=root, run_dir=run), "/Projects/x/ModelTraining")

or, as the local backend does, in a process of its own:
    python -m bricktasks.runtime --context CONTEXT.json --secrets-from-stdin --notebook /Projects/x/ModelTraining --result RESULT.json
"""
from __future__ import annotations

from bricktasks.runtime.context import RuntimeContext
from bricktasks.runtime.errors import NotebookSourceError, RuntimePathError
from bricktasks.runtime.executor import execute_notebook
from bricktasks.runtime.notebook import Cell, Notebook, is_notebook_source, parse_notebook, render_notebook
from bricktasks.runtime.result import CellRecord, NotebookResult

__all__ = [
    "RuntimeContext",
    "execute_notebook",
    "NotebookResult",
    "CellRecord",
    "Notebook",
    "Cell",
    "parse_notebook",
    "render_notebook",
    "is_notebook_source",
    "NotebookSourceError",
    "RuntimePathError",
]
