"""`python -m bricktasks.emulator --run-schedules` fires a saved job's UNPAUSED quartz schedule at its times
as PERIODIC runs of that job (seen through the real databricks-sdk), and never a PAUSED one."""
from __future__ import annotations

import time

from e2e_helpers import HEADER, SENTINEL_TOKEN, WORKSPACE_ROOT

from bricktasks.testing.emulator import EmulatorProcess, workspace_client

QUICK = HEADER + 'dbutils.notebook.exit("tick")\n'


def test_an_unpaused_schedule_fires_periodic_runs_and_a_paused_one_none(tmp_path):
    from databricks.sdk.service import jobs, workspace

    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN, run_schedules=True) as emulator:
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        client.workspace.mkdirs(f"{WORKSPACE_ROOT}/ticks")
        client.workspace.upload(f"{WORKSPACE_ROOT}/ticks/Tick", QUICK.encode(), format=workspace.ImportFormat.SOURCE,
                                language=workspace.Language.PYTHON)
        task = jobs.Task(task_key="Tick", notebook_task=jobs.NotebookTask(notebook_path=f"{WORKSPACE_ROOT}/ticks/Tick"))

        def job(name: str, pause: jobs.PauseStatus) -> int:
            return client.jobs.create(name=name, tasks=[task], max_concurrent_runs=5, schedule=jobs.CronSchedule(
                quartz_cron_expression="*/2 * * * * ?", timezone_id="Europe/Amsterdam", pause_status=pause)).job_id

        unpaused, paused = job("every 2 s", jobs.PauseStatus.UNPAUSED), job("every 2 s, paused", jobs.PauseStatus.PAUSED)
        created = time.monotonic()
        deadline = created + 10
        runs: list = []
        while time.monotonic() < deadline and len(runs) < 2:
            time.sleep(0.5)
            runs = list(client.jobs.list_runs(job_id=unpaused))
        assert len(runs) >= 2, "an UNPAUSED */2 schedule fires within a few seconds"
        assert {(run.job_id, run.run_type, run.trigger) for run in runs} == {
            (unpaused, jobs.RunType.JOB_RUN, jobs.TriggerType.PERIODIC)}
        assert len(runs) <= (time.monotonic() - created) / 2 + 1, "every 2 s, not every poll"
        assert list(client.jobs.list_runs(job_id=paused)) == [], "a PAUSED schedule never fires"

        client.jobs.update(unpaused, new_settings=jobs.JobSettings(schedule=jobs.CronSchedule(
            quartz_cron_expression="*/2 * * * * ?", timezone_id="Europe/Amsterdam", pause_status=jobs.PauseStatus.PAUSED)))
        time.sleep(0.5)  # a firing already under way when the pause arrived
        fired = len(list(client.jobs.list_runs(job_id=unpaused)))
        time.sleep(2.5)
        assert len(list(client.jobs.list_runs(job_id=unpaused))) == fired, "pausing stops the firing"
