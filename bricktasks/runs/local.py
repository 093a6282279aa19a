"""`invoke run`: run one notebook of the working copy on the local backend.

The working copy goes into `<workspace root>/.local-runs/<branch>` of the local backend (a
folder no branch name can map to), with set_environment selecting the chosen config; the
freshly built libraries are attached to the run as a cluster would install them.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from bricktasks.backends.base import ExistingCluster, NotebookTask, RunSpec
from bricktasks.console.console import Console
from bricktasks.layout import branch_folder, join
from bricktasks.libraries.upload import LibraryFile, library_spec, upload_libraries
from bricktasks.project import Project, open_local_backend
from bricktasks.runs.supervise import supervise_run
from bricktasks.workspace.checkout import push_source
from bricktasks.workspace.overwritten import Keeper

__all__ = ["LOCAL_RUNS", "run_notebook_locally"]

LOCAL_RUNS = ".local-runs"


LOCAL_CLUSTER_ID = "local"


def run_notebook_locally(
    project: Project, notebook: str, env: str, libraries: Sequence[LibraryFile], *, timeout_s: float, console: Console, branch: str
) -> int:
    backend = open_local_backend(project, os.environ)
    folder = join(project.layout.workspace_root, LOCAL_RUNS, branch_folder(branch))
    # beside the folder, not in it: the sync below prunes whatever the working copy does not hold
    library_folder = join(project.layout.workspace_root, LOCAL_RUNS, ".libraries", branch_folder(branch))
    uploaded = upload_libraries(backend, libraries, library_folder, console=Console(quiet=True))
    push_source(
        backend, project.source_dir, folder, env=env, prune=True, dry_run=False, console=Console(quiet=True),
        libraries=[library.remote for library in uploaded],
        keeper=Keeper.for_folder(project.root, project.layout.workspace_root, folder),
    )
    spec = RunSpec(
        run_name=f"local {notebook} ({env})",
        # the branch as a parameter, as a CI job would pass it: notebooks that declare a `branch` widget
        # (ModelTraining tags its MLflow run with it) see it; the others ignore it
        tasks=(
            NotebookTask(
                task_key=notebook.replace("/", "_"), notebook_path=join(folder, notebook), base_parameters={"branch": branch}
            ),
        ),
        # this machine as a developer's all-purpose cluster: it installs the run's libraries (a
        # serverless task would install none, leaving it to the notebook's install_libraries)
        compute=ExistingCluster(LOCAL_CLUSTER_ID),
        libraries=tuple(library_spec(library.remote) for library in uploaded),
        timeout_seconds=int(timeout_s),
    )
    run_id = backend.submit_run(spec)
    console.info(f"running {notebook} with conf/{env}_config (run {run_id}, logs in {backend.run_log_location(run_id)})")

    outcome = supervise_run(backend, run_id, timeout_s=timeout_s, on_state=console.run_status(run_id), on_cancel=console.warn)
    task = outcome.run.tasks[0] if outcome.run and outcome.run.tasks else None
    result = backend.task_result(task.run_id) if task else None
    if result and result.get("status") == "SUCCESS":
        console.result(f"exit value: {result.get('exit_value')}")
    elif result:
        console.error(f"cell {result.get('failed_cell')} of {notebook} failed: {result.get('error')}")
        if result.get("error_trace"):
            console.info(result["error_trace"])
    elif task:
        console.error(f"{notebook} ended {task.result_state or task.life_cycle_state}: {task.state_message}")
    if outcome.interrupted:
        raise outcome.interrupted
    return outcome.exit_code
