"""status and pull on a real local backend: the sync manifest as the common ancestor, both ways."""
from __future__ import annotations

import time

import pytest

from bricktasks.errors import UserInputError
from bricktasks.workspace.checkout import push_source
from bricktasks.workspace.helpers import desired_items
from bricktasks.workspace.overwritten import Keeper
from bricktasks.workspace.pull import OURS, THEIRS, apply_pull, describe_pull, plan_pull
from bricktasks.workspace.status import folder_status, format_status
from bricktasks.workspace.sync import MANIFEST_NAME, plan_sync

HEADER = "# Databricks notebook source\n"
TARGET = "/Projects/forecasting/BI-7"


@pytest.fixture
def synced(project, backend, console):
    push_source(backend, project.source_dir, TARGET, env="dev", prune=False, dry_run=False, console=console, keeper=None)
    return project


def ui_edit(backend, rel: str, text: str) -> None:
    time.sleep(0.01)
    backend.import_object(f"{TARGET}/{rel}", text.encode(), format="AUTO", overwrite=True)


def status_lines(project, backend, env="dev"):
    return format_status(folder_status(backend, project.source_dir, TARGET, env=env, libraries=None))


def pull(project, backend, console, resolve=None):
    plan = plan_pull(backend, project.source_dir, TARGET, env="dev", libraries=None, resolve=resolve)
    return plan, apply_pull(backend, project.source_dir, plan, keeper=Keeper(project.root, "working-copy/BI-7"), console=console)


def test_a_fresh_checkout_matches_and_costs_no_export(synced, backend):
    class Counting(type(backend)):
        exports = 0

        def export(self, path, **kwargs):
            Counting.exports += not path.endswith(MANIFEST_NAME)
            return super().export(path, **kwargs)

    counting = Counting(backend.paths.root)
    assert status_lines(synced, counting) == []
    assert Counting.exports == 0, "a folder as the last checkout left it is judged from its listing (and manifest) alone"


def test_status_shows_both_directions_conflicts_and_the_helpers_against_what_checkout_writes(synced, backend):
    (synced.source_dir / "PrepareData.py").write_text(HEADER + "print('local')\n")
    (synced.source_dir / "New.py").write_text(HEADER + "print('new')\n")
    (synced.source_dir / "data.csv").unlink()
    ui_edit(backend, "ModelTraining.py", HEADER + "print('ui')\n")
    ui_edit(backend, "reports/Weekly.py", HEADER + "print('ui')\n")
    (synced.source_dir / "reports" / "Weekly.py").write_text(HEADER + "print('mine')\n")
    ui_edit(backend, "Scratch.py", HEADER + "print('scratch')\n")
    assert status_lines(synced, backend) == [
        " M ModelTraining.py", "A  New.py", "M  PrepareData.py", " A Scratch.py", "D  data.csv",
        "MM reports/Weekly.py (conflict)",
    ]
    # the committed set_environment selects dev: with another env, checkout would rewrite it
    assert status_lines(synced, backend, env="ci") == [
        " M ModelTraining.py", "A  New.py", "M  PrepareData.py", " A Scratch.py", "D  data.csv",
        "MM reports/Weekly.py (conflict)", "M  set_environment.py (helper notebook: checkout rewrites it)",
    ]


def test_status_of_a_folder_never_synced_compares_contents(project, backend, console):
    backend.mkdirs(TARGET)
    for item in desired_items(project.source_dir, env="dev", libraries=None):
        backend.mkdirs(f"{TARGET}/{item.remote_rel}".rsplit("/", 1)[0])
        backend.import_object(f"{TARGET}/{item.import_rel}", item.content, format="AUTO", overwrite=True)
    ui_edit(backend, "PrepareData.py", HEADER + "print('differs')\n")
    assert status_lines(project, backend) == ["?? PrepareData.py (no sync record; the contents differ)"]


def test_status_of_a_missing_folder_is_refused(project, backend):
    with pytest.raises(UserInputError, match="does not exist"):
        status_lines(project, backend)


def test_pull_brings_workspace_edits_in_and_the_next_checkout_sends_nothing(synced, backend, console):
    ui_edit(backend, "ModelTraining.py", HEADER + "print('fixed on the cluster')\n")
    ui_edit(backend, "Scratch.py", HEADER + "print('scratch')\n")
    backend.delete(f"{TARGET}/data.csv")
    ui_edit(backend, "set_environment.py", HEADER + "# MAGIC %run ./conf/joe_config\n")  # a helper: never pulled
    plan, result = pull(synced, backend, console)
    assert sorted(result.written) == ["ModelTraining.py", "Scratch.py"] and result.deleted == ["data.csv"]
    assert (synced.source_dir / "ModelTraining.py").read_text() == HEADER + "print('fixed on the cluster')\n"
    assert (synced.source_dir / "Scratch.py").read_text() == HEADER + "print('scratch')\n"
    assert not (synced.source_dir / "data.csv").exists()
    assert (synced.source_dir / "set_environment.py").read_text() == HEADER + "# MAGIC %run ./conf/dev_config\n"
    assert sorted(result.kept) == ["ModelTraining.py", "data.csv"]  # the local versions it replaced, kept first
    assert result.recorded
    items = desired_items(synced.source_dir, env="joe", libraries=None)
    assert [item.remote_rel for item in plan_sync(backend, items, TARGET).uploads] == ["set_environment"], \
        "the manifest records the pulled state: a checkout sends nothing for the pulled files (the helper is rewritten)"


def test_a_conflict_is_refused_unless_theirs_or_ours(synced, backend, console):
    (synced.source_dir / "PrepareData.py").write_text(HEADER + "print('mine')\n")
    ui_edit(backend, "PrepareData.py", HEADER + "print('theirs')\n")
    ui_edit(backend, "ModelTraining.py", HEADER + "print('ui')\n")
    with pytest.raises(UserInputError, match="changed on both sides: PrepareData.py; nothing was pulled"):
        pull(synced, backend, console)
    assert (synced.source_dir / "ModelTraining.py").read_text() != HEADER + "print('ui')\n", "a refusal pulls nothing"

    plan, _ = pull(synced, backend, console, resolve=OURS)
    assert "conflict PrepareData.py (MM: the working copy's version wins)" in describe_pull(plan)
    assert (synced.source_dir / "PrepareData.py").read_text() == HEADER + "print('mine')\n"
    assert status_lines(synced, backend) == ["M  PrepareData.py"], "ours: the next checkout sends it"

    ui_edit(backend, "PrepareData.py", HEADER + "print('theirs again')\n")
    _, result = pull(synced, backend, console, resolve=THEIRS)
    assert (synced.source_dir / "PrepareData.py").read_text() == HEADER + "print('theirs again')\n"
    assert (synced.root / result.kept["PrepareData.py"]).read_text() == HEADER + "print('mine')\n"
    assert status_lines(synced, backend) == []


def test_pull_keeps_line_endings_and_the_byte_order_mark(synced, backend, console):
    (synced.source_dir / "data.csv").write_bytes(b"\xef\xbb\xbfa,b\r\n1,2\r\n")
    push_source(backend, synced.source_dir, TARGET, env="dev", prune=False, dry_run=False, console=console, keeper=None)
    ui_edit(backend, "data.csv", "a,b\n3,4\n")
    pull(synced, backend, console)
    assert (synced.source_dir / "data.csv").read_bytes() == b"\xef\xbb\xbfa,b\r\n3,4\r\n"
    assert status_lines(synced, backend) == []


def test_pull_never_writes_through_a_symbolic_link(synced, backend, console, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (synced.source_dir / "reports" / "Weekly.py").unlink()
    (synced.source_dir / "reports").rmdir()
    (synced.source_dir / "reports").symlink_to(outside)
    ui_edit(backend, "reports/Weekly.py", HEADER + "print('ui')\n")
    with pytest.raises(UserInputError, match="symbolic link"):
        pull(synced, backend, console)
    assert list(outside.iterdir()) == []


def test_pull_skips_names_it_cannot_write_safely_and_needs_a_record(synced, backend, console, project):
    ui_edit(backend, ".hidden.py", HEADER + "print('hidden')\n")
    plan, result = pull(synced, backend, console)
    assert [(difference.rel, why) for difference, why in plan.skipped] == [
        (".hidden", "checkout would not send it back (a hidden name or a cache)")]
    assert result.written == []
    backend.delete(f"{TARGET}/{MANIFEST_NAME}")
    with pytest.raises(UserInputError, match="has no sync record"):
        pull(synced, backend, console)
