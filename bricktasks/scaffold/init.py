"""`bricktasks init` as one function: check the target and options, read what is there, plan every
file, refuse before writing anything, write (or with dry_run only say), and tell what happened."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bricktasks.scaffold.contents import planned_files
from bricktasks.scaffold.detect import notebooks_in
from bricktasks.scaffold.options import InitOptions
from bricktasks.scaffold.wire import wire_notebooks
from bricktasks.scaffold.write import WriteResult, apply_writes, plan_writes
from bricktasks.workspace.overwritten import Keeper

__all__ = ["InitResult", "scaffold"]

_SAID = {"create": "wrote", "overwrite": "overwrote", "append": "added lines to"}
_WOULD = {"create": "would write", "overwrite": "would overwrite", "append": "would add lines to"}


@dataclass(frozen=True)
class InitResult:
    writes: WriteResult
    notebooks: list[str]
    dry_run: bool


def scaffold(
    target: Path, options: InitOptions, *, force: bool, wire: bool, dry_run: bool, say: Callable[[str], None],
) -> InitResult:
    source_dir = target / options.source
    notebooks = notebooks_in(source_dir) if source_dir.is_dir() else []
    planned = planned_files(options, notebooks)
    if wire:
        texts = {name: (source_dir / f"{name}.py").read_text(encoding="utf-8") for name in notebooks}
        planned += wire_notebooks(options.source, texts)
    writes = plan_writes(target, planned, force=force)  # every refusal happens here, before any write
    keeper = Keeper(target, "init")  # --force and --wire-notebooks write over files: their old versions go here first
    kept = apply_writes(target, writes, keeper) if not dry_run else []
    said = _WOULD if dry_run else _SAID
    wired = {item.path for item in planned if item.edit}
    for change in writes.changes:
        if change.path in wired and change.action == "overwrite":
            say(f"{'would add' if dry_run else 'added'} the %run cells to {change.path}")
        elif change.action in said:
            say(f"{said[change.action]} {change.path}")
    if kept:
        say(f"the old versions of {', '.join(kept)} are kept in {keeper.shown}/")
    skipped = writes.of("skip")
    if skipped:
        say(f"skipped (exists and differs; --force to overwrite): {', '.join(skipped)}")
    if not writes.changed:
        say("nothing to change: every file is as init would write it" + (" (apart from the skipped ones)" if skipped else ""))
    return InitResult(writes=writes, notebooks=notebooks, dry_run=dry_run)
