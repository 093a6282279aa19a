"""What a CI build will run: its folders, run name and tasks (`CiPlan`), from the job definition
(BRICKTASKS_CI_JOB, default jobs/ci.json) or, without one, the shorthand (BRICKTASKS_CI_NOTEBOOKS
on cluster.json). Everything here is checked before any request is made.
"""
from __future__ import annotations

from dataclasses import dataclass

from bricktasks.buildinfo import BuildInfo
from bricktasks.ci.results import PlannedTask
from bricktasks.errors import ConfigError, UserInputError
from bricktasks.jobdef.definition import JobDefinition, load_job_definition
from bricktasks.jobdef.shorthand import notebook_task_key
from bricktasks.layout import join
from bricktasks.project import Project

__all__ = ["CiPlan", "choose_plan", "plan_ci", "plan_ci_job", "shorthand_notebooks"]


@dataclass(frozen=True)
class CiPlan:
    """What ci will run: the build's folders and run name, and its tasks. `job` is the job
    definition they come from; None for the shorthand, which run_ci builds from cluster.json."""

    build: BuildInfo
    ci_folder: str
    library_folder: str
    run_name: str
    tasks: tuple[PlannedTask, ...]
    job: JobDefinition | None = None

    @property
    def notebooks(self) -> list[str]:
        return [task.notebook for task in self.tasks]


def _folders(project: Project, build: BuildInfo) -> tuple[str, str, str]:
    layout = project.layout
    name = layout.ci_build_name(build.build_id, build.branch)
    return name, layout.ci_build(build.build_id, build.branch), layout.ci_libraries(build.build_id, build.branch)


def plan_ci(project: Project, build: BuildInfo, notebooks: list[str]) -> CiPlan:
    """The shorthand's plan (each notebook a task on cluster.json's cluster); every name validated
    before anything is touched."""
    checked = [project.check_notebook(name) for name in notebooks]
    project.check_env("ci")
    name, folder, libraries = _folders(project, build)
    tasks = tuple(PlannedTask(notebook_task_key(notebook), notebook, join(folder, notebook)) for notebook in checked)
    return CiPlan(build, folder, libraries, f"CI-{name}", tasks)


def plan_ci_job(project: Project, build: BuildInfo, job: JobDefinition) -> CiPlan:
    """The plan of a job definition (already checked by bricktasks.jobdef)."""
    project.check_env("ci")
    name, folder, libraries = _folders(project, build)
    tasks = tuple(
        PlannedTask(task.task_key, task.notebook, join(folder, task.notebook), task.depends_on) for task in job.tasks
    )
    return CiPlan(build, folder, libraries, f"{job.run_name or 'CI'}-{name}", tasks, job)


def choose_plan(project: Project, build: BuildInfo, notebooks: str | None) -> CiPlan:
    """The CI run's plan: the job definition's (BRICKTASKS_CI_JOB, default jobs/ci.json) where there
    is one, else the shorthand's (BRICKTASKS_CI_NOTEBOOKS on cluster.json). Naming notebooks while a
    definition exists is refused: the definition names the run's tasks, their order and compute, and
    running other notebooks instead, or some of its tasks without the upstream tasks whose values
    they read, would not be the run the file describes."""
    path = project.ci_job_path
    shown = project.shown(path)
    if not path.exists():
        if project.settings.ci_job:  # named on purpose: a typo must not fall back to the shorthand
            raise ConfigError(f"BRICKTASKS_CI_JOB {shown} does not exist", "point it at a job definition, or unset it")
        return plan_ci(project, build, shorthand_notebooks(project, notebooks))
    if notebooks is not None or project.settings.ci_notebooks is not None:
        given = "--notebooks" if notebooks is not None else "BRICKTASKS_CI_NOTEBOOKS"
        raise UserInputError(
            f"{given} applies only without a job definition, and {shown} defines the CI run's tasks",
            f"edit the tasks in {shown}, or drop {given}",
        )
    job = load_job_definition(path, shown=shown, notebooks=project.notebooks(), source_dir=project.settings.source_dir)
    return plan_ci_job(project, build, job)


def shorthand_notebooks(project: Project, flag: str | None) -> list[str]:
    """The notebooks the shorthand runs. A list that is empty once split (`--notebooks " , ,"`, or an explicit
    `--notebooks ""`) is refused: read as "none" the build would pass having run nothing, read as
    "the default" it would run what was not asked for."""
    names = project.settings.ci_notebook_list
    given = flag if flag is not None else project.settings.ci_notebooks
    if not names or (flag is not None and not flag.strip()):
        source = "--notebooks" if flag is not None else "BRICKTASKS_CI_NOTEBOOKS"
        raise UserInputError(f"{source} {given!r} names no notebook", "give comma-separated notebooks, e.g. ModelTraining,PrepareData")
    return names
