"""The invoke tasks: each resolves settings, then calls one plain function.

Every task also takes --quiet (only warnings, errors and the result line) and --json (one JSON
object with the outcome on stdout); see bricktasks.cli.guard.

Exit codes (all tasks): 0 success; 1 the run failed; 2 bad input or configuration (nothing
changed); 124 --timeout reached (run cancelled); 130/143 SIGINT/SIGTERM (run cancelled).
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from invoke import Collection

# Every task, and `invoke --list`, imports this module: what only some tasks use (the CI pipeline
# and its reports, job definitions, library builds, status and pull) is imported in those tasks,
# so a checkout's start-up does not pay for it (tests/unit/test_startup_imports.py).
from bricktasks.buildinfo import refuse_protected
from bricktasks.cli.guard import bricktask
from bricktasks.cli.invocation import TaskOutput
from bricktasks.console.console import Console, printable
from bricktasks.durations import parse_duration, parse_timeout
from bricktasks.errors import UserInputError
from bricktasks.layout import branch_folder
from bricktasks.project import Project, load_project, local_secrets, open_backend
from bricktasks.settings import unvalidated_secrets
from bricktasks.source.items import SourceItem
from bricktasks.source.secrets_scan import refuse_tracked_dotenv, scan_for_credentials
from bricktasks.workspace import checkout as workspace
from bricktasks.workspace.overwritten import Keeper

__all__ = ["namespace"]


def _project_dir(c) -> Path:
    configured = c.config.get("bricktasks", {}).get("project_dir")
    return Path(configured) if configured else Path.cwd()


def _load(c, out: TaskOutput, **flags: Any) -> tuple[Project, Console]:
    root = _project_dir(c)
    out.console(unvalidated_secrets(root, os.environ))  # an error raised while loading the settings is redacted too
    # the project's own defaults (BRICKTASKS_SOURCE_DIR, ...), as its tasks.py configures them
    defaults = dict(c.config.get("bricktasks", {}).get("settings", {}) or {})
    project = load_project(root, os.environ, flags, project_defaults=defaults)
    # the workspace token, and the local runs' secret values (a notebook may print them back)
    local = [value for scope in local_secrets(os.environ, project.root).values() for value in scope.values()]
    return project, out.console([*project.settings.secret_values(), *local])


def _check_source(project: Project) -> list[SourceItem]:
    """The working copy, read once: scanned for credentials and checked (names, sizes, collisions)
    before any request; the sync sends exactly these bytes."""
    refuse_tracked_dotenv(project.root)
    return workspace.check_source(project.source_dir, scan_for_credentials(project.source_dir))


@bricktask(
    help={
        "notebook": "notebook of the working copy to run, e.g. ModelTraining",
        "env": "config to use: conf/<env>_config (default: BRICKTASKS_ENV)",
        "timeout": "cancel the run after this long, e.g. 90s, 25m (default: BRICKTASKS_TIMEOUT)",
    }
)
def run(c, out, notebook, env=None, timeout=None):
    """Run a notebook of the working copy on the local backend and print its exit value."""
    from bricktasks.libraries import targets
    from bricktasks.runs.local import run_notebook_locally
    from bricktasks.runs.local_spark import check_local_spark

    project, console = _load(c, out, env=env, timeout=timeout)
    name = project.check_notebook(notebook)
    chosen_env = project.check_env(project.settings.env)
    check_local_spark(project.source_dir, [name])  # pyspark is an extra: say so before anything runs
    limit = parse_timeout(project.settings.timeout)
    branch = project.resolve_branch(None, default="local")
    out.record(notebook=name, env=chosen_env, branch=branch)
    built = targets.build_for(project, targets.BuildTarget.local(project, branch), kind="wheel", console=console)
    return run_notebook_locally(project, name, chosen_env, built, timeout_s=limit, console=console, branch=branch)


def _build_libraries(c, out, kind: str, branch, build_id, master) -> None:
    from bricktasks.libraries import targets

    project, console = _load(c, out, branch=branch, build_id=build_id)
    target = targets.target_for(project, branch=branch, build_id=build_id, master=master)
    paths = [os.fspath(artifact) for artifact in targets.build_for(project, target, kind=kind, console=console)]
    out.record(kind=kind, artifacts=paths)
    for path in paths:
        console.result(path)


@bricktask(
    help={
        "branch": "stamp the version for this branch (default: the current git branch)",
        "build_id": "stamp the version for this CI build id",
        "master": "stamp a master (release) version",
    }
)
def build_wheel(c, out, branch=None, build_id=None, master=False):
    """Build every library under libs/ as a wheel into dist/, with a unique traceable version."""
    _build_libraries(c, out, "wheel", branch, build_id, master)


@bricktask(
    help={
        "branch": "stamp the version for this branch (default: the current git branch)",
        "build_id": "stamp the version for this CI build id",
        "master": "stamp a master (release) version",
    }
)
def build_egg(c, out, branch=None, build_id=None, master=False):
    """Build every library under libs/ as an egg (Databricks Runtime 13 and older only)."""
    _build_libraries(c, out, "egg", branch, build_id, master)


@bricktask(
    help={
        "branch": "upload into the branch's library folder (default: the current git branch)",
        "build_id": "upload into the CI build's library folder CI/<build>-<branch>",
        "master": "upload into the master library folder (the library root itself)",
        "egg": "upload eggs instead of wheels (Databricks Runtime 13 and older)",
        "dry_run": "print what would be uploaded; change nothing",
    }
)
def upload_lib(c, out, branch=None, build_id=None, master=False, egg=False, dry_run=False):
    """Build the libraries and upload them where the target's clusters install them."""
    from bricktasks.libraries import targets
    from bricktasks.workspace import publish

    project, console = _load(c, out, branch=branch, build_id=build_id)
    target = targets.target_for(project, branch=branch, build_id=build_id, master=master)
    kind = "egg" if egg else "wheel"
    targets.check_kind_supported(project, kind)
    backend = open_backend(project, os.environ)
    destination, uploaded = publish.publish_libraries(project, backend, target, kind=kind, dry_run=dry_run, console=console)
    out.record(
        folder=destination, dry_run=dry_run,
        libraries=[{"remote": library.remote, "unchanged": library.skipped} for library in uploaded],
    )
    for library in uploaded:
        console.result(library.remote)


@bricktask(
    aliases=["checkout"],
    positional=["branch"],
    help={
        "branch": "branch whose folder to fill, e.g. BI-5613 or feature/x (\"$(git branch --show-current)\" for the current one)",
        "env": "config set_environment selects, conf/<env>_config (default: BRICKTASKS_ENV)",
        "prune": "also delete workspace objects that no longer exist in the working copy",
        "jobs": "also deploy the branch's paused copies of jobs/production/*.json, named [BRANCH] <name>",
        "dry_run": "print the plan; change nothing",
        "force": "overwrite edits made in the workspace since the last checkout without keeping a copy in .bricktasks/",
        "watch": "after the checkout, sync every change of the working copy until Ctrl-C (--prune: deletions too)",
    },
)
def checkout_branch(c, out, branch, env=None, prune=False, jobs=False, dry_run=False, force=False, watch=False):
    """Push the working copy's notebooks into the branch's workspace folder: invoke checkout BI-5613."""
    # The branch is a required positional argument, as in the article (`invoke checkout BI-5613`):
    # invoke's parser has no optional positionals, and a flag would break that muscle memory.
    project, console = _load(c, out, env=env, branch=branch)
    chosen = project.resolve_branch(branch)
    refuse_protected(chosen, action="check out")
    chosen_env = project.check_env(project.settings.env)
    if watch and dry_run:
        raise UserInputError("--watch syncs every change; --dry-run changes nothing", "pass one of them")
    source = _check_source(project)
    definitions = None
    if jobs:
        from bricktasks.jobs.deploy import deploy_branch_jobs, entry_record, load_master_jobs

        definitions = load_master_jobs(project)  # every definition checked before the folder changes
    backend = open_backend(project, os.environ)
    keeper_for = None if force else lambda: Keeper.for_folder(project.root, project.layout.workspace_root, project.layout.branch(chosen))
    result = workspace.checkout(
        backend, project.layout, project.source_dir, chosen, env=chosen_env, prune=prune, dry_run=dry_run, console=console,
        keeper=keeper_for() if keeper_for else None, source=source,
    )
    plan = deploy_branch_jobs(project, backend, definitions, chosen, dry_run=dry_run, console=console) if jobs else None
    out.record(
        branch=chosen, folder=result.target, env=chosen_env, dry_run=dry_run, uploaded=len(result.uploaded),
        unchanged=len(result.unchanged), pruned=len(result.pruned), not_in_working_copy=len(result.extra),
        **({"jobs": [entry_record(entry) for entry in plan.entries]} if plan is not None else {}),
    )
    if watch:
        from bricktasks.workspace.watch import watch_folder  # here: the other tasks' start-up does not pay for it

        return watch_folder(backend, project.source_dir, result.target, prune=prune, console=console, keeper_for=keeper_for)


@bricktask(
    help={
        "env": "config to select: conf/<env>_config",
        "branch": "branch whose folder to switch (default: the current git branch)",
        "force": "allow the production config outside master/",
        "dry_run": "print what would change; change nothing",
    }
)
def switch_env(c, out, env, branch=None, force=False, dry_run=False):
    """Point a branch folder's set_environment at conf/<env>_config."""
    project, console = _load(c, out, branch=branch)
    chosen = project.resolve_branch(branch)
    refuse_protected(chosen, action="switch the env of")
    valid = project.envs()
    project.check_env(env)
    if env == "production" and not force:
        raise UserInputError("the production config outside master/ could overwrite production data", "pass --force if you mean it")
    backend = open_backend(project, os.environ)
    folder = project.layout.branch(chosen)
    workspace.switch_env(backend, folder, env, valid_envs=valid, dry_run=dry_run, console=console)
    out.record(branch=chosen, folder=folder, env=env, dry_run=dry_run)


@bricktask(
    help={
        "branch": "the branch whose folder to compare (default: the current git branch; on main/master: master/)",
        "master": "compare master/ (read-only)",
        "build": "compare a CI build's folder, named as invoke builds lists it (read-only)",
        "env": "the config set_environment should select, conf/<env>_config (default: BRICKTASKS_ENV)",
    }
)
def status(c, out, branch=None, master=False, build=None, env=None):
    """What differs between the working copy and its workspace folder, both ways; writes nothing.
    Exit 0 when they match, 1 when they differ."""
    from bricktasks.workspace.status import LEGEND, compared_folder, folder_status, format_status, status_record

    project, console = _load(c, out, env=env, branch=branch)
    folder = compared_folder(project, branch=branch, master=master, build=build)
    source = workspace.check_source(project.source_dir)
    backend = open_backend(project, os.environ)
    destination, libraries = workspace.survey_with_libraries(backend, folder.target, folder.library_folder)
    compared = folder_status(backend, project.source_dir, folder.target, env=folder.env, libraries=libraries,
                             destination=destination, made_by=folder.made_by, source=source)
    out.record(**status_record(compared))
    console.info(f"{project.settings.source_dir}/ vs {folder.target}; {LEGEND}")
    for line in format_status(compared, prefix=f"{project.settings.source_dir}/"):
        console.result(line)
    if compared.clean:
        console.result(f"{project.settings.source_dir}/ and {folder.target} match")
        return 0
    if not compared.synced:
        console.info(f"{folder.target} has no sync record: invoke checkout writes one")
    return 1


@bricktask(
    help={
        "branch": "the branch whose folder to pull from (default: the current git branch)",
        "theirs": "for files changed on both sides, take the workspace's version (yours is kept in .bricktasks/)",
        "ours": "for files changed on both sides, keep the working copy's (the next checkout sends it)",
        "env": "the config set_environment selects, conf/<env>_config (default: BRICKTASKS_ENV)",
        "dry_run": "print what would be pulled; change nothing",
    }
)
def pull(c, out, branch=None, theirs=False, ours=False, env=None, dry_run=False):
    """Bring edits made in the branch's workspace folder into the working copy (never the helper
    notebooks, never a file changed here too unless --theirs / --ours)."""
    from bricktasks.workspace.pull import apply_pull, describe_pull, plan_pull
    from bricktasks.workspace.status import compared_folder

    project, console = _load(c, out, env=env, branch=branch)
    if theirs and ours:
        raise UserInputError("--theirs and --ours contradict each other", "pass one of them")
    folder = compared_folder(project, branch=branch, master=False, build=None)
    if folder.read_only:
        raise UserInputError(f"pull brings a branch folder's edits; {folder.target} is written only by {folder.made_by}",
                             "check out a branch (git switch -c BI-1) and pull from its folder")
    source_items = workspace.check_source(project.source_dir)
    backend = open_backend(project, os.environ)
    destination, libraries = workspace.survey_with_libraries(backend, folder.target, folder.library_folder)
    resolve = "theirs" if theirs else ("ours" if ours else None)
    plan = plan_pull(backend, project.source_dir, folder.target, env=folder.env, libraries=libraries,
                     resolve=resolve, destination=destination, source=source_items)
    for difference, why in plan.skipped:
        console.warn(f"not pulled {folder.target}/{printable(difference.rel)}: {why}")
    source = project.settings.source_dir
    if dry_run or plan.refused:
        for line in describe_pull(plan, prefix=f"{source}/"):
            console.result(line)
    out.record(folder=folder.target, dry_run=dry_run, conflicts=[entry.rel for entry in plan.conflicts],
               skipped=[{"workspace_path": difference.rel, "why": why} for difference, why in plan.skipped])
    if dry_run:
        if plan.refused:
            raise UserInputError(f"{len(plan.conflicts)} file(s) changed on both sides", "pass --theirs or --ours")
        return 0
    result = apply_pull(backend, project.source_dir, plan, keeper=Keeper(project.root, f"working-copy/{folder.label}"), console=console,
                        prefix=f"{source}/")
    for rel, kept in result.kept.items():
        console.info(f"the working copy's {source}/{printable(rel)} was kept in {printable(kept)}")
    out.record(written=sorted(result.written), deleted=result.deleted, kept=result.kept, recorded=result.recorded, left=result.left)
    console.result(f"pulled {len(result.written)}, deleted {len(result.deleted)} from {folder.target}"
                   + ("" if result.written or result.deleted else ": nothing to pull"))
    return 0


@bricktask(
    aliases=["ci"],
    help={
        "timeout": "cancel the run after this long (default: BRICKTASKS_TIMEOUT, 25m)",
        "notebooks": "without a job definition: comma-separated notebooks to run (default: BRICKTASKS_CI_NOTEBOOKS)",
        "repair": "rerun only the failed and skipped tasks of this build's newest run (nothing is uploaded)",
        "dry_run": "print the plan; change nothing",
    },
)
def run_ci(c, out, timeout=None, notebooks=None, repair=False, dry_run=False):
    """Build, upload into CI/<build>-<branch>, run the CI job's tasks, wait, report; fail unless it succeeded."""
    from bricktasks.ci import pipeline
    from bricktasks.ci.plan import choose_plan
    from bricktasks.ci.summary import CiProgress
    from bricktasks.clusterspec import load_cluster_spec
    from bricktasks.libraries import targets

    project, console = _load(c, out, timeout=timeout, ci_notebooks=notebooks)
    limit = parse_timeout(project.settings.timeout)
    if repair and dry_run:
        raise UserInputError("--repair and --dry-run do not go together", "drop --dry-run: a repair changes only the run")
    build = project.build_info()
    plan = choose_plan(project, build, notebooks)  # checked before any request, also for a repair
    cluster = None if plan.job or repair else load_cluster_spec(project.cluster_spec_path)
    if project.settings.backend == "local" and not dry_run:
        from bricktasks.runs.local_spark import check_local_spark

        check_local_spark(project.source_dir, plan.notebooks)  # pyspark is an extra: say so before anything runs
    if not repair:
        _check_source(project)
    backend = open_backend(project, os.environ)
    if repair:
        build = pipeline.build_to_repair(backend, project, build)
        plan = choose_plan(project, build, notebooks)
    out.record(build_id=build.build_id, branch=build.branch, commit=build.commit, folder=plan.ci_folder, dry_run=dry_run)
    progress = CiProgress(build, plan.ci_folder)
    try:
        if repair:  # the build's uploads as they are: nothing is built or uploaded again
            return pipeline.repair_ci(
                project, backend, plan, timeout_s=limit, console=console, secrets=console.secrets, progress=progress,
            ).exit_code
        built = targets.build_for(project, targets.BuildTarget.ci(build), kind="wheel", console=console, dry_run=dry_run)
        return pipeline.run_ci(
            project, backend, plan, artifacts=built, cluster=cluster, timeout_s=limit, console=console,
            secrets=console.secrets, dry_run=dry_run, progress=progress,  # the token and the local runs' secrets, as in every line
        ).exit_code
    finally:  # also when an error or a signal ended it: the summary names the run that was cancelled
        if not dry_run:
            out.record(**progress.outcome.json_fields())


@bricktask(help={"branch": "list only this branch's builds (default: every branch)"})
def builds(c, out, branch=None):
    """List the CI builds, newest first: branch, age and result (running while the run is active)."""
    from bricktasks.ci.builds import ci_build_statuses, format_table

    project, console = _load(c, out)
    if branch is not None:
        branch_folder(branch)  # validate before asking the workspace
    backend = open_backend(project, os.environ)
    statuses = ci_build_statuses(backend, project.layout, now=datetime.now(timezone.utc), branch=branch)
    out.record(folder=project.layout.ci_root, builds=[status.as_dict() for status in statuses])
    if not statuses:
        console.result(f"no CI builds{f' of {branch}' if branch else ''} in {project.layout.ci_root}")
        return
    for line in format_table(statuses):
        console.result(line)


@bricktask(
    help={
        "older_than": "delete builds older than this: 90m, 12h, 30d, 2w",
        "dry_run": "list what would be deleted; change nothing",
    }
)
def clean_ci(c, out, older_than, dry_run=False):
    """Delete old CI build folders and their libraries; never an active build, never anything else."""
    from bricktasks.ci import clean

    project, console = _load(c, out)
    age = parse_duration(older_than, name="--older-than")
    backend = open_backend(project, os.environ)
    outcome = clean.clean_ci(backend, project.layout, age, now=datetime.now(timezone.utc), dry_run=dry_run, console=console)
    out.record(older_than=older_than, dry_run=dry_run, **outcome)
    verb = "would delete" if dry_run else "deleted"
    labels = (("malformed", "malformed"), ("not_a_build", "not a build"))
    odd = "".join(f", {label} {len(outcome[key])}" for key, label in labels if outcome[key])
    console.result(f"{verb} {len(outcome['deleted'])}, kept {len(outcome['kept'])}, active {len(outcome['active'])}{odd}")


@bricktask(
    positional=["branch"],
    help={
        "branch": "the merged branch whose folder, libraries and job copies to remove, e.g. BI-5613",
        "force": "cancel a copy's active run instead of refusing",
        "dry_run": "list everything that would be removed; change nothing",
    },
)
def clean_branch(c, out, branch, force=False, dry_run=False):
    """After a merge: remove a branch's workspace folder, its libraries and its job copies (by our tags only)."""
    from bricktasks.jobs.clean_branch import branch_targets
    from bricktasks.jobs.clean_branch import clean_branch as clean_branch_jobs

    project, console = _load(c, out)
    branch_targets(project.layout, branch)  # a refused name costs no request, not even the backend's first
    backend = open_backend(project, os.environ)
    outcome = clean_branch_jobs(backend, project.layout, branch, force=force, dry_run=dry_run, console=console)
    out.record(dry_run=dry_run, **outcome.record())
    verb = "would remove" if dry_run else "removed"
    console.result(f"{verb} {len(outcome.removed)} for {branch}, already gone {len(outcome.absent)}")


@bricktask(
    help={
        "force": "deploy from a branch other than main/master",
        "prune": "delete objects in master/ that are not in the working copy (default: on)",
        "remove_jobs": "delete our jobs whose definition was removed from git",
        "dry_run": "print the plan (files and jobs); change nothing",
    }
)
def deploy(c, out, force=False, prune=True, remove_jobs=False, dry_run=False):
    """Refresh master/ and the master libraries from a clean main/master working copy, then bring the
    production jobs (jobs/production/*.json) to git: a plan first, then create / reset / delete."""
    from bricktasks.jobs.deploy import deploy_jobs, entry_record, load_master_jobs
    from bricktasks.libraries.upload import library_spec
    from bricktasks.workspace import publish

    project, console = _load(c, out)
    publish.check_deployable(project.root, force=force)
    _check_source(project)
    jobs = load_master_jobs(project)  # every definition checked before master/ changes
    backend = open_backend(project, os.environ)
    deployed = publish.deploy_master(project, backend, prune=prune, dry_run=dry_run, console=console)
    result = deployed.sync
    verb = "would upload" if dry_run else "uploaded"
    console.result(f"{verb} {len(result.uploaded)}, unchanged {len(result.unchanged)}, pruned {len(result.pruned)}")
    plan = deploy_jobs(
        project, backend, jobs, libraries=[library_spec(remote) for remote in deployed.libraries],
        remove=remove_jobs, dry_run=dry_run, console=console,
    )
    out.record(
        folder=deployed.folder, dry_run=dry_run, libraries=deployed.libraries,
        uploaded=len(result.uploaded), unchanged=len(result.unchanged), pruned=len(result.pruned),
        jobs=[entry_record(entry) for entry in plan.entries],
    )


@bricktask(
    aliases=["jobs"],
    help={
        "branch": "list only this branch's copies (default: master's and every branch's)",
        "master": "list only master's jobs",
    },
)
def saved_jobs(c, out, branch=None, master=False):
    """List the project's saved jobs: target, definition file, schedule, last run's result and age, URL."""
    from bricktasks.jobs.listing import format_jobs, job_statuses, project_jobs

    project, console = _load(c, out)
    if branch is not None and master:
        raise UserInputError("--branch and --master do not go together", "pass one of them, or neither for every job")
    if branch is not None:
        branch_folder(branch)  # validate before asking the workspace
    backend = open_backend(project, os.environ)
    ours = project_jobs(backend, project.layout.workspace_root, branch=branch, master_only=master)
    statuses = job_statuses(backend, ours, now=datetime.now(timezone.utc))
    out.record(root=project.layout.workspace_root, jobs=[status.as_dict() for status in statuses])
    if not statuses:
        which = f" of branch {branch}" if branch else " of master" if master else ""
        how = (f"invoke checkout {branch} --jobs makes its copies" if branch
               else "invoke deploy makes master's from jobs/production/*.json")
        console.result(f"no saved jobs{which} in {project.layout.workspace_root}; {how}")
        return
    for line in format_jobs(statuses):
        console.result(line)


@bricktask(
    aliases=["run-job"],
    positional=["name"],
    iterable=["param"],
    help={
        "name": "the job's definition name (\"Forecast training\") or file (training / training.json)",
        "branch": "run this branch's copy instead of master's job",
        "param": "a job parameter, KEY=VALUE (repeatable); only the job's declared parameters",
        "no_wait": "print the run's URL and exit right after starting it",
        "timeout": "cancel the run after this long (default: BRICKTASKS_TIMEOUT, 25m)",
    },
)
def run_saved_job(c, out, name, branch=None, param=None, no_wait=False, timeout=None):
    """Run one of the project's saved jobs now (run-now), wait, report like ci; fail unless it succeeded."""
    from bricktasks.jobs.runjob import JobRunProgress, check_params, find_job, parse_params, run_job

    project, console = _load(c, out, timeout=timeout)
    limit = parse_timeout(project.settings.timeout)
    params = parse_params(param or [])
    folder = project.layout.master if branch is None else project.layout.branch(branch)  # validates the branch
    backend = open_backend(project, os.environ)
    job = find_job(backend, project.layout.workspace_root, name, branch=branch)
    job_parameters = check_params(job, params)
    out.record(job_id=job.job_id, job=job.name, target="master" if branch is None else f"branch {branch}",
               parameters=job_parameters)
    progress = JobRunProgress(job, folder)
    try:
        return run_job(project, backend, job, folder=folder, job_parameters=job_parameters, timeout_s=limit,
                       wait=not no_wait, console=console, secrets=console.secrets, progress=progress)
    finally:  # also when an error or a signal ended it: the record names the run that was cancelled
        outcome = progress.outcome  # --no-wait writes no reports, yet its record names the run's page
        out.record(**{**outcome.json_fields(), "run_page_url": outcome.run_page_url})


namespace = Collection(
    run, build_wheel, build_egg, upload_lib, checkout_branch, switch_env, status, pull, run_ci, builds, clean_ci, clean_branch, deploy,
    saved_jobs, run_saved_job,
)
