"""Two CI builds of different branches at once, with clean-ci running meanwhile; two checkouts of one branch."""
from __future__ import annotations

import signal
import subprocess
import sys

from e2e_helpers import SLOW, clean_environment, terminate, wait_until


def test_two_builds_run_at_once_and_clean_ci_skips_them(project, tmp_path):
    project.write_notebook("Slow", SLOW)
    project.commit_all()
    other = project.clone(tmp_path / "other")  # CI agents build in their own clones; the backend is shared
    shared = {"BRICKTASKS_LOCAL_ROOT": str(project.local_root), "BRICKTASKS_CI_NOTEBOOKS": "Slow"}
    builds = [
        project.start("ci", env={**shared, "BRICKTASKS_BUILD_ID": "1", "BRICKTASKS_BRANCH": "feature/a"}),
        other.start("ci", env={**shared, "BRICKTASKS_BUILD_ID": "2", "BRICKTASKS_BRANCH": "feature/b"}),
    ]
    backend = project.backend()
    try:
        wait_until(lambda: len([r for r in backend.list_runs() if r.life_cycle_state == "RUNNING"]) == 2, timeout=120)
        cleaning = project.invoke("clean-ci", "--older-than", "0d", env={"BRICKTASKS_LOCAL_ROOT": str(project.local_root)})
        outputs = [process.communicate(timeout=300) for process in builds]
    finally:
        for process in builds:
            terminate(process, signal.SIGKILL)
    assert cleaning.returncode == 0, cleaning.stdout + cleaning.stderr
    assert "deleted 0, kept 0, active 2" in cleaning.stdout, cleaning.stdout
    for process, (stdout, stderr) in zip(builds, outputs, strict=True):
        assert process.returncode == 0, stdout + stderr
        assert "Slow: SUCCESS; exit value: done" in stdout
    names = {info.path.rsplit("/", 1)[1] for info in backend.list("/Projects/forecasting/CI")}
    assert names == {"1-feature__a", "2-feature__b"}


def test_two_checkouts_of_one_branch_at_once_end_consistent(project):
    command = [sys.executable, "-m", "invoke", "checkout", "BI-5613"]
    racing = [
        subprocess.Popen(command, cwd=project.root, env=clean_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(process.wait(timeout=120), *process.communicate()) for process in racing]
    assert [code for code, _, _ in results] == [0, 0], results
    # a sync that raced another trusts none of its uploads (issue 11): the next one may send them
    # again, and leaves the folder and its manifest in agreement, with nothing left to send
    assert project.invoke("checkout", "BI-5613").returncode == 0
    again = project.invoke("checkout", "BI-5613")
    assert "uploaded 0, unchanged 9, pruned 0" in again.stdout, again.stdout
    backend = project.backend()
    for name in ("ModelTraining", "PrepareData", "conf/ci_config"):
        local = (project.root / "forecasting" / f"{name}.py").read_bytes()
        assert backend.export(f"/Projects/forecasting/BI-5613/{name}") == local
