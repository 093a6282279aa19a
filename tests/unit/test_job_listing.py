"""`invoke jobs` and `invoke run-job`'s choices (bricktasks.jobs.listing, bricktasks.jobs.runjob) on a real
LocalBackend: only jobs with this project's root tag, a branch's copies apart, the newest run, names escaped;
NAME by definition name or file, the closest names when none matches, never a job that is not ours;
--param parsed and checked against the job's declared parameters."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bricktasks.backends.local import LocalBackend
from bricktasks.errors import UserInputError
from bricktasks.jobs.desired import ownership_tags
from bricktasks.jobs.listing import NO_RUN, NO_SCHEDULE, format_jobs, job_statuses, project_jobs
from bricktasks.jobs.runjob import check_params, find_job, parse_params, planned_tasks

ROOT = "/Projects/forecasting"
TASKS = [{"task_key": "A", "notebook_task": {"notebook_path": f"{ROOT}/master/A"}},
         {"task_key": "B", "notebook_task": {"notebook_path": f"{ROOT}/master/sub/B"}, "depends_on": [{"task_key": "A"}]}]


def _job(backend: LocalBackend, name: str, file: str, *, branch: str | None = None, root: str = ROOT, **extra) -> int:
    tags = ownership_tags(workspace_root=root, file=file, branch=branch)
    return backend.create_job({"name": name, "tags": tags, "tasks": TASKS, **extra})


def _refused(call) -> str:
    """The one line a refusal prints: message and hint."""
    with pytest.raises(UserInputError) as refused:
        call()
    return refused.value.one_line()


@pytest.fixture
def backend(tmp_path) -> LocalBackend:
    return LocalBackend(tmp_path / "root")


def test_only_our_jobs_are_listed_by_target(backend):
    master = _job(backend, "Forecast training", "training.json",
                  schedule={"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "Europe/Amsterdam"})
    copy = _job(backend, "[BI-1] Forecast training", "training.json", branch="BI-1")
    _job(backend, "Forecast training", "training.json", root="/Projects/other")  # another project's
    backend.create_job({"name": "Forecast training", "tasks": TASKS})  # someone's, same name, no tags
    assert [job.job_id for job in project_jobs(backend, ROOT)] == [master, copy]
    assert [job.job_id for job in project_jobs(backend, ROOT, branch="BI-1")] == [copy]
    assert [job.job_id for job in project_jobs(backend, ROOT, master_only=True)] == [master]
    statuses = job_statuses(backend, project_jobs(backend, ROOT), now=datetime.now(timezone.utc))
    assert [(s.target, s.file, s.schedule, s.last_result, s.url) for s in statuses] == [
        ("master", "training.json", "0 0 3 * * ? Europe/Amsterdam UNPAUSED", NO_RUN, None),
        ("branch BI-1", "training.json", NO_SCHEDULE, NO_RUN, None)]


def test_the_table_escapes_names(backend):
    _job(backend, "evil\x1b[2Jname", "evil.json")
    lines = format_jobs(job_statuses(backend, project_jobs(backend, ROOT), now=datetime.now(timezone.utc)))
    assert lines[0].split() == ["JOB", "TARGET", "FILE", "SCHEDULE", "LAST", "RUN", "URL"]
    assert "\x1b" not in "".join(lines) and "evil" in lines[1]


def test_name_is_the_definition_name_or_its_file(backend):
    master = _job(backend, "Forecast training", "training.json")
    copy = _job(backend, "[BI-1] Forecast training", "training.json", branch="BI-1")
    for name in ("Forecast training", "forecast TRAINING", "training", "training.json"):
        assert find_job(backend, ROOT, name, branch=None).job_id == master
        assert find_job(backend, ROOT, name, branch="BI-1").job_id == copy
    assert "did you mean: Forecast training" in _refused(lambda: find_job(backend, ROOT, "Forecast trainig", branch=None))
    assert "no saved jobs among branch BI-2's copies" in _refused(lambda: find_job(backend, ROOT, "training", branch="BI-2"))


def test_a_job_that_is_not_ours_is_never_found(backend):
    backend.create_job({"name": "Forecast training", "tasks": TASKS})
    assert "invoke deploy" in _refused(lambda: find_job(backend, ROOT, "Forecast training", branch=None))


def test_params_are_key_value_and_declared(backend):
    assert parse_params(["day=2024-01-31", "expr=a=b"]) == {"day": "2024-01-31", "expr": "a=b"}
    for bad in (["day"], ["=x"], ["day=1", "day=2"]):
        with pytest.raises(UserInputError):
            parse_params(bad)
    job = backend.get_job(_job(backend, "J", "j.json", parameters=[{"name": "day", "default": "today"}]))
    assert check_params(job, {"day": "x"}) == {"day": "x"}
    assert "no parameter colour; its parameters are: day" in _refused(lambda: check_params(job, {"colour": "red"}))


def test_planned_tasks_name_notebooks_relative_to_the_target(backend):
    job = backend.get_job(_job(backend, "J", "j.json"))
    assert [(t.task_key, t.notebook, t.depends_on) for t in planned_tasks(job, f"{ROOT}/master")] == [
        ("A", "A", ()), ("B", "sub/B", ("A",))]
