"""checkout --watch: the pure part (a burst of events -> the files to read again -> what may be
sent, the sync's line, when the manifest is written, when a failed sync is tried again) and the
watch loop itself on a real local backend, fed a scripted burst source instead of watchfiles (the
end-to-end test runs the real watcher)."""
from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bricktasks.backends.local import LocalBackend
from bricktasks.console.console import Console
from bricktasks.errors import NotFound, TransientError
from bricktasks.source.items import collect_source, is_sent, source_item
from bricktasks.workspace.overwritten import KEEP_FOLDER, Keeper
from bricktasks.workspace.sync import CLAIM_PREFIX, MANIFEST_NAME, apply_sync, plan_sync, read_manifest
from bricktasks.workspace.watch import watch_folder
from bricktasks.workspace.watch_changes import (
    EVERYTHING,
    Backoff,
    Bookkeeping,
    admit,
    changed_paths,
    objects_to_check,
    sync_line,
    to_reconsider,
)

HEADER = "# Databricks notebook source\n"
TARGET = "/Projects/forecasting/BI-1"
TOKEN_LINE = 'token = "dapi' + "0123456789abcdef" * 2 + '"\n'  # the scan's Databricks token shape; not a real one


# -- a burst of events -> paths -----------------------------------------------------------------------

def test_a_save_as_rename_burst_is_one_set_of_paths_and_what_is_never_sent_is_dropped():
    root = "/w/src"
    burst = {  # vim's save: a probe file, the swap file, the rename over the original; a cache; elsewhere
        ("added", "/w/src/4913"), ("deleted", "/w/src/4913"), ("modified", "/w/src/.Train.py.swp"),
        ("deleted", "/w/src/Train.py"), ("added", "/w/src/Train.py"), ("added", "/w/src/__pycache__/Train.cpython-311.pyc"),
        ("modified", "/w/src/conf/.gitignore"), ("added", "/w/other/x.py"), ("added", "/w/src-copy/x.py"),
    }
    assert changed_paths(burst, root) == {"4913", "Train.py", "conf/.gitignore"}
    assert changed_paths({("deleted", "/w/src")}, root + "/") == {EVERYTHING}


def test_what_to_read_again_covers_a_folder_rename_and_a_changed_gitignore():
    # `mv old new` is two events, for the folders alone: every file below them is read again
    assert to_reconsider({"old", "new"}, {"old/a.py", "b.py"}, {"new/a.py", "b.py"}) == {"old/a.py", "new/a.py"}
    # a .gitignore now ignoring build.log: the file left the selection (and is pruned with --prune)
    assert to_reconsider({".gitignore"}, {"a.py", "build.log"}, {"a.py"}) == {"build.log"}
    assert to_reconsider({"a.py"}, {"a.py", "b.py"}, {"a.py", "b.py"}) == {"a.py"}
    assert to_reconsider({EVERYTHING}, {"a.py"}, {"b.py"}) == {"a.py", "b.py"}


def test_admit_refuses_a_credential_and_a_collision_with_one_line_each_naming_no_secret():
    base = [source_item("conf/x.py", (HEADER + "X = 1\n").encode())]
    fresh = [
        source_item("Train.py", (HEADER + "print(1)\n").encode()),
        source_item("creds.py", TOKEN_LINE.encode()),
        source_item("conf/x", b"a plain file where the notebook conf/x is"),
    ]
    admitted, refused = admit(base, fresh, label="src")
    assert [item.local_rel for item in admitted] == ["Train.py"]
    assert len(refused) == 2
    assert refused[0].startswith("not uploaded src/creds.py: line 1 looks like a Databricks token")
    assert "0123456789abcdef" not in " ".join(refused)
    assert "src/conf/x" in refused[1] and "would both be conf/x" in refused[1]


def test_the_objects_a_sync_may_write_over_include_the_other_type_twin():
    assert objects_to_check(["Train.py", "data.csv", "q.sql"]) == {"Train.py", "Train", "data.csv", "q.sql", "q"}


def test_one_line_per_sync_and_none_for_a_sync_that_wrote_nothing():
    assert sync_line(uploaded=[], deleted=[], replaced=[], seconds=0.1) is None
    assert sync_line(uploaded=["b.py", "a.py"], deleted=["old.py"], replaced=[], seconds=0.213) == (
        "synced 3 in 0.21 s: uploaded a.py, b.py; deleted old.py")
    many = sync_line(uploaded=[f"n{number}.py" for number in range(8)], deleted=[], replaced=[], seconds=1)
    assert many is not None and many.endswith("n4.py and 3 more") and "\x1b" not in sync_line(
        uploaded=["a\x1b[2J.py"], deleted=[], replaced=[], seconds=0)  # type: ignore[operator]


def test_the_manifest_waits_for_a_quiet_second_or_a_minute_of_edits():
    book = Bookkeeping(quiet_s=1.0, max_age_s=60.0)
    assert not book.due(0.0)
    book.wrote(10.0)
    assert not book.due(10.5) and book.due(11.0)
    for second in range(11, 70):  # an edit every second, never quiet for long
        book.wrote(second + 0.5)
        assert book.due(second + 0.9) == (second + 0.9 - 10.0 >= 60.0)
    book.done()
    assert not book.due(1000.0)


def test_a_failed_sync_is_tried_again_later_and_later_then_at_once_after_a_success():
    backoff = Backoff()
    assert backoff.due(0.0)
    assert [backoff.failed(0.0) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert not backoff.due(29.0) and backoff.due(30.0)
    backoff.succeeded()
    assert backoff.due(0.0) and backoff.failed(0.0) == 1


# -- the watch loop on a local backend ------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path: Path):
    project = tmp_path / "project"
    source = project / "src"
    (source / "conf").mkdir(parents=True)
    (source / "Train.py").write_text(HEADER + "print('v1')\n")
    (source / "Old.py").write_text(HEADER + "print('old')\n")
    (source / "conf" / "dev_config.py").write_text(HEADER + "X = 1\n")
    (source / "data.csv").write_text("a\n1\n")
    backend = LocalBackend(tmp_path / "workspace")
    apply_sync(backend, plan_sync(backend, collect_source(source), TARGET))  # the first sync: the checkout
    return project, source, backend


def run_watch(backend, source: Path, steps: list[Callable[[], list[Path]]], *, prune: bool, keeper_for=None):
    """watch_folder with a burst source that runs each step (file changes, returning the paths it
    touched) and delivers them as one burst, with quiet ticks between, then Ctrl-C."""
    out, err = io.StringIO(), io.StringIO()
    console = Console(stream=out, error_stream=err, terminal=False)

    def bursts(root: Path, _console: Console):
        yield set()  # the watcher is running
        for step in steps:
            yield {("changed", str(root / path)) for path in step()}
            time.sleep(0.05)
            yield set()
        raise KeyboardInterrupt

    code = watch_folder(backend, source, TARGET, prune=prune, console=console, keeper_for=keeper_for, bursts=bursts)
    return code, out.getvalue(), err.getvalue()


def workspace_files(backend: LocalBackend) -> dict[str, bytes]:
    found = {}
    def walk(path: str) -> None:
        for info in backend.list(path):
            if info.object_type.value == "DIRECTORY":
                walk(info.path)
            else:
                found[info.path[len(TARGET) + 1:]] = backend.export(info.path)
    walk(TARGET)
    return found


def nothing_to_send(backend, source: Path) -> bool:
    plan = plan_sync(backend, collect_source(source), TARGET)
    return not plan.uploads and not plan.replaced and not plan.folders


def test_edits_creations_renames_and_deletions_reach_the_workspace_and_the_manifest_records_them(folder):
    _, source, backend = folder

    def edit():
        (source / "Train.py").write_text(HEADER + "print('v2')\n")
        return [Path("Train.py")]

    def create():
        (source / "new").mkdir()
        (source / "new" / "Extra.py").write_text(HEADER + "print('extra')\n")
        return [Path("new")]

    def rename():
        (source / "data.csv").rename(source / "table.csv")
        return [Path("data.csv"), Path("table.csv")]

    def delete():
        (source / "Old.py").unlink()
        return [Path("Old.py")]

    code, out, err = run_watch(backend, source, [edit, create, rename, delete], prune=True)
    assert code == 0, err
    held = workspace_files(backend)
    assert held["Train"] == (HEADER + "print('v2')\n").encode()
    assert held["new/Extra"] == (HEADER + "print('extra')\n").encode()
    assert "table.csv" in held and "data.csv" not in held and "Old" not in held
    lines = [line for line in out.splitlines() if line.startswith("synced")]
    assert [line.split(": ", 1)[1] for line in lines] == [
        "uploaded Train.py", "uploaded new/Extra.py", "uploaded table.csv; deleted data.csv", "deleted Old.py"]
    assert not [name for name in held if name.startswith(CLAIM_PREFIX)]  # the claim is dropped at exit
    assert nothing_to_send(backend, source)  # the manifest vouches for all of it: a later checkout sends nothing
    assert set(read_manifest(backend, TARGET)) == {"Train", "new/Extra", "table.csv", "conf/dev_config"}


def test_without_prune_a_deletion_leaves_the_object_and_says_so(folder):
    _, source, backend = folder

    def delete():
        (source / "Old.py").unlink()
        return [Path("Old.py")]

    code, out, _ = run_watch(backend, source, [delete], prune=False)
    assert code == 0
    assert "Old" in workspace_files(backend)
    assert "not in the working copy (pass --prune to remove): Old" in out
    assert "synced" not in out


def test_a_workspace_edit_is_kept_before_the_watch_writes_over_it(folder):
    project, source, backend = folder

    def edit_both_sides():
        time.sleep(0.01)
        backend.import_object(f"{TARGET}/Train.py", (HEADER + "print('fixed on the cluster')\n").encode(), format="AUTO", overwrite=True)
        (source / "Train.py").write_text(HEADER + "print('v2')\n")
        return [Path("Train.py")]

    code, out, err = run_watch(backend, source, [edit_both_sides], prune=False,
                               keeper_for=lambda: Keeper(project, "BI-1", now=1_700_000_000.0))
    assert code == 0
    kept = project / KEEP_FOLDER / "BI-1" / "20231114T221320Z" / "Train.py"
    assert kept.read_text() == HEADER + "print('fixed on the cluster')\n"
    assert "overwrote /Projects/forecasting/BI-1/Train, edited in the workspace since the last sync" in err
    assert backend.export(f"{TARGET}/Train") == (HEADER + "print('v2')\n").encode()


def test_a_credential_is_never_uploaded_and_the_watch_goes_on(folder):
    _, source, backend = folder

    def leak():
        (source / "creds.py").write_text(TOKEN_LINE)
        (source / "Train.py").write_text(HEADER + TOKEN_LINE)  # a synced file that now holds one
        return [Path("creds.py"), Path("Train.py")]

    def then_edit():
        (source / "conf" / "dev_config.py").write_text(HEADER + "X = 2\n")
        return [Path("conf/dev_config.py")]

    code, out, err = run_watch(backend, source, [leak, then_edit], prune=True)
    assert code == 0
    held = workspace_files(backend)
    assert "creds.py" not in held and held["Train"] == (HEADER + "print('v1')\n").encode()  # not pruned either
    assert held["conf/dev_config"] == (HEADER + "X = 2\n").encode()
    assert err.count("looks like a Databricks token") == 2 and "0123456789abcdef" not in out + err
    assert "synced 1" in out


class FlakyBackend(LocalBackend):
    """A local backend whose next imports fail as an unreachable workspace does (after retries)."""

    failures = 0

    def import_object(self, path: str, content: bytes, **options) -> None:
        if MANIFEST_NAME not in path and self.failures > 0:
            self.failures -= 1
            raise TransientError("the workspace did not answer (503)")
        super().import_object(path, content, **options)


def test_a_transient_failure_is_tried_again_and_the_watch_goes_on(tmp_path):
    source = tmp_path / "project" / "src"
    source.mkdir(parents=True)
    (source / "Train.py").write_text(HEADER + "print('v1')\n")
    backend = FlakyBackend(tmp_path / "workspace")
    backend.failures = 0
    apply_sync(backend, plan_sync(backend, collect_source(source), TARGET))
    backend.failures = 1  # the next sync's first write (its claim) fails

    def edit():
        (source / "Train.py").write_text(HEADER + "print('v2')\n")
        return [Path("Train.py")]

    def wait_for_the_retry():
        time.sleep(1.1)  # the first retry comes after 1 s
        return []

    code, out, err = run_watch(backend, source, [edit, wait_for_the_retry], prune=False)
    assert code == 0, err
    assert "sync failed: the workspace did not answer (503); trying again in 1 s (watching goes on)" in err
    assert backend.export(f"{TARGET}/Train") == (HEADER + "print('v2')\n").encode()
    assert "synced 1" in out and nothing_to_send(backend, source)


def test_nothing_changed_prints_nothing_and_writes_nothing(folder):
    _, source, backend = folder
    before = read_manifest(backend, TARGET)

    def touch():
        (source / "Train.py").write_text((source / "Train.py").read_text())  # saved, same content
        (source / "__pycache__").mkdir()
        (source / "__pycache__" / "x.pyc").write_bytes(b"\0")
        return [Path("Train.py"), Path("__pycache__/x.pyc")]

    code, out, _ = run_watch(backend, source, [touch], prune=True)
    assert code == 0 and "synced" not in out
    assert read_manifest(backend, TARGET) == before
    with pytest.raises(NotFound):
        backend.get_status(f"{TARGET}/__pycache__")


def test_the_selection_for_some_paths_is_the_whole_selection_restricted_to_them(tmp_path):
    import subprocess

    from bricktasks.source.files import select_files

    source = tmp_path / "src"
    (source / "a*b").mkdir(parents=True)
    (source / "a*b" / "x.py").write_text("x")
    (source / "ab").mkdir()
    (source / "ab" / "y.py").write_text("y")  # `a*b` as a pattern would match it
    (source / "build.log").write_text("log")
    (source / ".gitignore").write_text("*.log\n")
    (source / "kept.py").write_text("k")
    for tree in ("walk", "git"):
        if tree == "git":
            subprocess.run(["git", "init", "-q"], cwd=source, check=True)
        assert select_files(source, keep=is_sent) == ["a*b/x.py", "ab/y.py", "kept.py"], tree
        assert select_files(source, keep=is_sent, only=["a*b", "build.log", "gone.py"]) == ["a*b/x.py"], tree
        assert select_files(source, keep=is_sent, only=[]) == [], tree


def test_a_folder_renamed_in_a_git_work_tree_moves_in_the_workspace(folder):
    import subprocess

    _, source, backend = folder
    subprocess.run(["git", "init", "-q"], cwd=source, check=True)

    def rename():
        (source / "conf").rename(source / "settings")
        return [Path("conf"), Path("settings")]

    code, out, _ = run_watch(backend, source, [rename], prune=True)
    assert code == 0
    held = workspace_files(backend)
    assert "settings/dev_config" in held and not [name for name in held if name.startswith("conf")]
    assert "uploaded settings/dev_config.py; deleted conf" in out
    assert nothing_to_send(backend, source)


def test_the_poller_sees_every_rewrite_addition_and_deletion_and_enters_no_cache(tmp_path):
    from bricktasks.workspace.watch_poll import differences, snapshot

    (tmp_path / "a.py").write_text("1")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.pyc").write_bytes(b"0")
    before = snapshot(tmp_path)
    assert str(tmp_path / "__pycache__" / "a.pyc") not in before
    for number in range(2, 5):  # rewritten in place with the same size, each after a clock tick of the file system
        time.sleep(0.02)
        (tmp_path / "a.py").write_text(str(number))
        after = snapshot(tmp_path)
        assert differences(before, after) == {("modified", str(tmp_path / "a.py"))}
        before = after
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    assert differences(before, snapshot(tmp_path)) == {("deleted", str(tmp_path / "a.py")), ("added", str(tmp_path / "b.py"))}


def test_polling_follows_watchfiles_documented_switch():
    from bricktasks.workspace.watch import polling_asked

    assert polling_asked({"WATCHFILES_FORCE_POLLING": "1"})
    assert not polling_asked({"WATCHFILES_FORCE_POLLING": "false"}) and not polling_asked({"WATCHFILES_FORCE_POLLING": "disable"})


def test_a_folder_pruned_under_watch_keeps_what_was_made_in_it_in_the_workspace_first(folder):
    import shutil

    project, source, backend = folder

    def delete_the_folder():  # after the watch read the folder: only the listing before the delete shows the note
        backend.import_object(f"{TARGET}/conf/ui_note.py", (HEADER + "print('made in the UI')\n").encode(), format="AUTO")
        shutil.rmtree(source / "conf")
        return [Path("conf")]

    code, out, err = run_watch(backend, source, [delete_the_folder], prune=True,
                               keeper_for=lambda: Keeper(project, "BI-1", now=1_700_000_000.0))
    assert code == 0
    assert not [name for name in workspace_files(backend) if name.startswith("conf")]
    kept = project / KEEP_FOLDER / "BI-1" / "20231114T221320Z" / "conf" / "ui_note.py"
    assert kept.read_text() == HEADER + "print('made in the UI')\n"
    assert "deleted /Projects/forecasting/BI-1/conf/ui_note, edited in the workspace since the last sync" in err


class FlakyManifest(LocalBackend):
    """A local backend whose next manifest writes fail as an unreachable workspace does."""

    failures = 0

    def import_object(self, path: str, content: bytes, **options) -> None:
        if path.endswith(MANIFEST_NAME) and self.failures > 0:
            self.failures -= 1
            raise TransientError("the workspace did not answer (503)")
        super().import_object(path, content, **options)


def test_a_manifest_write_that_fails_after_a_quiet_second_is_tried_again_and_the_watch_goes_on(tmp_path):
    source = tmp_path / "project" / "src"
    source.mkdir(parents=True)
    (source / "Train.py").write_text(HEADER + "print('v1')\n")
    backend = FlakyManifest(tmp_path / "workspace")
    apply_sync(backend, plan_sync(backend, collect_source(source), TARGET))
    backend.failures = 1

    def edit():
        (source / "Train.py").write_text(HEADER + "print('v2')\n")
        return [Path("Train.py")]

    def quiet():
        time.sleep(1.1)
        return []

    code, _, err = run_watch(backend, source, [edit, quiet, quiet], prune=False)
    assert code == 0, err
    assert "the manifest was not written: the workspace did not answer (503); trying again in 1 s" in err
    assert nothing_to_send(backend, source)
    assert not [info for info in backend.list(TARGET) if CLAIM_PREFIX in info.path]
