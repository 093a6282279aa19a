"""Benchmark: the example's CI DAG on serverless vs on new job clusters, `invoke ci` wall time side by side.

How to run (from the repository root, after `python -m pip install -r requirements.txt`):

    python benchmarks/dag_compute.py                      # the scaled-down model: about 10 minutes
    python benchmarks/dag_compute.py --cluster-start-s 300 --runs 1   # the published start-up itself

What it measures: the same three-task DAG (PrepareData -> ModelTraining -> Evaluate: the example
project's jobs/ci.json and jobs/ci-classic.json, chosen with BRICKTASKS_CI_JOB) run by `invoke ci`
against one emulator started with `--cluster-start-s S`, which holds every task on a new job
cluster PENDING for S seconds before it starts (serverless and existing clusters start at once). The notebooks really run, with local
Spark, behind the emulator. The two specs alternate (serverless, classic, classic, serverless, ...)
so drift of this shared machine falls on both; the table shows each run, the medians and the ratio.

This is a MODEL, not a measurement of Databricks: the modelled start-up is the main difference
between the two (classic tasks also take the build's wheel as a task library, serverless ones
install it in the notebook), and its length is a figure someone published (printed with its
source), by default scaled down so the benchmark ends in minutes. A "projection" line then scales the measured difference to the
published figure; it is arithmetic, not a run. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bricktasks.testing.emulator import EmulatorProcess, client_environment, workspace_client  # noqa: E402
from bricktasks.testing.projectcopy import ProjectCopy  # noqa: E402

TOKEN = "bench-token"
DEFAULT_START_S = 60.0  # the scaled-down model: a fifth of the published figure
DEFAULT_RUNS = 2


@dataclass(frozen=True)
class Figure:
    seconds: float
    says: str
    source: str


# the published figures the model rests on (found with a search of public pages and GitHub threads)
CLASSIC_START = Figure(
    300.0,
    'classic cluster creation "usually takes 4-5 minutes" (VM provisioning, Spark image, driver healthy); '
    "the upper end is used",
    "Databricks Community technical blog, by a Databricks employee: https://community.databricks.com/t5/"
    "technical-blog/optimizing-databricks-cluster-startup-the-hidden-efficiency-of/ba-p/92628",
)
PIPELINE_CONTEXT = Figure(
    600.0,
    'mlops-stacks\' model training pipeline "~2.5 min [on serverless] vs ~10 min on classic clusters"',
    "https://github.com/databricks/mlops-stacks/pull/224 (test plan)",
)
SERVERLESS_NOTE = (
    "serverless starts at once in the model; on Databricks its cold start is reported at 15-25 s "
    "(https://community.databricks.com/t5/data-engineering/how-to-guarantee-always-warm-serverless-compute-for-low-latency/"
    "m-p/144664)"
)

# the two specs; the definition file is chosen the way a user chooses it (see SPEC_ENV)
SPECS = {"serverless": "jobs/ci.json", "classic": "jobs/ci-classic.json"}
SPEC_ENV = "BRICKTASKS_CI_JOB"  # the setting that names the definition ci runs


# ---------------------------------------------------------------------------------------------
# the project: a git copy of the example, with its job definitions

class Project(ProjectCopy):
    @classmethod
    def example(cls, root: Path) -> Project:
        """The example project with both job definitions (ProjectCopy copies the project's files, not jobs/)."""
        missing = [relative for relative in SPECS.values() if not (REPO / relative).is_file()]
        if missing:
            raise SystemExit(f"this checkout has no {', '.join(missing)}: the benchmark runs the example's job definitions")
        project = cls.create(root, repo=REPO, author="Bench")
        for relative in SPECS.values():
            target = project.root / relative
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / relative, target)
        project.commit_all("job definitions")
        return project


# ---------------------------------------------------------------------------------------------
# one `invoke ci` and what the emulator says of its run

@dataclass
class Measured:
    spec: str
    wall_s: float
    run_id: int
    state: str
    tasks: list[dict[str, Any]]  # task_key, compute, start offset, duration, state

    def waits_on_path(self) -> int:
        """New-cluster start-ups on the longest chain of the DAG: how many S the model adds to the wall time."""
        compute = {task["task_key"]: task["compute"] for task in self.tasks}
        depends = {task["task_key"]: task["depends_on"] for task in self.tasks}
        memo: dict[str, int] = {}

        def chain(key: str) -> int:
            if key not in memo:
                memo[key] = (compute.get(key) == "new_cluster") + max((chain(up) for up in depends.get(key, ())), default=0)
            return memo[key]

        return max((chain(key) for key in compute), default=0)


def run_ci(project: Project, emulator: EmulatorProcess, spec: str, build: int) -> Measured:
    env = {
        **client_environment(emulator.url, TOKEN),
        "BRICKTASKS_BUILD_ID": str(build), "BRICKTASKS_BRANCH": "bench", SPEC_ENV: SPECS[spec],
    }
    start = time.monotonic()
    result = project.invoke("ci", env=env, timeout=3600)
    wall = time.monotonic() - start
    if result.returncode != 0:
        raise RuntimeError(f"invoke ci ({spec}) exited {result.returncode}: {(result.stdout + result.stderr)[-2500:]}")
    return Measured(spec, wall, *describe_run(emulator))


def describe_run(emulator: EmulatorProcess) -> tuple[int, str, list[dict[str, Any]]]:
    client = workspace_client(emulator.url, TOKEN)
    run_id = next(iter(client.jobs.list_runs(limit=1))).run_id  # the runs are one at a time: the newest is this one
    run = client.jobs.get_run(run_id)
    state = f"{_name(run.state.life_cycle_state)}/{_name(run.state.result_state)}" if run.state else "?"
    tasks = []
    for task in run.tasks or []:
        compute = "new_cluster" if task.new_cluster else "existing_cluster" if task.existing_cluster_id else "serverless"
        tasks.append({
            "task_key": task.task_key,
            "compute": compute,
            "depends_on": tuple(dep.task_key for dep in task.depends_on or ()),
            "start_s": ((task.start_time or 0) - (run.start_time or 0)) / 1000,
            "duration_s": ((task.end_time or 0) - (task.start_time or 0)) / 1000 if task.end_time else float("nan"),
            "state": _name(task.state.result_state) if task.state else "?",
        })
    return run_id, state, tasks


def _name(value: object) -> str:
    return getattr(value, "value", None) or str(value)


# ---------------------------------------------------------------------------------------------
# printing

def print_report(measured: list[Measured], start_s: float) -> None:
    by_spec = {spec: [m for m in measured if m.spec == spec] for spec in SPECS}
    print("\nruns, in the order they ran:")
    print(f"  {'#':>2}  {'spec':<10}  {'invoke ci wall':>14}  run state")
    for index, m in enumerate(measured, start=1):
        print(f"  {index:>2}  {m.spec:<10}  {m.wall_s:>12.1f} s  {m.state} (run {m.run_id})")
    print("\ntasks of the last run of each spec (start = seconds after the run started):")
    for spec, runs in by_spec.items():
        for task in runs[-1].tasks:
            print(f"  {spec:<10}  {task['task_key']:<14} {task['compute']:<12} start {task['start_s']:6.1f} s  "
                  f"took {task['duration_s']:6.1f} s (cluster wait included)  {task['state']}")
    serverless = statistics.median(m.wall_s for m in by_spec["serverless"])
    classic = statistics.median(m.wall_s for m in by_spec["classic"])
    waits = by_spec["classic"][-1].waits_on_path()
    print(f"\nMODEL, classic job cluster start-up = {start_s:g} s per task on a new cluster "
          f"({waits} such start-ups on the DAG's longest chain):")
    print(f"  serverless  invoke ci  {serverless:7.1f} s (median of {len(by_spec['serverless'])})")
    print(f"  classic     invoke ci  {classic:7.1f} s (median of {len(by_spec['classic'])})")
    print(f"  ratio classic / serverless: {classic / serverless:.2f}x; serverless saves {classic - serverless:.1f} s "
          f"(the model adds {waits} x {start_s:g} = {waits * start_s:g} s)")
    if start_s != CLASSIC_START.seconds:
        projected = serverless + (classic - serverless) * CLASSIC_START.seconds / start_s
        print(f"  projection (arithmetic, not a run) at the published {CLASSIC_START.seconds:g} s: classic about "
              f"{projected:.0f} s vs serverless {serverless:.0f} s, {projected / serverless:.1f}x; the work here is this "
              "machine's small example, so on a real workload the ratio is smaller (the context figure below: about 4x)")
    print("\nsources of the model:")
    print(f"  start-up: {CLASSIC_START.says}. {CLASSIC_START.source}")
    print(f"  context: {PIPELINE_CONTEXT.says}. {PIPELINE_CONTEXT.source}")
    print(f"  {SERVERLESS_NOTE}")


# ---------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cluster-start-s", type=float, default=DEFAULT_START_S,
                        help=f"modelled start-up of a new job cluster, seconds (default {DEFAULT_START_S:g}, a scaled-down "
                             f"model; the published figure is {CLASSIC_START.seconds:g})")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"runs of each spec, alternating (default {DEFAULT_RUNS})")
    args = parser.parse_args(argv)
    if args.cluster_start_s <= 0 or args.runs < 1:
        parser.error("--cluster-start-s must be > 0 and --runs >= 1")
    return args


def order(runs: int) -> list[str]:
    """serverless, classic, classic, serverless, ...: each spec runs first as often as the other."""
    pair = list(SPECS)
    return [spec for index in range(runs) for spec in (pair if index % 2 == 0 else pair[::-1])]


def start_emulator(base: Path, start_s: float) -> EmulatorProcess:
    """One emulator for both specs: the start-up model delays only tasks on new clusters."""
    return EmulatorProcess(base / "emulator", token=TOKEN, request_log=base / "requests.jsonl", cluster_start_s=start_s).start()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="bricktasks-dag-bench-"))
    measured: list[Measured] = []
    try:
        project = Project.example(base / "project")
        emulator = start_emulator(base, args.cluster_start_s)
        try:
            print(f"emulator {emulator.url} with --cluster-start-s {args.cluster_start_s:g} (MODEL of a classic job "
                  f"cluster's start-up; published: {CLASSIC_START.seconds:g} s, source below); {args.runs} run(s) of each spec",
                  flush=True)
            for build, spec in enumerate(order(args.runs), start=1):
                measured.append(run_ci(project, emulator, spec, build))
                print(f"... {spec}: {measured[-1].wall_s:.1f} s", flush=True)
        finally:
            emulator.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print_report(measured, args.cluster_start_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
