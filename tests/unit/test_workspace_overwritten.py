"""Nothing lost on overwrite: a sync keeps the workspace's version of what it writes over or prunes
when that object was edited (or made) in the workspace since the last sync."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from bricktasks.backends.base import ObjectInfo, ObjectType
from bricktasks.backends.local import LocalBackend
from bricktasks.errors import UserInputError
from bricktasks.source.items import collect_source
from bricktasks.workspace.overwritten import KEEP_FOLDER, Keeper
from bricktasks.workspace.sync import apply_sync, plan_sync

HEADER = "# Databricks notebook source\n"
TARGET = "/Projects/forecasting/BI-1"


@pytest.fixture
def setup(tmp_path: Path):
    source = tmp_path / "project" / "src"
    (source / "conf").mkdir(parents=True)
    (source / "Train.py").write_text(HEADER + "print('git')\n")
    (source / "conf" / "dev_config.py").write_text(HEADER + "X = 1\n")
    (source / "data.csv").write_text("a\n1\n")
    backend = LocalBackend(tmp_path / "workspace")
    return source, backend, tmp_path / "project"


def sync(backend, source, project_root, *, prune=False, keep=True, now=1_700_000_000.0):
    keeper = Keeper(project_root, "BI-1", now=now)
    plan = plan_sync(backend, collect_source(source), TARGET)
    return apply_sync(backend, plan, prune=prune, keep=keeper.keep if keep else None), keeper


def edit_in_the_workspace(backend, rel: str, content: str) -> None:
    time.sleep(0.01)  # a modification time of its own
    backend.import_object(f"{TARGET}/{rel}", content.encode(), format="AUTO", overwrite=True)


def test_a_workspace_edit_is_kept_before_the_sync_writes_over_it(setup):
    source, backend, root = setup
    sync(backend, source, root)
    edit_in_the_workspace(backend, "Train.py", HEADER + "print('a fix made on the cluster')\n")
    result, keeper = sync(backend, source, root)  # the working copy did not change: the edit alone makes it an upload
    assert result.uploaded == ["Train"]
    assert result.overwritten_edits == ["Train"]
    kept = root / KEEP_FOLDER / "BI-1" / "20231114T221320Z" / "Train.py"
    assert result.kept == {"Train": str(kept.relative_to(root))}
    assert kept.read_text() == HEADER + "print('a fix made on the cluster')\n"
    assert backend.export(f"{TARGET}/Train") == (HEADER + "print('git')\n").encode()  # git's version won, as before
    again, _ = sync(backend, source, root)
    assert again.uploaded == [] and again.overwritten_edits == []


def test_a_synced_object_changed_only_locally_keeps_nothing(setup):
    source, backend, root = setup
    sync(backend, source, root)
    (source / "Train.py").write_text(HEADER + "print('new in git')\n")
    result, _ = sync(backend, source, root)
    assert result.uploaded == ["Train"] and result.overwritten_edits == [] and not (root / ".bricktasks").exists()


def test_a_prune_keeps_what_was_made_in_the_workspace_and_no_prune_touches_nothing(setup):
    source, backend, root = setup
    sync(backend, source, root)
    backend.mkdirs(f"{TARGET}/scratch")
    edit_in_the_workspace(backend, "scratch/Explore.py", HEADER + "display(df)\n")
    kept_back, _ = sync(backend, source, root, prune=False)
    assert kept_back.overwritten_edits == [] and kept_back.extra == ["scratch"]
    pruned, keeper = sync(backend, source, root, prune=True)
    assert pruned.pruned == ["scratch"]
    assert pruned.overwritten_edits == ["scratch/Explore"]
    assert (root / pruned.kept["scratch/Explore"]).read_text() == HEADER + "display(df)\n"
    assert pruned.kept["scratch/Explore"].endswith("BI-1/20231114T221320Z/scratch/Explore.py")


def test_force_keeps_no_copy_but_names_what_it_overwrote(setup):
    source, backend, root = setup
    sync(backend, source, root)
    edit_in_the_workspace(backend, "data.csv", "a\n2\n")
    result, _ = sync(backend, source, root, keep=False)
    assert result.overwritten_edits == ["data.csv"] and result.kept == {}
    assert not (root / ".bricktasks").exists()


def test_an_unrecorded_object_that_already_holds_what_we_send_is_not_copied(setup):
    source, backend, root = setup
    backend.mkdirs(TARGET)
    backend.import_object(f"{TARGET}/data.csv", b"a\n1\n", format="AUTO")  # same content, no manifest yet
    backend.import_object(f"{TARGET}/Train.py", (HEADER + "print('theirs')\n").encode(), format="AUTO")
    result, _ = sync(backend, source, root)
    assert result.overwritten_edits == ["Train"]  # data.csv held our content: nothing to lose


def test_a_symlink_in_the_keep_folder_stops_the_sync_before_any_write(setup, tmp_path):
    source, backend, root = setup
    sync(backend, source, root)
    edit_in_the_workspace(backend, "Train.py", HEADER + "print('edit')\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / ".bricktasks").symlink_to(outside)
    with pytest.raises(UserInputError, match="symbolic link"):
        sync(backend, source, root)
    assert list(outside.iterdir()) == []
    assert backend.export(f"{TARGET}/Train") == (HEADER + "print('edit')\n").encode(), "nothing was overwritten"


@pytest.mark.parametrize("name", ["../escape", "a/../../b", "/abs", "a//b", "a\\b", "nul\0"])
def test_a_name_that_could_escape_the_keep_folder_is_refused(tmp_path, name):
    keeper = Keeper(tmp_path, "BI-1")
    with pytest.raises(UserInputError, match="cannot be kept safely"):
        keeper.keep(name, ObjectInfo(f"{TARGET}/{name}", ObjectType.FILE), b"x")
    assert not any(path.is_file() for path in tmp_path.rglob("*"))


def test_two_copies_in_the_same_second_do_not_replace_each_other(tmp_path):
    first, second = Keeper(tmp_path, "BI-1", now=0), Keeper(tmp_path, "BI-1", now=0)
    info = ObjectInfo(f"{TARGET}/data.csv", ObjectType.FILE)
    assert first.keep("data.csv", info, b"1") != second.keep("data.csv", info, b"2")
    assert sorted(path.read_bytes() for path in tmp_path.rglob("data*.csv")) == [b"1", b"2"]


def test_a_name_this_file_system_cannot_hold_is_one_line_and_nothing_is_written(tmp_path):
    keeper = Keeper(tmp_path, "BI-1")
    with pytest.raises(UserInputError, match="cannot keep a copy of N+ in .*File name too long; it was not overwritten"):
        keeper.keep("N" * 254, ObjectInfo(f"{TARGET}/{'N' * 254}", ObjectType.NOTEBOOK, language="PYTHON"), b"x")  # + .py: 257 bytes
    assert not [path for path in tmp_path.rglob("*") if path.is_file() and path.name != ".gitignore"]


def test_the_state_folder_keeps_itself_out_of_git(tmp_path):
    Keeper(tmp_path, "BI-1", now=0).keep("a.txt", ObjectInfo(f"{TARGET}/a.txt", ObjectType.FILE), b"x")
    assert (tmp_path / ".bricktasks" / ".gitignore").read_text().splitlines()[-1] == "*"
