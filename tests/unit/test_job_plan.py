"""The deployed jobs' desired settings and the deploy plan (bricktasks.jobs): absolute paths, ownership tags,
paused branch copies, libraries on classic compute only; the plan's create/update/unchanged/not-in-git,
foreign jobs left alone and UI edits reported as drift."""
from __future__ import annotations

import copy
from pathlib import Path

from databricks.sdk.service import jobs as sdk_jobs

from bricktasks.jobdef.production import ProductionJob, load_production_jobs
from bricktasks.jobs.desired import (
    TAG_BRANCH,
    TAG_HASH,
    TAG_JOB,
    TAG_ROOT,
    TAG_TARGET,
    desired_jobs,
    desired_settings,
    ownership_tags,
)
from bricktasks.jobs.plan import MISSING, Change, format_plan, plan_jobs

REPO = Path(__file__).resolve().parents[2]
ROOT = "/Workspace/Shared/forecasting"
WHEEL = {"whl": "/Volumes/main/ml/libs/forecasting-1.0-py3-none-any.whl"}


def example() -> ProductionJob:
    [job] = load_production_jobs(REPO / "jobs" / "production", shown="jobs/production",
                                 notebooks=["PrepareData", "ModelTraining", "Evaluate"], source_dir="forecasting")
    return job


def master_settings(job: ProductionJob | None = None) -> dict:
    job = job or example()
    return desired_settings(job, target_folder=f"{ROOT}/master", libraries=[WHEEL],
                            tags=ownership_tags(workspace_root=ROOT, file=job.file))


def echoed(sent: dict) -> dict:
    """What jobs/get returns for settings `sent`: the server's defaults filled in (reference 1.3, 1.4, 12.5)."""
    settings = {"email_notifications": {}, "webhook_notifications": {}, "timeout_seconds": 0, "max_concurrent_runs": 1,
                "format": "MULTI_TASK", "queue": {"enabled": True}, **copy.deepcopy(sent)}
    settings["tasks"] = [
        {"run_if": "ALL_SUCCESS", "timeout_seconds": 0, "email_notifications": {}, **task,
         "notebook_task": {"source": "WORKSPACE", **task["notebook_task"]}}
        for task in sorted(settings["tasks"], key=lambda task: task["task_key"])  # the server's order, not ours
    ]
    return settings


def deployed(settings: dict) -> dict:
    """What a first deploy leaves: the plan's create settings, echoed by the server."""
    [entry] = plan_jobs([("training.json", settings)], [], project_root_tag=ROOT).entries
    assert entry.action == "create" and entry.settings is not None
    return echoed(entry.settings)


# ---- desired settings --------------------------------------------------------------------------------


def test_master_settings_point_at_master_and_carry_our_tags_over_the_files():
    settings = master_settings()
    assert [task["notebook_task"]["notebook_path"] for task in settings["tasks"]] == [
        f"{ROOT}/master/PrepareData", f"{ROOT}/master/ModelTraining", f"{ROOT}/master/Evaluate"]
    assert settings["tags"] == {"team": "forecasting", "purpose": "training", TAG_ROOT: ROOT, TAG_JOB: "training.json",
                                TAG_TARGET: "master"}
    assert settings["name"] == "Forecast training" and settings["schedule"]["pause_status"] == "UNPAUSED"
    assert example().settings["tasks"][0]["notebook_task"]["notebook_path"] == "PrepareData"  # the job is not changed


def test_a_serverless_task_gets_no_libraries_a_classic_one_gets_the_targets():
    job = example()
    classic = copy.deepcopy(job.settings)
    classic["job_clusters"] = [{"job_cluster_key": "train", "new_cluster": {"spark_version": "15.4.x-scala2.12"}}]
    classic["tasks"][1] = {**{k: v for k, v in classic["tasks"][1].items() if k != "environment_key"},
                           "job_cluster_key": "train", "libraries": [{"pypi": {"package": "ruptures==1.1.9"}}]}
    settings = master_settings(ProductionJob(job.file, job.shown, job.name, classic, job.tasks))
    assert "libraries" not in settings["tasks"][0] and "libraries" not in settings["tasks"][2]
    assert settings["tasks"][1]["libraries"] == [{"pypi": {"package": "ruptures==1.1.9"}}, WHEEL]


def test_a_branch_copy_is_renamed_paused_tagged_and_points_at_the_branch_folder():
    job = example()
    settings = desired_settings(job, target_folder=f"{ROOT}/BI-5613", libraries=[],
                                tags=ownership_tags(workspace_root=ROOT, file=job.file, branch="BI-5613"))
    assert settings["name"] == "[BI-5613] Forecast training"
    assert settings["schedule"]["pause_status"] == "PAUSED"
    assert settings["tags"][TAG_TARGET] == "branch" and settings["tags"][TAG_BRANCH] == "BI-5613"
    assert settings["tasks"][0]["notebook_task"]["notebook_path"] == f"{ROOT}/BI-5613/PrepareData"
    assert job.settings["schedule"]["pause_status"] == "UNPAUSED"


def test_the_settings_to_send_are_the_sdks_job_settings_field_for_field():
    [(file, settings)] = desired_jobs([example()], workspace_root=ROOT, target_folder=f"{ROOT}/master", libraries=[WHEEL])
    [entry] = plan_jobs([(file, settings)], [], project_root_tag=ROOT).entries
    assert file == "training.json" and settings == master_settings()
    assert entry.settings is not None
    assert sdk_jobs.JobSettings.from_dict(entry.settings).as_dict() == entry.settings  # nothing the SDK drops or renames


# ---- the plan ----------------------------------------------------------------------------------------


def test_a_first_deploy_creates_with_the_deployed_hash():
    plan = plan_jobs([("training.json", master_settings())], [], project_root_tag=ROOT)
    [entry] = plan.entries
    assert entry.action == "create" and plan.writes == 1
    assert entry.settings is not None and len(entry.settings["tags"][TAG_HASH]) == 16
    assert format_plan(plan) == ["create     Forecast training (training.json)"]


def test_identical_settings_echoed_with_server_defaults_are_unchanged_and_cost_no_write():
    settings = master_settings()
    plan = plan_jobs([("training.json", settings)], [(11, deployed(settings))], project_root_tag=ROOT)
    assert [(entry.action, entry.job_id, entry.drift) for entry in plan.entries] == [("unchanged", 11, False)]
    assert plan.writes == 0
    assert format_plan(plan) == ["unchanged  Forecast training (training.json, job 11)"]


def test_a_changed_schedule_is_one_update_with_exactly_that_fields_diff():
    before = master_settings()
    after = copy.deepcopy(before)
    after["schedule"]["quartz_cron_expression"] = "0 30 4 * * ?"
    plan = plan_jobs([("training.json", after)], [(11, deployed(before))], project_root_tag=ROOT)
    [entry] = plan.entries
    assert (entry.action, entry.job_id, entry.drift) == ("update", 11, False)
    assert entry.changes == (Change("schedule.quartz_cron_expression", "0 0 3 * * ?", "0 30 4 * * ?"),)
    assert entry.settings is not None and entry.settings["schedule"]["quartz_cron_expression"] == "0 30 4 * * ?"
    assert format_plan(plan) == ["update     Forecast training (training.json, job 11): 1 field(s)",
                                 '    schedule.quartz_cron_expression: "0 0 3 * * ?" -> "0 30 4 * * ?"']


def test_a_task_field_change_is_named_by_task_key():
    before = master_settings()
    after = copy.deepcopy(before)
    after["tasks"][2]["timeout_seconds"] = 1200
    [entry] = plan_jobs([("training.json", after)], [(11, deployed(before))], project_root_tag=ROOT).entries
    assert entry.changes == (Change("tasks[Evaluate].timeout_seconds", 600, 1200),)


def test_a_job_whose_file_is_gone_is_not_in_git_and_removed_only_when_asked():
    existing = [(11, deployed(master_settings()))]
    [kept] = plan_jobs([], existing, project_root_tag=ROOT).entries
    assert (kept.action, kept.job_id, kept.file) == ("not-in-git", 11, "training.json")
    assert format_plan(plan_jobs([], existing, project_root_tag=ROOT)) == [
        "not in git Forecast training (training.json, job 11): its definition is gone; kept (deploy --remove-jobs deletes it)"]
    [removed] = plan_jobs([], existing, project_root_tag=ROOT, remove=True).entries
    assert (removed.action, removed.job_id) == ("remove", 11)


def test_a_same_named_job_without_our_root_tag_is_not_ours_and_left_alone():
    foreign = echoed({**{k: v for k, v in master_settings().items() if k != "tags"}, "tags": {"team": "forecasting"}})
    other_root = deployed(desired_settings(example(), target_folder="/Workspace/other/master", libraries=[],
                                           tags=ownership_tags(workspace_root="/Workspace/other", file="training.json")))
    plan = plan_jobs([("training.json", master_settings())], [(7, foreign), (8, other_root)], project_root_tag=ROOT,
                     remove=True)
    assert [(entry.action, entry.job_id) for entry in plan.entries] == [("create", None), ("not-ours", 7), ("not-ours", 8)]
    assert plan.writes == 1  # the create; neither foreign job is updated or removed
    assert "not ours   Forecast training (job 7): same name, no bricktasks-root tag of this project; left alone" in format_plan(plan)


def test_a_job_edited_in_the_ui_is_drift_and_the_update_brings_it_back():
    settings = master_settings()
    edited = deployed(settings)
    edited["max_concurrent_runs"] = 5  # someone raised it in the UI; the hash tag stays as deploy wrote it
    [entry] = plan_jobs([("training.json", settings)], [(11, edited)], project_root_tag=ROOT).entries
    assert (entry.action, entry.drift) == ("update", True)
    assert entry.changes == (Change("max_concurrent_runs", 5, 1),)
    lines = format_plan(plan_jobs([("training.json", settings)], [(11, edited)], project_root_tag=ROOT))
    assert lines[-1] == "drift      Forecast training (job 11): edited in the UI since the last deploy; deploy overwrites it"


def test_a_ui_added_field_is_drift_shown_as_removed():
    settings = master_settings()
    edited = deployed(settings)
    edited["trigger"] = {"pause_status": "UNPAUSED", "periodic": {"interval": 1, "unit": "HOURS"}}
    [entry] = plan_jobs([("training.json", settings)], [(11, edited)], project_root_tag=ROOT).entries
    assert entry.drift and [(change.path, change.new) for change in entry.changes] == [("trigger", MISSING)]


def test_an_adopted_job_tagged_by_hand_gets_only_the_hash_written_and_no_drift():
    settings = master_settings()
    adopted = echoed(settings)  # tagged with our root and file by hand: no deploy hash yet
    [entry] = plan_jobs([("training.json", settings)], [(11, adopted)], project_root_tag=ROOT).entries
    assert (entry.action, entry.drift) == ("update", False)
    assert [change.path for change in entry.changes] == [f"tags.{TAG_HASH}"]


def test_the_master_plan_leaves_branch_copies_alone_and_the_branch_plan_master():
    job = example()
    branch = desired_settings(job, target_folder=f"{ROOT}/BI-5613", libraries=[],
                              tags=ownership_tags(workspace_root=ROOT, file=job.file, branch="BI-5613"))
    existing = [(11, deployed(master_settings())), (12, deployed(branch))]
    master_plan = plan_jobs([("training.json", master_settings())], existing, project_root_tag=ROOT)
    assert [(entry.action, entry.job_id) for entry in master_plan.entries] == [("unchanged", 11)]
    branch_plan = plan_jobs([("training.json", branch)], existing, project_root_tag=ROOT, branch="BI-5613")
    assert [(entry.action, entry.job_id) for entry in branch_plan.entries] == [("unchanged", 12)]
    other_branch = plan_jobs([], existing, project_root_tag=ROOT, branch="BI-1")
    assert other_branch.entries == ()


def test_names_and_values_from_the_workspace_are_escaped_for_the_terminal():
    before = master_settings()
    evil = deployed(before)
    evil["name"] = "x\x1b[2J"
    evil["description"] = "\x1b]0;owned\x07"
    plan = plan_jobs([], [(11, evil)], project_root_tag=ROOT)
    drifted = plan_jobs([("training.json", before)], [(11, evil)], project_root_tag=ROOT)
    for line in format_plan(plan) + format_plan(drifted):
        assert "\x1b" not in line and "\x07" not in line


def test_a_ui_edit_that_git_has_since_caught_up_with_is_drift_that_matches_git_and_writes_only_the_hash():
    settings = master_settings()
    edited = deployed(settings)
    edited["max_concurrent_runs"] = 3  # a UI edit ...
    caught_up = {**settings, "max_concurrent_runs": 3}  # ... that a later commit makes in git too
    plan = plan_jobs([("training.json", caught_up)], [(11, edited)], project_root_tag=ROOT)
    [entry] = plan.entries
    assert (entry.action, entry.drift) == ("update", True)
    assert [change.path for change in entry.changes] == [f"tags.{TAG_HASH}"], "only the new hash is written"
    assert format_plan(plan)[-1] == ("drift      Forecast training (job 11): edited in the UI since the last deploy; "
                                     "its settings match git again")
    rewritten = echoed(entry.settings or {})
    assert plan_jobs([("training.json", caught_up)], [(11, rewritten)], project_root_tag=ROOT).entries[0].action == "unchanged"
