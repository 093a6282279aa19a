"""build-wheel, upload-lib and install_libraries: a branch's notebooks pick up its newest library."""
from __future__ import annotations

import re
import time

from e2e_helpers import SMOKE

from bricktasks.backends.base import NotebookTask, RunSpec
from bricktasks.runs.supervise import supervise_run

BRANCH = "/Projects/forecasting/BI-5613"
BRANCH_LIBRARIES = "/Projects/forecasting/libraries/BI-5613"


def _installed_wheels(backend) -> list[str]:
    source = backend.export(f"{BRANCH}/install_libraries").decode()
    return re.findall(r"/Workspace(\S+\.whl)", source)


def test_build_wheel_stamps_a_version_per_build(project):
    result = project.invoke("build-wheel", "--branch", "BI-5613", "--build-id", "12")
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = [path.name for path in (project.root / "dist").glob("*.whl")]
    assert len(wheels) == 1 and re.fullmatch(r"regimecast-0\.4\.0\.dev12\+bi\.5613\.g[0-9a-f]{7}-py3-none-any\.whl", wheels[0]), wheels


def test_branch_notebooks_install_the_branchs_newest_upload(project):
    project.write_notebook("Smoke", SMOKE)
    project.commit_all()
    checkout = project.invoke("checkout", "BI-5613", "--env", "ci")
    assert checkout.returncode == 0, checkout.stdout + checkout.stderr
    assert "no library uploaded for BI-5613 yet" in checkout.stdout
    backend = project.backend()
    assert _installed_wheels(backend) == []

    upload = project.invoke("upload-lib", "--branch", "BI-5613")
    assert upload.returncode == 0, upload.stdout + upload.stderr
    [wheel] = _installed_wheels(backend)
    assert wheel.startswith(f"{BRANCH_LIBRARIES}/regimecast-0.4.0.dev0+b") and backend.file_status(wheel).size > 0
    assert not [info for info in backend.list_files(BRANCH_LIBRARIES) if ".tmp" in info.path]

    time.sleep(1.1)  # branch builds are stamped to the second; the same second and commit is the same build
    newer = project.invoke("upload-lib", "--branch", "BI-5613")
    assert newer.returncode == 0, newer.stdout + newer.stderr
    [newest] = _installed_wheels(backend)
    assert newest != wheel and len(backend.list_files(BRANCH_LIBRARIES)) == 2

    again = project.invoke("checkout", "BI-5613", "--env", "ci")
    # only install_libraries, which upload-lib rewrote behind the sync manifest, goes up again
    assert "uploaded 1, unchanged 9" in again.stdout, again.stdout
    assert _installed_wheels(backend) == [newest]

    # the branch folder's notebook, run as is (no libraries attached to the run), imports that build
    run_id = backend.submit_run(RunSpec("branch smoke", (NotebookTask("smoke", f"{BRANCH}/Smoke"),), timeout_seconds=300))
    outcome = supervise_run(backend, run_id, timeout_s=300)
    task = outcome.run.tasks[0]
    version = newest.rsplit("/", 1)[1].split("-")[1]
    assert task.result_state == "SUCCESS", backend.task_result(task.run_id)
    assert backend.get_run_output(task.run_id).result == f"ci {version}"


def test_an_identical_ci_build_upload_is_skipped(project):
    first = project.invoke("upload-lib", "--branch", "BI-5613", "--build-id", "7")
    assert first.returncode == 0, first.stdout + first.stderr
    second = project.invoke("upload-lib", "--branch", "BI-5613", "--build-id", "7")
    unchanged = "unchanged /Projects/forecasting/libraries/CI/7-BI-5613/regimecast-0.4.0.dev7"
    assert second.returncode == 0 and unchanged in second.stdout, second.stdout
