"""`python -m bricktasks.runtime --context CONTEXT.json [--secrets-from-stdin] --notebook PATH --result RESULT.json`

What the local backend's run supervisor starts for each task, in a process group of its
own so a cancel can kill the whole tree (pyspark's JVM is our child in that group; never
start anything here in a new session). Prints one progress line per cell (and the cell's
redacted output) to stdout, writes the result JSON atomically, and exits 0 on SUCCESS, 1
on FAILED (2 for a bad command line or context file). The run's secrets come on stdin
(`--secrets-from-stdin`, a JSON object {scope: {key: value}}), never in the context file.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from bricktasks.runtime.context import RuntimeContext, read_secrets
from bricktasks.runtime.executor import execute_notebook
from bricktasks.runtime.result import SUCCESS, CellRecord, NotebookResult

__all__ = ["main", "write_result"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bricktasks.runtime", description="Run a notebook with the local Databricks runtime.")
    parser.add_argument("--context", required=True, type=Path, help="context JSON (folders, parameters, libraries)")
    parser.add_argument(
        "--secrets-from-stdin", action="store_true", help="read the run's secrets from stdin: {scope: {key: value}} as JSON"
    )
    parser.add_argument("--notebook", required=True, help="workspace path of the notebook, e.g. /Projects/x/ModelTraining")
    parser.add_argument("--result", required=True, type=Path, help="where to write the result JSON")
    args = parser.parse_args(argv)
    try:
        ctx = RuntimeContext.from_json(args.context)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read the context file {args.context}: {exc}", file=sys.stderr)
        return 2
    if args.secrets_from_stdin:
        try:
            ctx = dataclasses.replace(ctx, secrets=read_secrets(sys.stdin.buffer))
        except ValueError:
            print("cannot read the run's secrets from stdin: expected a JSON object {scope: {key: value}}", file=sys.stderr)
            return 2
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    # this process is the run's own: stray relative files (derby.log, metastore_db) land in the run dir
    os.chdir(ctx.run_dir)
    print(f"running {args.notebook}", flush=True)
    result = execute_notebook(ctx, args.notebook, listener=_progress)
    write_result(args.result, result)
    if result.status == SUCCESS:
        exit_value = f", exit value: {result.exit_value}" if result.exit_value is not None else ""
        print(f"SUCCESS in {result.duration_s:.1f}s{exit_value}", flush=True)
        return 0
    where = f"cell {result.failed_cell}" if result.failed_cell else "before the first cell"
    print(f"FAILED in {where}: {result.error}", flush=True)
    return 1


def write_result(path: Path, result: NotebookResult) -> None:
    """Write the result JSON through a temp file and os.replace, so readers never see half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
    os.replace(temp, path)


def _progress(event: str, record: CellRecord) -> None:
    if event == "start":
        print(f"cell {record.index} ({record.kind}) started", flush=True)
        return
    if record.stdout:
        for line in record.stdout.rstrip("\n").split("\n"):
            print(f"  | {line}")
    state = f"failed: {record.error}" if record.error else "done"
    print(f"cell {record.index} {state} in {record.duration_s:.1f}s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
