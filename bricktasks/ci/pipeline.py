"""`invoke ci`: upload the build, run the CI job's tasks, wait, report, exit code; `invoke ci --repair`.

settings -> job definition (jobs/ci.json, or the shorthand cluster.json + notebooks), checked -> build info
-> (libraries built by the caller) -> upload libraries -> sync notebooks into CI/<build>-<branch>
-> set_environment(ci) and install_libraries naming the build's uploads -> build manifest -> submit
(the build filled in: bricktasks.ci.runspec) -> wait (timeout, SIGINT/SIGTERM cancel the run)
-> outputs and HTML export -> JUnit + HTML + Markdown (and the CI system's summary) -> exit code.

Repair reruns the failed and skipped tasks of the build's newest run (runs/repair, same run id) with
what that build uploaded: nothing is built or uploaded again. It then waits and reports as ci does.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import NoReturn

from bricktasks import interrupts
from bricktasks.backends.base import Backend, Run, RunSpec
from bricktasks.buildinfo import BuildInfo
from bricktasks.ci.manifest import list_ci_builds, read_build_manifest, write_build_manifest
from bricktasks.ci.plan import CiPlan, plan_ci, plan_ci_job
from bricktasks.ci.quality import build_metrics, quality_comparison
from bricktasks.ci.results import PlannedTask, result_line, task_reports
from bricktasks.ci.runspec import build_run_spec
from bricktasks.ci.summary import CiOutcome, CiProgress, NotebookOutcome, ReportPaths
from bricktasks.clusterspec import ClusterSpec
from bricktasks.console.console import Console
from bricktasks.durations import format_duration
from bricktasks.errors import BackendError, NotFound, UserInputError
from bricktasks.jobdef.definition import JobDefinition
from bricktasks.jobdef.shorthand import shorthand_job
from bricktasks.libraries.upload import LibraryFile, library_spec, require_volume, upload_libraries
from bricktasks.project import Project
from bricktasks.report.ci_native import write_ci_summary
from bricktasks.report.quality import Directions, QualityComparison, render_quality_markdown
from bricktasks.report.quality_metrics import Metrics, as_json
from bricktasks.report.reports import BuildReport, redact, write_reports
from bricktasks.runs.supervise import (
    Interrupted,
    cancel_and_settle,
    cancel_briefly,
    submit_answered,
    supervise_run,
)
from bricktasks.settings import quality_build_count
from bricktasks.workspace.checkout import push_source
from bricktasks.workspace.overwritten import Keeper

__all__ = ["CiPlan", "plan_ci", "plan_ci_job", "run_ci", "build_to_repair", "repair_ci"]


def _replace_previous_build(backend: Backend, plan: CiPlan, console: Console) -> None:
    """Re-running a build id replaces that build: its folder and libraries start empty."""
    for path, is_workspace in ((plan.ci_folder, True), (plan.library_folder, False)):
        try:
            if is_workspace:
                backend.delete(path, recursive=True)
            else:
                backend.delete_file(path, recursive=True)
            console.info(f"replaced the previous contents of {path}")
        except NotFound:
            pass


def run_ci(
    project: Project,
    backend: Backend,
    plan: CiPlan,
    *,
    artifacts: Sequence[LibraryFile],
    cluster: ClusterSpec | None = None,
    timeout_s: float,
    console: Console,
    secrets: list[str],
    dry_run: bool = False,
    progress: CiProgress | None = None,
) -> CiOutcome:
    """Run the build and return how it ended. `progress` (the task's, read in its `finally`) holds the
    outcome known so far when an error or a signal ends run_ci instead; each step records into it.
    `cluster` is the shorthand's (a plan without a job definition); a job definition names its own compute."""
    build = plan.build
    progress = progress or CiProgress(build, plan.ci_folder)
    console.info(f"build {build.build_id} of {build.branch} ({build.commit or 'no commit'}) on the {backend.name} backend")
    if dry_run:
        console.result(f"would upload {project.settings.source_dir}/ to {plan.ci_folder} with set_environment -> ci")
        for artifact in artifacts:
            console.result(f"would upload {artifact.name} to {plan.library_folder}")
        console.result(f"would run {_describe_tasks(plan)} as {plan.run_name} and wait up to {format_duration(timeout_s)}")
        return progress.record(exit_code=0)
    try:
        manifest, spec = _upload(project, backend, plan, artifacts, cluster, timeout_s, console)
        exit_code = _run(project, backend, plan, manifest, spec, timeout_s, console, secrets, progress)
    except Interrupted as interrupted:
        if progress.outcome.run_id is None:
            interrupted.detail = interrupted.detail or "no run was submitted"
        progress.record(exit_code=interrupted.exit_code)
        raise
    return progress.record(exit_code=exit_code)


def _describe_tasks(plan: CiPlan) -> str:
    return ", ".join(
        task.task_key + (f" (after {', '.join(task.depends_on)})" if task.depends_on else "") for task in plan.tasks
    )


def _job(plan: CiPlan, cluster: ClusterSpec | None) -> JobDefinition:
    if plan.job is not None:
        return plan.job
    cluster = cluster or ClusterSpec()
    return shorthand_job(plan.notebooks, compute=cluster.compute, libraries=cluster.libraries, source="cluster.json")


def _upload(project, backend, plan, artifacts, cluster, timeout_s, console) -> tuple[dict, RunSpec]:
    """Replace a previous build of this id, upload the libraries and the notebooks, write the manifest."""
    build = plan.build
    require_volume(backend, plan.library_folder)  # before the previous build is cancelled or replaced
    previous = read_build_manifest(backend, plan.ci_folder)
    if previous and previous.get("run_id") is not None:
        cancel_and_settle(backend, int(previous["run_id"]), settle_s=5)  # the replaced build's run must not go on
    _replace_previous_build(backend, plan, console)
    libraries = upload_libraries(backend, artifacts, plan.library_folder, console=console)
    synced = push_source(
        backend, project.source_dir, plan.ci_folder, env="ci", prune=False, dry_run=False, console=console,
        libraries=[library.remote for library in libraries],
        keeper=Keeper.for_folder(project.root, project.layout.workspace_root, plan.ci_folder),
    )
    console.info(f"uploaded {len(synced.uploaded)} files to {plan.ci_folder}")
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = {
        "build_id": build.build_id,
        "branch": build.branch,
        "commit": build.commit,
        "ci_system": build.ci_system,
        "created": created,
        "run_id": None,
        "libraries": [library.remote for library in libraries],
    }
    write_build_manifest(backend, plan.ci_folder, manifest)
    spec = build_run_spec(
        _job(plan, cluster), ci_folder=plan.ci_folder, run_name=plan.run_name, build=build,
        wheels=[library_spec(library.remote) for library in libraries], timeout_s=timeout_s,
        # one token per invocation: a retried submit finds the same run, a re-run starts a new one
        idempotency_token=hashlib.sha256(f"{plan.ci_folder}:{uuid.uuid4()}".encode()).hexdigest()[:64],
    )
    return manifest, spec


def _run(project, backend, plan, manifest, spec, timeout_s, console, secrets, progress: CiProgress) -> int:
    """Submit, wait and report; a signal in any of these windows cancels the run."""
    # the submit's answer is read even when a signal comes while it is in flight (submit_answered),
    # and from then on every way out cancels the run
    try:
        run_id = submit_answered(lambda: backend.submit_run(spec))
    except Interrupted as interrupted:
        if interrupted.run_id is None:
            interrupted.detail = interrupted.detail or "no run was submitted"
            raise
        progress.record(run_id=interrupted.run_id)
        _cancel_on_the_way_out(project, backend, plan, interrupted, interrupted.run_id, manifest, console, secrets, progress)
    progress.record(run_id=run_id)
    try:
        manifest["run_id"] = run_id
        write_build_manifest(backend, plan.ci_folder, manifest)
        console.info(f"submitted run {run_id} ({plan.run_name})")
    except Interrupted as interrupted:  # between the submit's answer and the wait
        _cancel_on_the_way_out(project, backend, plan, interrupted, run_id, manifest, console, secrets, progress)

    # a live status line on a terminal, a line per state change in a log (same text as before)
    outcome = supervise_run(backend, run_id, timeout_s=timeout_s, on_state=console.run_status(run_id), on_cancel=console.warn)
    try:
        _finish(project, backend, plan, outcome.run, outcome.elapsed_s, manifest, console, secrets, progress)
    except Interrupted as interrupted:  # while the results were fetched: the run had ended already
        if outcome.interrupted:
            raise outcome.interrupted from None
        state = outcome.run.result_state if outcome.run else None
        interrupted.detail = f"run {run_id} had ended ({state or 'unknown'}); the reports may be incomplete"
        raise
    if outcome.interrupted:
        raise outcome.interrupted
    return outcome.exit_code


def _cancel_on_the_way_out(
    project, backend, plan, interrupted: Interrupted, run_id: int, manifest, console, secrets, progress: CiProgress
) -> NoReturn:
    """A signal came after the run was submitted, before the wait: cancel it, report, re-raise."""
    console.warn(f"{interrupted} received; cancelling run {run_id}")
    cancelled = cancel_briefly(backend, run_id)
    interrupted.detail = cancelled.describe(run_id)
    manifest["run_id"] = run_id
    _finish(project, backend, plan, cancelled.run, 0.0, manifest, console, secrets, progress)
    raise interrupted


def _finish(project, backend, plan, run, elapsed, manifest, console, secrets, progress: CiProgress) -> None:
    """Fetch outputs, write the reports and record the result in the build manifest and the outcome."""
    reports = task_reports(backend, run, plan.tasks, elapsed)
    for task_report in reports:
        console.result(result_line(task_report))
    build = plan.build
    result = run.result_state if run else "CANCELED"
    metrics = build_metrics(backend, reports)
    manifest["metrics"] = as_json(metrics)
    report = BuildReport(
        build_id=build.build_id,
        branch=build.branch,
        commit=build.commit,
        ci_folder=plan.ci_folder,
        backend=backend.name,
        started_at=manifest["created"],
        notebooks=reports,
        quality=_quality(project, backend, build, metrics, manifest["created"], result),
    )
    junit, html, summary = write_reports(report, project.results_dir, secrets=secrets)
    # redacted before it is rendered: Markdown escapes (`_` as `\_`) would hide a secret from the text's own pass
    quality_markdown = (render_quality_markdown(report.quality.redacted(lambda text: redact(text, secrets)))
                        if report.quality is not None else None)
    markdown = write_ci_summary(report, project.results_dir, secrets=secrets, environ=project.environ, console=console,
                                run_url=run.run_page_url if run else None, quality_markdown=quality_markdown)
    console.info(f"reports: {junit} {html} {markdown}")
    manifest["result"] = result
    progress.record(
        run_page_url=run.run_page_url if run else None, life_cycle_state=run.life_cycle_state if run else None,
        result=manifest["result"], notebooks=tuple(NotebookOutcome.of(nb) for nb in reports),
        reports=ReportPaths(junit, html, summary, markdown),
    )
    try:
        write_build_manifest(backend, plan.ci_folder, manifest)
    except BackendError as exc:
        console.warn(f"could not record the result in the build manifest: {exc.one_line()}")


def _quality(project: Project, backend: Backend, build: BuildInfo, metrics: Metrics, created: str,
             result: str) -> QualityComparison | None:
    """The comparison with master for the reports; none once a signal came (no requests to spare)."""
    if interrupts.hurried():
        return None
    settings = project.settings
    return quality_comparison(
        backend, project.layout, build, metrics, created=created, result=result,
        branch_builds=quality_build_count(settings),
        directions=Directions.parse(settings.lower_is_better, settings.higher_is_better),
    )


# ---- repair -------------------------------------------------------------------------------------


def build_to_repair(backend: Backend, project: Project, build: BuildInfo) -> BuildInfo:
    """The build `ci --repair` repairs. In a CI system, or with BRICKTASKS_BUILD_ID, that build (a
    re-run of the pipeline job keeps its build id). A developer's build id is made up anew on every
    invocation (git plus a timestamp), so there it is this branch's newest build with a run."""
    if not build.is_local:
        return build
    ours = [found for found in list_ci_builds(backend, project.layout) if found.branch == build.branch and found.run_id is not None]
    if not ours:
        raise UserInputError(
            f"branch {build.branch} has no CI build with a run to repair", "run invoke ci first, or set BRICKTASKS_BUILD_ID"
        )
    newest = max(ours, key=lambda found: found.created)
    manifest = read_build_manifest(backend, newest.path) or {}
    if not manifest.get("build_id"):  # listed with a run id, so its manifest was read: only a race gets here
        raise UserInputError(f"the manifest of {newest.path} names no build id", "set BRICKTASKS_BUILD_ID to the build to repair")
    return replace(build, build_id=str(manifest["build_id"]))


def _newest_run(backend: Backend, plan: CiPlan) -> tuple[dict, Run]:
    """The build's manifest and the run it records; UserInputError when there is nothing to repair."""
    build = plan.build
    which = f"build {build.build_id} of {build.branch}"
    manifest = read_build_manifest(backend, plan.ci_folder)
    if not manifest or manifest.get("run_id") is None:
        raise UserInputError(
            f"{which} has no run to repair (no run recorded in {plan.ci_folder})",
            "run invoke ci first, or set BRICKTASKS_BUILD_ID to the build to repair",
        )
    run_id = int(manifest["run_id"])
    try:
        run = backend.get_run(run_id)
    except NotFound:
        raise UserInputError(f"run {run_id} of {which} no longer exists", "run invoke ci to start a new build") from None
    if not run.is_terminal:
        raise UserInputError(f"run {run_id} of {which} is still {run.life_cycle_state}", "wait for it to end, then repair it")
    if run.succeeded:
        raise UserInputError(f"run {run_id} of {which} succeeded: nothing to repair", "run invoke ci to test new changes")
    return manifest, run


def _planned_from_run(run: Run, plan: CiPlan) -> tuple[PlannedTask, ...]:
    """The run's tasks as they were submitted (the definition may have changed since): key,
    notebook, path and dependencies, from the run itself."""
    prefix = plan.ci_folder.rstrip("/") + "/"
    known = {task.task_key: task for task in plan.tasks}
    planned = []
    for task in run.latest_tasks():
        path = task.notebook_path or (known[task.task_key].notebook_path if task.task_key in known else "")
        notebook = path[len(prefix):] if path.startswith(prefix) else (path.rsplit("/", 1)[-1] or task.task_key)
        planned.append(PlannedTask(task.task_key, notebook, path, tuple(task.depends_on)))
    return tuple(planned) or plan.tasks


def repair_ci(
    project: Project,
    backend: Backend,
    plan: CiPlan,
    *,
    timeout_s: float,
    console: Console,
    secrets: list[str],
    progress: CiProgress | None = None,
) -> CiOutcome:
    """Rerun the failed and skipped tasks of the build's newest run, wait and report like run_ci.

    Nothing is built or uploaded: the rerun tasks use what the build uploaded (its notebooks in
    CI/<build>-<branch>, its wheel), so a repair cures a flaky step, not a code change."""
    progress = progress or CiProgress(plan.build, plan.ci_folder)
    manifest, run = _newest_run(backend, plan)
    plan = replace(plan, tasks=_planned_from_run(run, plan))
    progress.record(run_id=run.run_id)
    console.info(
        f"repairing run {run.run_id} ({run.result_state}): rerunning its failed and skipped tasks with the build's uploads"
    )
    try:
        exit_code = _repair(project, backend, plan, run, manifest, timeout_s, console, secrets, progress)
    except Interrupted as interrupted:
        progress.record(exit_code=interrupted.exit_code)
        raise
    return progress.record(exit_code=exit_code)


def _repair(project, backend, plan, run: Run, manifest, timeout_s, console, secrets, progress: CiProgress) -> int:
    run_id = run.run_id
    try:
        repair_id = submit_answered(
            lambda: backend.repair_run(run_id, rerun_all_failed_tasks=True, latest_repair_id=run.latest_repair_id)
        )
    except Interrupted as interrupted:
        if interrupted.run_id is None:  # no repair started: the run is as it was
            interrupted.detail = interrupted.detail or f"run {run_id} was not repaired"
            raise
        _cancel_on_the_way_out(project, backend, plan, interrupted, run_id, manifest, console, secrets, progress)
    console.info(f"repair {repair_id} of run {run_id} started")
    manifest["repair_ids"] = [*manifest.get("repair_ids", []), repair_id]
    outcome = supervise_run(backend, run_id, timeout_s=timeout_s, on_state=console.run_status(run_id), on_cancel=console.warn)
    try:
        _finish(project, backend, plan, outcome.run, outcome.elapsed_s, manifest, console, secrets, progress)
    except Interrupted:
        if outcome.interrupted:
            raise outcome.interrupted from None
        raise
    if outcome.interrupted:
        raise outcome.interrupted
    return outcome.exit_code
