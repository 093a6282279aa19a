"""The Jobs API's field names, level by level, and which of them a CI run carries.

Copied from databricks-sdk 0.162's dataclasses (jobs.JobSettings, jobs.Task, jobs.JobCluster,
jobs.JobEnvironment, jobs.NotebookTask, jobs.TaskDependency, compute.ClusterSpec, compute.AutoScale,
compute.Environment; for the production jobs jobs.CronSchedule, jobs.JobEmailNotifications,
jobs.WebhookNotifications, jobs.Webhook, jobs.JobNotificationSettings, jobs.JobParameterDefinition,
jobs.QueueSettings, jobs.JobsHealthRules, jobs.JobsHealthRule); tests/unit/test_jobdef.py checks each list against the installed SDK, so a
new SDK's fields show up as a failing test rather than as a user's "unknown field". Plus the
runs/submit-only fields `run_name` and `idempotency_token` (jobs.JobsAPI.submit) and `$comment`.

Each level splits its fields in three:
- CARRIED: read and sent on to the run;
- NO_EFFECT: fields "View JSON" shows that mean nothing for a one-time run (accepted, not sent;
  the *_notifications ones only when empty, as the UI shows them);
- the rest of the API's fields: refused with the reason (ci does not carry them), never dropped silently.
A name in none of them is unknown: refused with the closest valid name.
"""
from __future__ import annotations

__all__ = ["Level", "JOB", "TASK", "NOTEBOOK_TASK", "DEPENDENCY", "JOB_CLUSTER", "ENVIRONMENT", "ENVIRONMENT_SPEC",
           "CLUSTER_SPEC", "AUTOSCALE", "EMPTY_ONLY", "PRODUCTION_JOB", "CRON_SCHEDULE", "JOB_EMAIL_NOTIFICATIONS",
           "WEBHOOK_NOTIFICATIONS", "WEBHOOK", "JOB_NOTIFICATION_SETTINGS", "JOB_PARAMETER", "QUEUE", "HEALTH", "HEALTH_RULE"]

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    """One object's fields: the API's, which of them a CI run carries, which it accepts without effect."""

    api: tuple[str, ...]
    carried: tuple[str, ...]
    no_effect: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        return self.carried + self.no_effect


COMMENT = "$comment"
# fields the UI's "View JSON" shows as {} on a job that sends no notifications: accepted only when empty
EMPTY_ONLY = ("email_notifications", "webhook_notifications", "notification_settings")

JOB_SETTINGS_FIELDS = (
    "budget_policy_id", "continuous", "deployment", "description", "duration_target", "edit_mode", "email_notifications",
    "environment_variables", "environments", "format", "git_source", "health", "job_clusters", "max_concurrent_runs", "name",
    "notification_settings", "parameters", "parent_path", "performance_target", "queue", "run_as", "schedule", "tags", "tasks",
    "timeout_seconds", "trigger", "triggers", "usage_policy_id", "webhook_notifications",
)
TASK_FIELDS = (
    "task_key", "ai_function_task", "ai_runtime_task", "alert_task", "clean_rooms_notebook_task", "compute", "condition_task",
    "dashboard_task", "dbt_cloud_task", "dbt_platform_task", "dbt_task", "depends_on", "description",
    "disable_auto_optimization", "disabled", "email_notifications", "environment_key", "environment_variables_key",
    "existing_cluster_id", "for_each_task", "gen_ai_compute_task", "health", "job_cluster_key", "libraries", "max_retries",
    "min_retry_interval_millis", "new_cluster", "notebook_task", "notification_settings", "pipeline_task", "power_bi_task",
    "python_operator_task", "python_wheel_task", "retry_on_timeout", "run_if", "run_job_task", "spark_jar_task",
    "spark_python_task", "spark_submit_task", "sql_task", "timeout_seconds", "webhook_notifications",
)
CLUSTER_SPEC_FIELDS = (
    "apply_policy_default_values", "autoscale", "autotermination_minutes", "aws_attributes", "azure_attributes",
    "cluster_log_conf", "cluster_name", "custom_tags", "data_security_mode", "dependency_mode", "docker_image",
    "driver_instance_pool_id", "driver_node_type_flexibility", "driver_node_type_id", "enable_elastic_disk",
    "enable_local_disk_encryption", "gcp_attributes", "init_scripts", "instance_pool_id", "is_single_node", "kind",
    "node_type_id", "num_workers", "policy_id", "remote_disk_throughput", "runtime_engine", "single_user_name", "spark_conf",
    "spark_env_vars", "spark_version", "ssh_public_keys", "total_initial_remote_disk_size", "use_ml_runtime",
    "worker_node_type_flexibility", "workload_type",
)
ENVIRONMENT_SPEC_FIELDS = ("base_environment", "client", "dependencies", "environment_version", "java_dependencies",
                           "project_environment")

JOB = Level(
    api=(*JOB_SETTINGS_FIELDS, "run_name", "idempotency_token", COMMENT),
    carried=("tasks", "job_clusters", "environments", "timeout_seconds", "performance_target", "run_name", "tags", COMMENT),
    # a job's name and description document it; format, queue, edit_mode, max_concurrent_runs shape a
    # saved job's runs, not a one-time run's
    no_effect=("name", "description", "format", "queue", "edit_mode", "max_concurrent_runs", *EMPTY_ONLY),
)
TASK = Level(
    api=(*TASK_FIELDS, COMMENT),
    carried=("task_key", "description", "notebook_task", "depends_on", "run_if", "timeout_seconds", "max_retries",
             "min_retry_interval_millis", "retry_on_timeout", "libraries", "job_cluster_key", "existing_cluster_id",
             "new_cluster", "environment_key", COMMENT),
    no_effect=EMPTY_ONLY,
)
NOTEBOOK_TASK = Level(api=("notebook_path", "base_parameters", "source", "warehouse_id"),
                      carried=("notebook_path", "base_parameters", "source"))
DEPENDENCY = Level(api=("task_key", "outcome"), carried=("task_key",))
JOB_CLUSTER = Level(api=("job_cluster_key", "new_cluster", "serverless_compute", "serverless_compute_id", COMMENT),
                    carried=("job_cluster_key", "new_cluster", COMMENT))
ENVIRONMENT = Level(api=("environment_key", "spec", COMMENT), carried=("environment_key", "spec", COMMENT))
ENVIRONMENT_SPEC = Level(api=ENVIRONMENT_SPEC_FIELDS, carried=ENVIRONMENT_SPEC_FIELDS)
CLUSTER_SPEC = Level(api=CLUSTER_SPEC_FIELDS, carried=CLUSTER_SPEC_FIELDS)
AUTOSCALE = Level(api=("max_workers", "min_workers"), carried=("max_workers", "min_workers"))

# ---- a production job (jobs/production/*.json): a saved job's settings, not a one-time run's ------------

CRON_SCHEDULE_FIELDS = ("pause_status", "quartz_cron_expression", "sql_condition", "timezone_id")
NOTIFICATION_EVENTS = ("on_duration_warning_threshold_exceeded", "on_failure", "on_maintenance_complete",
                       "on_maintenance_start", "on_start", "on_streaming_backlog_exceeded", "on_success")
JOB_EMAIL_NOTIFICATIONS_FIELDS = ("no_alert_for_skipped_runs", *NOTIFICATION_EVENTS)
WEBHOOK_NOTIFICATIONS_FIELDS = NOTIFICATION_EVENTS
JOB_NOTIFICATION_SETTINGS_FIELDS = ("no_alert_for_canceled_runs", "no_alert_for_skipped_runs")
JOB_PARAMETER_FIELDS = ("default", "name")
QUEUE_FIELDS = ("enabled",)
HEALTH_FIELDS = ("rules",)
HEALTH_RULE_FIELDS = ("metric", "op", "value")

PRODUCTION_JOB = Level(
    api=(*JOB_SETTINGS_FIELDS, COMMENT),
    # what deploy manages; the rest (trigger, continuous, run_as, git_source, ...) is refused with the
    # reason rather than sent half-understood: the notebooks come from the workspace folder deploy fills
    carried=("name", "description", "tasks", "job_clusters", "environments", "timeout_seconds", "performance_target",
             "schedule", "email_notifications", "webhook_notifications", "notification_settings", "max_concurrent_runs",
             "parameters", "tags", "queue", "health", "edit_mode", COMMENT),
    no_effect=("format",),  # ignored on write, always MULTI_TASK in 2.1+ (reference 1.3)
)
CRON_SCHEDULE = Level(api=CRON_SCHEDULE_FIELDS, carried=("quartz_cron_expression", "timezone_id", "pause_status"))
JOB_EMAIL_NOTIFICATIONS = Level(api=JOB_EMAIL_NOTIFICATIONS_FIELDS, carried=JOB_EMAIL_NOTIFICATIONS_FIELDS)
WEBHOOK_NOTIFICATIONS = Level(api=WEBHOOK_NOTIFICATIONS_FIELDS, carried=WEBHOOK_NOTIFICATIONS_FIELDS)
WEBHOOK = Level(api=("id",), carried=("id",))
JOB_NOTIFICATION_SETTINGS = Level(api=JOB_NOTIFICATION_SETTINGS_FIELDS, carried=JOB_NOTIFICATION_SETTINGS_FIELDS)
JOB_PARAMETER = Level(api=JOB_PARAMETER_FIELDS, carried=JOB_PARAMETER_FIELDS)
QUEUE = Level(api=QUEUE_FIELDS, carried=QUEUE_FIELDS)
HEALTH = Level(api=HEALTH_FIELDS, carried=HEALTH_FIELDS)
HEALTH_RULE = Level(api=HEALTH_RULE_FIELDS, carried=HEALTH_RULE_FIELDS)
