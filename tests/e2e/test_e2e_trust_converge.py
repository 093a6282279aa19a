"""Issue 11, items 6, 7 and 13 (part), through `invoke`: type changes converge in one checkout,
deploy and ci; two local paths for one workspace object, and a notebook over the import limit, are
refused before any upload; two clones racing on one branch never leave it silently diverged."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from e2e_helpers import HEADER, SENTINEL_TOKEN, WORKSPACE_ROOT, ProjectCopy, is_write

from bricktasks.backends.base import MAX_IMPORT_BYTES, ObjectType
from bricktasks.backends.databricks import DatabricksBackend
from bricktasks.errors import NotFound
from bricktasks.source.items import collect_source
from bricktasks.testing.emulator import EmulatorProcess
from bricktasks.workspace.sync import CLAIM_PREFIX, apply_sync, plan_sync

QUICK = HEADER + 'dbutils.notebook.exit("ok")\n'
UTILS = HEADER + "def helper():\n    return 1\n"
PLAIN = "def helper():\n    return 2\n"  # no header: a workspace FILE


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _as_notebook_folder(copy: ProjectCopy) -> None:
    """utils.py becomes utils/helpers.py; helper.py, a FILE, becomes a notebook."""
    (copy.source / "utils.py").unlink()
    (copy.source / "utils").mkdir()
    (copy.source / "utils" / "helpers.py").write_text(UTILS)
    (copy.source / "helper.py").write_text(HEADER + PLAIN)


def _as_before(copy: ProjectCopy) -> None:
    shutil.rmtree(copy.source / "utils", ignore_errors=True)
    (copy.source / "utils.py").write_text(UTILS)
    (copy.source / "helper.py").write_text(PLAIN)


def _shape(backend, folder: str) -> dict[str, ObjectType]:
    """The objects of interest in `folder`: what stands at utils, utils/helpers, helper, helper.py."""
    shape = {}
    for rel in ("utils", "utils/helpers", "helper", "helper.py"):
        try:
            shape[rel] = backend.get_status(f"{folder}/{rel}").object_type
        except NotFound:
            pass  # not there
    return shape


BEFORE = {"utils": ObjectType.NOTEBOOK, "helper.py": ObjectType.FILE}
AFTER = {"utils": ObjectType.DIRECTORY, "utils/helpers": ObjectType.NOTEBOOK, "helper": ObjectType.NOTEBOOK}


@pytest.mark.parametrize("prune", [False, True], ids=["checkout", "checkout-prune"])
def test_type_changes_converge_in_one_checkout(project, prune):
    flags = ["--prune"] if prune else []
    backend, folder = project.backend(), f"{WORKSPACE_ROOT}/BI-6"
    _as_before(project)
    _ok(project.invoke("checkout", "BI-6", *flags))
    assert _shape(backend, folder) == BEFORE
    _as_notebook_folder(project)
    out = _ok(project.invoke("checkout", "BI-6", *flags))  # today: "a notebook is in the way"
    assert "replaced utils: the notebook there was in the way" in out and "replaced helper.py" in out
    assert _shape(backend, folder) == AFTER
    assert "uploaded 0," in _ok(project.invoke("checkout", "BI-6", *flags))
    _as_before(project)
    _ok(project.invoke("checkout", "BI-6", *flags))
    assert _shape(backend, folder) == BEFORE
    assert "uploaded 0," in _ok(project.invoke("checkout", "BI-6", *flags))


def test_type_changes_converge_in_one_deploy_over_the_emulator(project, tmp_path, end_checks):
    """Today every deploy after utils.py became utils/ fails: production master/ is stuck."""
    end_checks.master_allowed = True
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        remote = DatabricksBackend(host=emulator.url, token=SENTINEL_TOKEN, retry_timeout_seconds=30, http_timeout_seconds=30)
        master = f"{WORKSPACE_ROOT}/master"
        _as_before(project)
        project.commit_all("utils as a notebook")
        _ok(project.invoke("deploy", env=env))
        assert _shape(remote, master) == BEFORE
        _as_notebook_folder(project)
        project.commit_all("utils as a folder")
        _ok(project.invoke("deploy", env=env))
        assert _shape(remote, master) == AFTER
        assert "uploaded 0," in _ok(project.invoke("deploy", env=env))
        _as_before(project)
        project.commit_all("and back")
        _ok(project.invoke("deploy", env=env))
        assert _shape(remote, master) == BEFORE
        assert not [i for i in remote.list(master) if CLAIM_PREFIX in i.path]
        remote.close()


def test_a_ci_build_rerun_after_a_type_change_converges(project):
    project.write_notebook("Quick", QUICK)
    _as_before(project)
    env = {"BRICKTASKS_BUILD_ID": "6", "BRICKTASKS_BRANCH": "BI-6", "BRICKTASKS_CI_NOTEBOOKS": "Quick"}
    _ok(project.invoke("ci", env=env))
    _as_notebook_folder(project)
    out = _ok(project.invoke("ci", env=env))
    assert "Quick: SUCCESS" in out
    assert _shape(project.backend(), f"{WORKSPACE_ROOT}/CI/6-BI-6") == AFTER


# -- refused before anything is uploaded: exit 2, one line, nothing changed ---------------------------

def _collide_file(copy: ProjectCopy) -> None:
    (copy.source / "Report.py").write_text(HEADER + "1\n")
    (copy.source / "Report").write_text("a file named like the notebook\n")


def _collide_folder(copy: ProjectCopy) -> None:
    (copy.source / "ModelTraining").mkdir()
    (copy.source / "ModelTraining" / "part.py").write_text(HEADER + "1\n")


def _too_big(copy: ProjectCopy) -> None:
    (copy.source / "Huge.py").write_text(HEADER + "# " + "x" * MAX_IMPORT_BYTES + "\n")


BAD_SOURCES = {
    "notebook-and-file": (_collide_file, "forecasting/Report and forecasting/Report.py would both be Report"),
    "notebook-and-folder": (_collide_folder, "forecasting/ModelTraining.py and the folder forecasting/ModelTraining/"),
    "over-the-import-limit": (_too_big, "forecasting/Huge.py is 10.0 MB: the workspace imports at most 10 MB"),
}
COMMANDS = {
    "checkout": (["checkout", "BI-1"], {}),
    "ci": (["ci"], {"BRICKTASKS_BUILD_ID": "13", "BRICKTASKS_BRANCH": "BI-1"}),
    "deploy": (["deploy"], {}),
}


def _assert_refused(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("bad", sorted(BAD_SOURCES))
def test_refused_before_any_upload(project, command, bad):
    arrange, expected = BAD_SOURCES[bad]
    arguments, env = COMMANDS[command]
    _ok(project.invoke("checkout", "BI-1"))  # something in the workspace that must stay as it is
    arrange(project)
    project.commit_all("bad source")  # deploy wants a clean tree
    before = project.workspace_digest()
    _assert_refused(project.invoke(*arguments, env=env), expected)
    assert project.workspace_digest() == before


def test_deploy_refused_before_any_request_that_writes_over_the_emulator(project, tmp_path):
    """deploy uploads the libraries before the notebooks: the refusal comes before both."""
    _too_big(project)
    project.commit_all("too big")
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        _assert_refused(project.invoke("deploy", env=env), "forecasting/Huge.py is 10.0 MB")
        assert [request for request in emulator.requests() if is_write(request)] == []


# -- item 7: two clones racing on one branch, driven deterministically ----------------------------------

class PausingBackend(DatabricksBackend):
    """The real SDK against the emulator; runs `hook` once, when this sync lists a folder after its
    first upload: the moment where the other clone's checkout landing made the manifest lie."""

    hook = None
    uploaded = False

    def import_object(self, path, content, **kwargs):
        if "/.bricktasks-" not in path:
            self.uploaded = True
        return super().import_object(path, content, **kwargs)

    def list(self, path):
        if self.hook and self.uploaded:
            hook, self.hook = self.hook, None
            hook()
        return super().list(path)


def _differ(copy: ProjectCopy, who: str) -> None:
    for name in ("ModelTraining", "PrepareData", "conf/dev_config"):
        path = copy.source / f"{name}.py"
        path.write_text(path.read_text() + f"\n# COMMAND ----------\n\nprint('{who}')\n")


def test_racing_checkouts_of_one_branch_never_diverge_silently(project, tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        folder = f"{WORKSPACE_ROOT}/BI-7"
        other = project.clone(tmp_path / "other")
        (other.root / ".env").write_text(f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\n")
        _ok(other.invoke("checkout", "BI-7", env=env))  # the folder as the other clone left it
        _differ(project, "A")
        _differ(other, "B")
        backend = PausingBackend(host=emulator.url, token=SENTINEL_TOKEN, retry_timeout_seconds=30, http_timeout_seconds=30)
        backend.hook = lambda: _ok(other.invoke("checkout", "BI-7", env=env))  # B's whole checkout, inside A's
        items = collect_source(project.source)
        result = apply_sync(backend, plan_sync(backend, items, folder), workers=1)
        assert backend.hook is None
        # before: A's manifest recorded A's hashes against B's modification times, so A's next checkout
        # called the three notebooks unchanged while they held B's code
        for copy in (project, other, project):
            _ok(copy.invoke("checkout", "BI-7", env=env))
            for name in ("ModelTraining", "PrepareData", "conf/dev_config"):
                assert backend.export(f"{folder}/{name}") == (copy.source / f"{name}.py").read_bytes(), (copy.root, name)
        assert result.unverified == sorted(result.uploaded)  # A knew it had been raced
        assert "uploaded 0," in _ok(project.invoke("checkout", "BI-7", env=env))
        backend.close()
