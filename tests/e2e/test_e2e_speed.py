"""What a checkout of a few hundred files costs, counted, never timed (issue 15): a no-op from a
fresh clone is one listing per folder plus a few reads and writes nothing; one changed file is one
import; and the task's process imports only what it needs (`PYTHONPROFILEIMPORTTIME`, the variable
form of `python -X importtime`, names every module the real subprocess imported).
benchmarks/run.py (`--only startup,big`) measures the same at 5,000 files, with times."""
from __future__ import annotations

import posixpath

import pytest
from e2e_helpers import HEADER, SENTINEL_TOKEN, is_write

from bricktasks.source.items import collect_source
from bricktasks.testing.emulator import EmulatorProcess
from bricktasks.workspace.sync import CLAIM_PREFIX, MANIFEST_NAME

MODULES, NOTEBOOKS = 12, 300  # generated notebooks, in that many new folders
IMPORT = "/api/2.0/workspace/import"
# needed by other tasks (or a terminal) only: a checkout over the SDK never imports them
NOT_IMPORTED = [
    "pyspark", "rich", "markdown", "mlflow", "pandas", "bricktasks.runtime", "bricktasks.emulator", "bricktasks.report",
    "bricktasks.ci.pipeline", "bricktasks.libraries.build",
    "databricks.sdk.service.jobs", "databricks.sdk.service.compute", "databricks.sdk.service.catalog",  # the SDK's aggregate
]


@pytest.fixture
def emulator(tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as running:
        yield running


def generate(source, count: int, folders: int) -> None:
    for index in range(count):
        folder = source / f"module_{index % folders:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"notebook_{index:03d}.py").write_text(f"{HEADER}# generated {index}\n\nx = {index}\n")


def remote_folders(source) -> int:
    """The folders a sync of `source` fills, its root included: one listing each."""
    folders = {""}
    for item in collect_source(source):
        parent = posixpath.dirname(item.remote_rel)
        while parent:
            folders.add(parent)
            parent = posixpath.dirname(parent)
    return len(folders)


def checkout(copy, emulator, *, env: dict[str, str] | None = None):
    """`invoke checkout BI-88` in `copy`: (its requests, what it printed on stderr)."""
    (copy.root / ".env").write_text(f"DATABRICKS_HOST={emulator.url}\nDATABRICKS_TOKEN={SENTINEL_TOKEN}\n")
    before = len(emulator.requests())
    result = copy.invoke("checkout", "BI-88", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return emulator.requests()[before:], result.stderr


def imported_modules(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def content_imports(requests: list[dict]) -> list[str]:
    return sorted(r["target"].rsplit("/", 1)[1] for r in requests if r["path"] == IMPORT
                  and not r["target"].endswith(MANIFEST_NAME) and CLAIM_PREFIX not in r["target"])


def test_a_no_op_checkout_lists_each_folder_once_and_imports_only_what_it_needs(project, tmp_path, emulator):
    generate(project.source, NOTEBOOKS, MODULES)
    project.commit_all("generated notebooks")
    folders = remote_folders(project.source)
    assert folders >= MODULES + 1

    first, _ = checkout(project, emulator)
    assert len(content_imports(first)) == len(collect_source(project.source))

    clone = project.clone(tmp_path / "clone")  # same commit, new modification times
    requests, stderr = checkout(clone, emulator, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert [r for r in requests if is_write(r)] == []
    listings = [r for r in requests if r["path"] == "/api/2.0/workspace/list"]
    assert len(listings) == folders + 1  # each folder once, and the branch's library folder
    assert len(requests) <= folders + 5, [(r["method"], r["path"]) for r in requests if r not in listings]

    modules = imported_modules(stderr)
    assert "bricktasks.workspace.sync" in modules  # the log saw the task's imports at all
    unneeded = sorted(name for name in modules if any(name == heavy or name.startswith(heavy + ".") for heavy in NOT_IMPORTED))
    assert unneeded == [], ", ".join(unneeded)

    changed = clone.source / "module_03" / "notebook_015.py"
    changed.write_text(changed.read_text() + "y = 1\n")
    requests, _ = checkout(clone, emulator)
    assert content_imports(requests) == ["notebook_015"]  # the notebook, named without its extension
