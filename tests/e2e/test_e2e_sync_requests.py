"""What `invoke checkout` sends, counted in the emulator's request log (issue 5): every file once
into an empty folder, nothing from a fresh clone of the same commit, one import for one changed
notebook, and the one object edited in the workspace since (Git is the source of truth). A sync
that writes also creates and deletes its claim (issue 11: racing syncs learn of each other)."""
from __future__ import annotations

import pytest
from e2e_helpers import HEADER, SENTINEL_TOKEN, WORKSPACE_ROOT, is_write

from bricktasks.source.items import collect_source
from bricktasks.testing.emulator import EmulatorProcess, workspace_client
from bricktasks.workspace.sync import CLAIM_PREFIX, MANIFEST_NAME

FOLDER = f"{WORKSPACE_ROOT}/BI-77"
IMPORT = "/api/2.0/workspace/import"


@pytest.fixture
def emulator(tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as running:
        yield running


def checkout(copy, emulator) -> list[dict]:
    """Run `invoke checkout BI-77` in `copy`; the write requests it made."""
    (copy.root / ".env").write_text(f"DATABRICKS_HOST={emulator.url}\nDATABRICKS_TOKEN={SENTINEL_TOKEN}\n")
    before = len(emulator.requests())
    result = copy.invoke("checkout", "BI-77")
    assert result.returncode == 0, result.stdout + result.stderr
    return [request for request in emulator.requests()[before:] if is_write(request)]


def claims(writes: list[dict]) -> list[dict]:
    return [request for request in writes if CLAIM_PREFIX in request["target"]]


def imported(writes: list[dict]) -> list[str]:
    """The objects imported, but the sync's claim: one created and one deleted by every sync that writes."""
    made = claims(writes)
    assert [request["path"] for request in made] in ([], [IMPORT, "/api/2.0/workspace/delete"]), made
    return sorted(request["target"][len(FOLDER) + 1:] for request in writes if request["path"] == IMPORT and request not in made)


def test_checkout_sends_only_what_changed(project, tmp_path, emulator):
    files = [item.remote_rel for item in collect_source(project.source)]

    first = checkout(project, emulator)
    assert imported(first) == sorted([*files, MANIFEST_NAME])
    assert [r for r in first if r["status"] is None or r["status"] >= 300] == []  # nothing retried or refused

    clone = project.clone(tmp_path / "clone")  # same commit, new modification times, no state of its own
    assert checkout(clone, emulator) == []

    notebook = clone.source / "PrepareData.py"
    notebook.write_text(notebook.read_text() + "\n# COMMAND ----------\n\nprint('one more cell')\n")
    changed = checkout(clone, emulator)
    assert imported(changed) == sorted(["PrepareData", MANIFEST_NAME])
    assert len(changed) == 2 + len(claims(changed)) == 4

    # someone edits a notebook in the workspace UI: the next checkout puts Git's version back
    from databricks.sdk.service.workspace import ImportFormat, Language

    workspace_client(emulator.url, SENTINEL_TOKEN).workspace.upload(
        f"{FOLDER}/conf/ci_config", (HEADER + "EDITED = True\n").encode(), format=ImportFormat.SOURCE,
        language=Language.PYTHON, overwrite=True,
    )
    assert imported(checkout(clone, emulator)) == sorted(["conf/ci_config", MANIFEST_NAME])
