"""status and pull on a real local backend: the sync manifest as the common ancestor, both ways."""
from __future__ import annotations

import dataclasses
import os
import time

import pytest

from bricktasks.backends.base import ObjectInfo, ObjectType
from bricktasks.errors import UserInputError
from bricktasks.workspace.checkout import push_source
from bricktasks.workspace.helpers import desired_items
from bricktasks.workspace.overwritten import Keeper
from bricktasks.workspace.pull import OURS, THEIRS, apply_pull, describe_pull, plan_pull
from bricktasks.workspace.status import folder_status, format_status
from bricktasks.workspace.sync import MANIFEST_NAME, plan_sync, survey

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


def with_objects(backend, *infos):
    """The folder's survey with more objects in it, as a real workspace may list them (the local
    backend keeps notebook `a` as the disk file `a.py`, so it cannot hold both `a` and a file `a.py`)."""
    destination = survey(backend, TARGET)
    return dataclasses.replace(destination, objects={**destination.objects, **{info.path[len(TARGET) + 1:]: info for info in infos}})


def test_two_workspace_objects_that_become_one_local_file_are_neither_pulled(synced, backend, console):
    destination = with_objects(backend, ObjectInfo(f"{TARGET}/Twin", ObjectType.NOTEBOOK, language="PYTHON", object_id=1),
                               ObjectInfo(f"{TARGET}/Twin.py", ObjectType.FILE, size=3, object_id=2))
    plan = plan_pull(backend, synced.source_dir, TARGET, env="dev", libraries=None, resolve=THEIRS, destination=destination)
    assert sorted((d.rel, why) for d, why in plan.skipped) == [
        ("Twin", "the workspace's notebook Twin and file Twin.py would both be the local file Twin.py"),
        ("Twin.py", "the workspace's notebook Twin and file Twin.py would both be the local file Twin.py"),
    ]
    assert plan.writes == () and not (synced.source_dir / "Twin.py").exists()


@pytest.mark.parametrize("name, why", [
    ("N" * 253, "a part of its local name is longer than 255 bytes"),  # + ".py": Linux holds 255 bytes per name
    ("data.csv/inner", "data.csv is a local file (or link), where its folder would go"),
    ("reports", "a local file or folder of that name is in the way"),
    ("bidi\u202eyp.txt", "its name holds control or invisible characters"),
    ("trailing.txt ", "a part of its name starts or ends with whitespace"),
])
def test_a_workspace_name_the_working_copy_cannot_hold_as_it_is_is_skipped(synced, backend, name, why):
    kind = ObjectType.NOTEBOOK if name.startswith("N") else ObjectType.FILE
    destination = with_objects(backend, ObjectInfo(f"{TARGET}/{name}", kind, language="PYTHON" if kind is ObjectType.NOTEBOOK else None))
    plan = plan_pull(backend, synced.source_dir, TARGET, env="dev", libraries=None, resolve=None, destination=destination)
    [(difference, reason)] = plan.skipped
    assert difference.rel == name and reason.startswith(why)


def test_a_colon_in_a_name_is_pulled_as_it_is(synced, backend, console):
    ui_edit(backend, "notes: monday.txt", "agenda\n")
    _, result = pull(synced, backend, console)
    assert result.written == ["notes: monday.txt"] and (synced.source_dir / "notes: monday.txt").read_text() == "agenda\n"


def test_a_file_changed_here_after_the_plan_is_left_alone(synced, backend, console):
    ui_edit(backend, "PrepareData.py", HEADER + "print('ui')\n")
    plan = plan_pull(backend, synced.source_dir, TARGET, env="dev", libraries=None, resolve=None)
    (synced.source_dir / "PrepareData.py").write_text(HEADER + "print('saved in the editor meanwhile')\n")
    result = apply_pull(backend, synced.source_dir, plan, keeper=Keeper(synced.root, "working-copy/BI-7"), console=console)
    assert result.written == [] and result.left == ["PrepareData.py"] and not result.recorded
    assert (synced.source_dir / "PrepareData.py").read_text() == HEADER + "print('saved in the editor meanwhile')\n"
    assert status_lines(synced, backend) == ["MM PrepareData.py (conflict)"]


def test_the_same_edit_on_both_sides_is_no_conflict_and_is_only_recorded(synced, backend, console):
    (synced.source_dir / "data.csv").write_bytes(b"a,b\r\n5,6\r\n")  # the same edit, in the local file's line endings
    ui_edit(backend, "data.csv", "a,b\n5,6\n")
    assert status_lines(synced, backend) == [], "the same text on both sides"
    plan, result = pull(synced, backend, console)
    assert plan.conflicts == () and [d.rel for d in plan.same] == ["data.csv"] and result.written == [] and result.recorded
    assert (synced.source_dir / "data.csv").read_bytes() == b"a,b\r\n5,6\r\n"
    items = desired_items(synced.source_dir, env="dev", libraries=None)
    assert plan_sync(backend, items, TARGET).uploads == [], "recorded with the working copy's hash: the next checkout sends nothing"


def test_pulled_files_get_the_usual_mode_and_no_temporary_is_left(synced, backend, console):
    ui_edit(backend, "Scratch.py", HEADER + "print('new')\n")
    pull(synced, backend, console)
    umask = os.umask(0o022)
    os.umask(umask)
    assert (synced.source_dir / "Scratch.py").stat().st_mode & 0o777 == 0o666 & ~umask
    assert list((synced.root / ".bricktasks" / "pulling").iterdir()) == []


def test_a_workspace_file_holding_a_notebooks_source_is_not_pulled(synced, backend, console):
    """A real workspace holds a FILE lib.py reading as a notebook (a RAW import); the local backend
    would list it as notebook `lib`, so the listing and export of that one object are a real workspace's."""
    source = (HEADER + "X = 1\n").encode()

    class Workspace(type(backend)):
        def export(self, path, **kwargs):
            return source if path == f"{TARGET}/lib.py" else super().export(path, **kwargs)

    workspace = Workspace(backend.paths.root)
    destination = with_objects(backend, ObjectInfo(f"{TARGET}/lib.py", ObjectType.FILE, size=len(source), object_id=9))
    plan = plan_pull(workspace, synced.source_dir, TARGET, env="dev", libraries=None, resolve=None, destination=destination)
    result = apply_pull(workspace, synced.source_dir, plan, keeper=Keeper(synced.root, "working-copy/BI-7"), console=console)
    assert result.left == ["lib.py"] and not (synced.source_dir / "lib.py").exists()
