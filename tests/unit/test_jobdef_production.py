"""Production job definitions (bricktasks.jobdef.production, quartz): the example's file loads, the field
lists are the SDK's, and every refusal is one ConfigError line naming the file and the JSON path."""
from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
from databricks.sdk.service import jobs as sdk_jobs

from bricktasks.errors import ConfigError
from bricktasks.jobdef import fields
from bricktasks.jobdef.production import load_production_jobs
from bricktasks.jobdef.quartz import DATABRICKS_CRON_HINT, quartz_problem

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = ["PrepareData", "ModelTraining", "Evaluate"]
SCHEDULE = {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "Europe/Amsterdam", "pause_status": "UNPAUSED"}
GOOD = {
    "name": "Forecast training",
    "schedule": SCHEDULE,
    "parameters": [{"name": "horizon", "default": "14"}],
    "tasks": [
        {"task_key": "PrepareData", "notebook_task": {"notebook_path": "PrepareData.py"}},
        {"task_key": "ModelTraining", "depends_on": [{"task_key": "PrepareData"}],
         "notebook_task": {"notebook_path": "ModelTraining"}},
    ],
}


def load_folder(folder: Path):
    return load_production_jobs(folder, shown="jobs/production", notebooks=NOTEBOOKS, source_dir="forecasting")


def write(folder: Path, data, name: str = "training.json") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(data if isinstance(data, str) else json.dumps(data))


def changed(edit):
    data = copy.deepcopy(GOOD)
    edit(data)
    return data


def refusal(tmp_path: Path, data) -> str:
    write(tmp_path / "production", data)
    with pytest.raises(ConfigError) as caught:
        load_folder(tmp_path / "production")
    line = caught.value.one_line()
    assert caught.value.exit_code == 2 and "\n" not in line
    return line


# ---- the example -------------------------------------------------------------------------------------


def test_the_example_training_job_is_daily_serverless_prepare_train_evaluate_with_failure_mails():
    [job] = load_folder(REPO / "jobs" / "production")
    assert (job.file, job.shown, job.name) == ("training.json", "jobs/production/training.json", "Forecast training")
    assert [task.task_key for task in job.tasks] == ["PrepareData", "ModelTraining", "Evaluate"]
    assert all(task.serverless for task in job.tasks)
    assert job.settings["schedule"] == {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "Europe/Amsterdam",
                                        "pause_status": "UNPAUSED"}
    assert job.settings["email_notifications"]["on_failure"] == ["forecasting-team@example.com"]
    assert job.settings["max_concurrent_runs"] == 1 and job.settings["timeout_seconds"] > 0
    assert "$comment" not in job.settings
    assert [task["notebook_task"]["notebook_path"] for task in job.settings["tasks"]] == NOTEBOOKS


def test_notebook_paths_are_normalised_and_comments_dropped_at_every_level(tmp_path: Path):
    data = changed(lambda d: d["tasks"][0].update({"$comment": "why"}))
    write(tmp_path, data)
    [job] = load_folder(tmp_path)
    assert job.settings["tasks"][0] == {"task_key": "PrepareData", "notebook_task": {"notebook_path": "PrepareData"}}


def test_no_folder_means_no_jobs(tmp_path: Path):
    assert load_folder(tmp_path / "absent") == []


@pytest.mark.parametrize(("listed", "dataclass"), [
    (fields.CRON_SCHEDULE_FIELDS, sdk_jobs.CronSchedule),
    (fields.JOB_EMAIL_NOTIFICATIONS_FIELDS, sdk_jobs.JobEmailNotifications),
    (fields.WEBHOOK_NOTIFICATIONS_FIELDS, sdk_jobs.WebhookNotifications),
    (fields.WEBHOOK.api, sdk_jobs.Webhook),
    (fields.JOB_NOTIFICATION_SETTINGS_FIELDS, sdk_jobs.JobNotificationSettings),
    (fields.JOB_PARAMETER_FIELDS, sdk_jobs.JobParameterDefinition),
    (fields.QUEUE_FIELDS, sdk_jobs.QueueSettings),
    (fields.HEALTH_FIELDS, sdk_jobs.JobsHealthRules),
    (fields.HEALTH_RULE_FIELDS, sdk_jobs.JobsHealthRule),
])
def test_the_production_field_lists_are_the_installed_sdks(listed, dataclass):
    assert sorted(listed) == sorted(f.name for f in dataclasses.fields(dataclass))


def test_every_carried_job_field_is_a_job_settings_field():
    assert set(fields.PRODUCTION_JOB.accepted) - {"$comment"} <= {f.name for f in dataclasses.fields(sdk_jobs.JobSettings)}


def test_the_enums_are_the_installed_sdks():
    from bricktasks.jobdef import production

    assert set(production.PAUSE_STATUSES) == {item.value for item in sdk_jobs.PauseStatus}
    assert set(production.EDIT_MODES) == {item.value for item in sdk_jobs.JobEditMode}
    assert set(production.HEALTH_METRICS) == {item.value for item in sdk_jobs.JobsHealthMetric}
    assert set(production.HEALTH_OPERATORS) == {item.value for item in sdk_jobs.JobsHealthOperator}


# ---- quartz ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", [
    "0 0 12 * * ?", "0 15 10 ? * MON-FRI", "0 15 10 ? * *", "0 15 10 * * ? 2005", "0 * 14 * * ?", "0 0/5 14,18 * * ?",
    "0 0-5 14 * * ?", "0 10,44 14 ? 3 WED", "0 15 10 15 * ?", "0 15 10 L * ?", "0 15 10 L-2 * ?", "0 15 10 ? * 6L",
    "0 15 10 ? * 6L 2002-2005", "0 15 10 ? * 6#3", "0 0 12 1/5 * ?", "0 11 11 11 11 ?", "0 0 12 15W * ?", "0 0 12 LW * ?",
    "0 0 3 ? JAN-MAR,OCT SUN", "*/30 * * * * ?", "0 0 3 * * ?",
])
def test_quartz_takes_the_quartz_and_databricks_docs_examples(expression):
    assert quartz_problem(expression) is None


@pytest.mark.parametrize(("expression", "problem"), [
    ("0 0 12 * * *", "use '?' in exactly one of day-of-month and day-of-week"),
    ("0 0 12 ? * ?", "use '?' in exactly one"),
    ("0 12 * * *", "5 fields is standard cron"),
    ("0 0 12 * * ? 2030 x", "8 fields"),
    ("61 * * * * ?", "seconds '61': 61 is out of range 0-59"),
    ("0 60 * * * ?", "minutes '60': 60 is out of range 0-59"),
    ("0 0 24 * * ?", "hours '24': 24 is out of range 0-23"),
    ("0 0 12 32 * ?", "day-of-month '32'"),
    ("0 0 12 0 * ?", "day-of-month '0': 0 is out of range 1-31"),
    ("0 0 12 * 13 ?", "month '13'"),
    ("0 0 12 * FOO ?", "'FOO' is not a number from 1 to 12 or JAN-DEC"),
    ("0 0 12 ? * 8", "day-of-week '8'"),
    ("0 0 12 ? * MON#6", "n#k takes k from 1 to 5"),
    ("? 0 12 * * ?", "'?' is only for day-of-month or day-of-week"),
    ("0 0/0 12 * * ?", "the step after '/'"),
    ("0 0 12 1,,2 * ?", "an empty list item"),
    ("0 0 12 * * ? 1969", "year '1969'"),
    ("0 0 12 L-31 * ?", "L-n takes n from 0 to 30"),
])
def test_quartz_refuses_what_databricks_refuses(expression, problem):
    assert problem in (quartz_problem(expression) or "")


# ---- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d["schedule"].update(quartz_cron_expression="0 0 12 * * *"),
     "training.json: schedule.quartz_cron_expression: Invalid quartz_cron_expression: '0 0 12 * * *' (use '?'"),
    (lambda d: d["schedule"].update(quartz_cron_expression="0 3 * * *"),
     "Invalid quartz_cron_expression: '0 3 * * *' (5 fields is standard cron"),
    (lambda d: d["schedule"].update(quartz_cron_expression="61 * * * * ?"), "seconds '61': 61 is out of range 0-59"),
    (lambda d: d["schedule"].update(timezone_id="Europe/Amsterdm"),
     "schedule.timezone_id: 'Europe/Amsterdm' is not a time zone id; did you mean 'Europe/Amsterdam'?"),
    (lambda d: d["schedule"].update(timezone_id="../../etc/passwd"), "'../../etc/passwd' is not a time zone id"),
    (lambda d: d["schedule"].update(pause_status="PAUSE"), "schedule.pause_status: 'PAUSE' is not one of UNPAUSED, PAUSED"),
    (lambda d: d["schedule"].pop("timezone_id"), "schedule: has no timezone_id"),
    (lambda d: d["schedule"].update(timezone="UTC"), "schedule.timezone: unknown field 'timezone'; did you mean 'timezone_id'?"),
    (lambda d: d.update(schedul={}), "training.json: schedul: unknown field 'schedul'; did you mean 'schedule'?"),
    (lambda d: d.update(trigger={}), "trigger: 'trigger' is a Jobs API field, but deploy does not carry it to the job"),
    (lambda d: d.pop("name"), "training.json: name: must be a non-empty string, not null"),
    (lambda d: d["tasks"][0].update(spark_python_task={}),
     "tasks[0] (PrepareData).spark_python_task: 'spark_python_task' is a Jobs API field, but deploy runs notebook tasks only"),
    (lambda d: d["tasks"][0].update(email_notifications={"on_failure": ["a@b.c"]}),
     "tasks[0] (PrepareData).email_notifications: deploy sets notifications on the job, not the task"),
    (lambda d: d["tasks"][1]["notebook_task"].update(notebook_path="Trainig"),
     "tasks[1] (ModelTraining).notebook_task.notebook_path: there is no notebook 'Trainig' in forecasting"),
    (lambda d: d["tasks"][1].update(depends_on=[{"task_key": "Prepare"}]), "'Prepare' is not a task of this definition"),
    (lambda d: d["parameters"].append({"name": "horizon", "default": "7"}),
     "parameters[1] (horizon).name: 'horizon' is also the name of parameters[0]"),
    (lambda d: d["parameters"].append({"name": "x"}), "parameters[1] (x): has no default"),
    (lambda d: d["parameters"].append({"name": "x", "default": 7}), "parameters[1] (x).default: must be a string"),
    (lambda d: d.update(email_notifications={"on_failure": ["team"]}),
     "email_notifications.on_failure[0]: 'team' is not an e-mail address"),
    (lambda d: d.update(email_notifications={"on_failur": []}), "did you mean 'on_failure'?"),
    (lambda d: d.update(webhook_notifications={"on_failure": [{}]}), "webhook_notifications.on_failure[0].id: must be"),
    (lambda d: d.update(notification_settings={"no_alert_for_skipped_runs": "yes"}), "must be true or false"),
    (lambda d: d.update(max_concurrent_runs=1001), "max_concurrent_runs: 1001 is more than the Jobs API's 1000"),
    (lambda d: d.update(max_concurrent_runs=-1), "max_concurrent_runs: must be at least 0"),
    (lambda d: d.update(timeout_seconds="1h"), "timeout_seconds: must be a whole number"),
    (lambda d: d.update(queue={}), "queue: has no enabled"),
    (lambda d: d.update(health={"rules": [{"metric": "RUN_DURATION", "op": "GREATER_THAN", "value": 1}]}),
     "health.rules[0].metric: 'RUN_DURATION' is not one of"),
    (lambda d: d.update(tags={"bricktasks-root": "/x"}), "tags.bricktasks-root: tags starting 'bricktasks-' are deploy's own"),
    (lambda d: d.update(tags={str(n): "" for n in range(26)}), "tags: has 26 tags"),
    (lambda d: d.update(edit_mode="LOCKED"), "edit_mode: 'LOCKED' is not one of EDITABLE, UI_LOCKED"),
    (lambda d: d.update(performance_target="FAST"), "performance_target: 'FAST' is not one of"),
])
def test_each_mistake_is_one_line_naming_the_place(tmp_path: Path, edit, expected):
    assert expected in refusal(tmp_path, changed(edit))


def test_a_bad_cron_carries_the_real_apis_hint(tmp_path: Path):
    line = refusal(tmp_path, changed(lambda d: d["schedule"].update(quartz_cron_expression="0 0 12 * * *")))
    assert DATABRICKS_CRON_HINT in line


def test_a_control_character_in_the_cron_is_escaped_in_the_line(tmp_path: Path):
    line = refusal(tmp_path, changed(lambda d: d["schedule"].update(quartz_cron_expression="0 0 12 * * \x1b[31m")))
    assert "\x1b" not in line and "\\x1b" in line


def test_duplicate_job_names_across_files_are_refused(tmp_path: Path):
    write(tmp_path, GOOD, "a.json")
    write(tmp_path, GOOD, "b.json")
    with pytest.raises(ConfigError) as caught:
        load_folder(tmp_path)
    assert "jobs/production/b.json: name: 'Forecast training' is also the name of jobs/production/a.json" in caught.value.one_line()


def test_a_file_name_unfit_for_a_tag_is_refused(tmp_path: Path):
    write(tmp_path, GOOD, "my job.json")
    with pytest.raises(ConfigError, match="a job's file name takes letters, digits"):
        load_folder(tmp_path)


def test_a_file_that_is_not_json_is_one_line(tmp_path: Path):
    assert "jobs/production/training.json" in refusal(tmp_path, "{not json")
