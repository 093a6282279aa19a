"""`invoke checkout BI-1 --watch` (issue 15 item 4), the real watcher in a real invoke process.

Over the emulator (the real SDK over HTTP, file-system events): an edit, a new notebook, a rename
and a deletion (--prune) reach the workspace; a file holding a credential is not uploaded and the
watch goes on; an edit made in the workspace (through the SDK) is kept before the watch writes over
it; no sync lists a folder again (the emulator's request log); SIGINT ends it with exit 0, the
manifest written, so a later `invoke checkout BI-1` sends nothing; SIGINT while an upload is in
flight lets it finish and records it. On the local backend, with polling forced
(WATCHFILES_FORCE_POLLING): an edit arrives, SIGTERM ends it with 143 and one line.
"""
from __future__ import annotations

import signal

import pytest
from e2e_helpers import HEADER, SENTINEL_TOKEN, WORKSPACE_ROOT, is_write, wait_until

from bricktasks.backends.local import LocalBackend
from bricktasks.errors import NotFound
from bricktasks.testing.emulator import EmulatorProcess, client_environment, workspace_client
from bricktasks.testing.lines import Lines
from bricktasks.workspace.overwritten import KEEP_FOLDER
from bricktasks.workspace.sync import CLAIM_PREFIX, MANIFEST_NAME

FOLDER = f"{WORKSPACE_ROOT}/BI-1"
TOKEN_LINE = 'api_token = "dapi' + "0123456789abcdef" * 2 + '"\n'  # the scan's Databricks token shape, not the sentinel
DEADLINE_S = 10


def holding(workspace: LocalBackend, rel: str, text: str | None) -> bool:
    """Whether the folder holds `rel` with `text` in it (None: does not hold `rel`)."""
    try:
        content = workspace.export(f"{FOLDER}/{rel}")
    except (NotFound, OSError):
        return text is None
    return text is not None and text.encode() in content


def wait_for_workspace(workspace: LocalBackend, rel: str, text: str | None) -> None:
    wait_until(lambda: holding(workspace, rel, text), timeout=DEADLINE_S, interval=0.02)


class Watch:
    """`invoke checkout BI-1 --watch ...` started in the project copy, its lines read as they come."""

    def __init__(self, project, *flags: str, env: dict[str, str]) -> None:
        self.project = project
        self.process = project.start("checkout", "BI-1", "--watch", *flags, env=env)
        self.out, self.err = Lines(self.process.stdout), Lines(self.process.stderr)
        self.out.wait_for("watching forecasting/", timeout=60)

    def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.process.kept = True  # read here, not by communicate()
            self.project.outputs += [self.out.join(), self.err.join()]  # for the end-of-test secret check
        return code


@pytest.fixture
def emulator(tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as running:
        yield running


def test_watch_over_the_emulator_syncs_each_change_keeps_edits_refuses_a_credential_and_stops_on_sigint(project, emulator):
    env = client_environment(emulator.url, SENTINEL_TOKEN)
    workspace = LocalBackend(emulator.root)
    source = project.source
    watch = Watch(project, "--prune", env=env)
    started = len(emulator.requests())

    (source / "PrepareData.py").write_text((source / "PrepareData.py").read_text() + "\nprint('edit 1')\n")
    wait_for_workspace(workspace, "PrepareData", "edit 1")
    watch.out.wait_for("synced 1", timeout=DEADLINE_S)  # its line comes after the get-status that follows the upload
    first_sync = emulator.requests()[started:]

    (source / "Helpers.py").write_text(HEADER + "print('a new notebook')\n")
    wait_for_workspace(workspace, "Helpers", "a new notebook")

    (source / "Evaluate.py").rename(source / "Evaluation.py")
    wait_for_workspace(workspace, "Evaluation", "Databricks notebook source")
    wait_for_workspace(workspace, "Evaluate", None)

    (source / "ModelTraining.py").unlink()
    wait_for_workspace(workspace, "ModelTraining", None)

    (source / "leaky.py").write_text(TOKEN_LINE)
    watch.err.wait_for("not uploaded forecasting/leaky.py: line 1 looks like a Databricks token", timeout=DEADLINE_S)
    # someone fixes PrepareData on the cluster, then the developer saves theirs: the fix is kept first
    from databricks.sdk.service.workspace import ImportFormat, Language

    workspace_client(emulator.url, SENTINEL_TOKEN).workspace.upload(
        f"{FOLDER}/PrepareData", (HEADER + "print('fixed on the cluster')\n").encode(), format=ImportFormat.SOURCE,
        language=Language.PYTHON, overwrite=True,
    )
    (source / "PrepareData.py").write_text((source / "PrepareData.py").read_text() + "\nprint('edit 2')\n")
    wait_for_workspace(workspace, "PrepareData", "edit 2")  # the watch went on after the refusal
    assert holding(workspace, "leaky.py", None)
    watched = emulator.requests()[started:]

    assert watch.stop(signal.SIGINT) == 0, watch.err.text()
    synced = [line for line in watch.out.lines if line.startswith("synced")]
    assert [line.split(": ", 1)[1] for line in synced] == [
        "uploaded PrepareData.py", "uploaded Helpers.py", "uploaded Evaluation.py; deleted Evaluate.py",
        "deleted ModelTraining.py", "uploaded PrepareData.py"], watch.out.text()
    assert "stopped watching forecasting/ after 5 syncs" in watch.out.text()
    kept = list((project.root / KEEP_FOLDER / "BI-1").rglob("PrepareData.py"))
    assert len(kept) == 1 and "fixed on the cluster" in kept[0].read_text()
    assert "overwrote /Projects/forecasting/BI-1/PrepareData, edited in the workspace since the last sync" in watch.err.text()
    assert "0123456789abcdef" not in watch.out.text() + watch.err.text()

    # one edit: get-status of what it may overwrite (the notebook and its file twin) with the claim,
    # the upload, the get-status after it; nothing listed, no manifest yet (it waits for a quiet second)
    assert sorted((request["path"].rsplit("/", 1)[1], request["target"].rsplit("/", 1)[1][:len(CLAIM_PREFIX)])
                  for request in first_sync) == sorted([
        ("get-status", "PrepareData"), ("get-status", "PrepareData.py"), ("import", CLAIM_PREFIX),
        ("import", "PrepareData"), ("get-status", "PrepareData")])
    lists = [request["target"] for request in watched if request["path"].endswith("/workspace/list")]
    assert set(lists) <= {FOLDER}, lists  # only the manifest's race check lists the folder, never a sync
    refused = [request for request in watched if request["status"] is None or request["status"] >= 300]
    # nothing failed or was retried: the only answers not 200 are get-status of what is not there (a twin, a new file)
    assert {(request["path"], request["status"]) for request in refused} <= {("/api/2.0/workspace/get-status", 404)}, refused

    manifest = workspace.export(f"{FOLDER}/{MANIFEST_NAME}").decode()
    assert '"Evaluation"' in manifest and '"Helpers"' in manifest and '"ModelTraining"' not in manifest
    assert not [info for info in workspace.list(FOLDER) if CLAIM_PREFIX in info.path]
    (source / "leaky.py").unlink()
    before = len(emulator.requests())
    again = project.invoke("checkout", "BI-1", env=env)
    assert again.returncode == 0 and "uploaded 0," in again.stdout, again.stdout + again.stderr
    assert [request for request in emulator.requests()[before:] if is_write(request)] == []


def test_sigint_while_an_upload_is_in_flight_finishes_it_and_writes_the_manifest(project, tmp_path):
    with EmulatorProcess(tmp_path / "slow", token=SENTINEL_TOKEN, latency_ms=150) as slow:
        env = client_environment(slow.url, SENTINEL_TOKEN)
        watch = Watch(project, env=env)
        started = len(slow.requests())
        (project.source / "PrepareData.py").write_text((project.source / "PrepareData.py").read_text() + "\nprint('in flight')\n")
        # the get-status of what it may overwrite are answered: the upload is on its way (150 ms)
        wait_until(lambda: len([r for r in slow.requests()[started:] if r["path"].endswith("/get-status")]) >= 2,
                   timeout=DEADLINE_S, interval=0.01)
        assert watch.stop(signal.SIGINT) == 0, watch.err.text()
        assert holding(LocalBackend(slow.root), "PrepareData", "in flight")
        assert "synced 1" in watch.out.text() and "stopped watching forecasting/ after 1 syncs" in watch.out.text()
        # the manifest records the upload: had the watch stopped mid-sync, this checkout would send it again
        again = project.invoke("checkout", "BI-1", env=env)
        assert again.returncode == 0 and "uploaded 0," in again.stdout, again.stdout + again.stderr


def test_watch_on_the_local_backend_by_polling_ends_with_143_on_sigterm(project):
    watch = Watch(project, env={"WATCHFILES_FORCE_POLLING": "1"})
    workspace = project.backend()
    (project.source / "PrepareData.py").write_text((project.source / "PrepareData.py").read_text() + "\nprint('polled')\n")
    wait_for_workspace(workspace, "PrepareData", "polled")
    assert watch.stop(signal.SIGTERM) == 143
    errors = [line for line in watch.err.lines if line.startswith("error:")]
    expected = "error: interrupted by SIGTERM; stopped watching forecasting/ after 1 syncs; the manifest is written"
    assert errors == [expected], watch.err.text()
    assert "Traceback" not in watch.err.text()
    again = project.invoke("checkout", "BI-1")
    assert again.returncode == 0 and "uploaded 0," in again.stdout, again.stdout + again.stderr


def test_watch_refuses_dry_run_before_anything_changes(project):
    result = project.invoke("checkout", "BI-1", "--watch", "--dry-run")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == ["error: --watch syncs every change; --dry-run changes nothing; pass one of them"]
    assert not project.local_root.exists() or not (project.local_root / "workspace" / "Projects").exists()
