"""Benchmark bricktasks against the legacy CLI and plain SDK loops, over the HTTP emulator.

How to run (from the repository root):

    python -m pip install -r requirements.txt -r benchmarks/requirements.txt && python benchmarks/run.py

Options: --runs N (default 3), --quick (fewer files, builds and runs: a smoke check),
--only NAME,... with NAME among: full, unchanged, onechanged, startup, big, plan, watch, completion,
cancel, clean, local.

Every measurement talks to an emulator on 127.0.0.1 with 50 ms latency per request (a second
one also has a 30 requests/s rate limit). The table shows the median of the runs (all values in
brackets) and, where there is a target, the ratio and pass/miss. The machine may be noisy:
compare the ratios of one run, not absolute times across runs. Nothing is asserted.

Every row is reproduced by the command printed above the table (`--only` with that row's scenario).
The subprocesses run as an installed package does: with its bytecode cached (PYTHONDONTWRITEBYTECODE,
which some sandboxes set, is dropped for them), so start-up is not the compiler's time.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import posixpath
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bricktasks.emulator.routing import DEFAULT_CLUSTER_ID  # noqa: E402
from bricktasks.testing.emulator import EmulatorProcess, client_environment, workspace_client  # noqa: E402
from bricktasks.testing.projectcopy import ProjectCopy, clean_environment, wait_until  # noqa: E402

TOKEN = "bench-token"
LATENCY_MS = 50
RATE_LIMIT = 30
HEADER = "# Databricks notebook source\n"
IMPORT_PATH = "/api/2.0/workspace/import"
SYNC_MANIFEST = ".bricktasks-sync.json"
SYNC_CLAIM = ".bricktasks-sync-claim-"
WORKSPACE_ROOT = "/Projects/forecasting"
CI_ROOT = f"{WORKSPACE_ROOT}/CI"
CI_LIBRARIES_ROOT = f"{WORKSPACE_ROOT}/libraries/CI"
SLEEP_SHORT = HEADER + "import time\n\ntime.sleep(4)\n"
SLEEP_LONG = HEADER + "import time\n\ntime.sleep(300)\n"
MAXRSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "print('maxrss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)
SCENARIOS = ["full", "unchanged", "onechanged", "startup", "big", "plan", "watch", "completion", "cancel", "clean", "local"]
BIG_FILES, BIG_FOLDERS = 5000, 100  # the large project of issue 15 (--quick: 500 in 20)
PLAN_SIZES = (250, 1000, 5000)


# ---------------------------------------------------------------------------------------------
# small helpers

def timed(action: Callable[[], object]) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def median(values: list[float]) -> float:
    known = [value for value in values if value == value]  # nan (not measured) is left out
    return statistics.median(known) if known else float("nan")


def check(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stdout[-1500:]} {result.stderr[-1500:]}")
    return result


# ---------------------------------------------------------------------------------------------
# the project: a git copy of the example project, optionally with many generated notebooks

class Project(ProjectCopy):
    @classmethod
    def generated(cls, root: Path, notebooks: int = 0, folders: int = 0) -> Project:
        """The example project, plus `notebooks` generated notebooks in about `folders` folders."""
        prepare = (lambda source: generate_notebooks(source, notebooks, folders)) if notebooks else None
        return cls.create(root, repo=REPO, author="Bench", prepare=prepare)

    def notebook_files(self) -> list[Path]:
        return sorted(path for path in self.source.rglob("*.py") if "__pycache__" not in path.parts)


def generate_notebooks(source: Path, total: int, folders: int) -> None:
    """Add notebooks in new sub-folders until the source holds `total` .py files in `folders` folders."""
    existing_files = [p for p in source.rglob("*.py")]
    existing_folders = {p.parent for p in existing_files}
    new_folders = max(1, folders - len(existing_folders))
    to_add = max(0, total - len(existing_files))
    for index in range(to_add):
        folder = source / f"module_{index % new_folders:02d}"
        folder.mkdir(exist_ok=True)
        body = "".join(f"x_{line} = {line} * {index}\n" for line in range(40))
        (folder / f"notebook_{index:03d}.py").write_text(f"{HEADER}# generated notebook {index}\n\n{body}")


# ---------------------------------------------------------------------------------------------
# an emulator and the clients pointed at it

@dataclass
class Emulator:
    process: EmulatorProcess
    home: Path  # HOME for the legacy CLI: no ~/.databrickscfg from the user
    client: object = field(init=False)

    def __post_init__(self) -> None:
        self.client = workspace_client(self.process.url, TOKEN, retry_timeout_seconds=300)

    @property
    def url(self) -> str:
        return self.process.url

    def invoke_env(self, **extra: str) -> dict[str, str]:
        return {**client_environment(self.url, TOKEN), **extra}

    def legacy_env(self) -> dict[str, str]:
        # databricks-cli 0.18 drops the port from the host: reach the emulator as an HTTP proxy
        port = self.url.rsplit(":", 1)[1]
        return clean_environment({"DATABRICKS_HOST": "http://127.0.0.1", "DATABRICKS_TOKEN": TOKEN,
                                  "HTTP_PROXY": f"http://127.0.0.1:{port}", "NO_PROXY": "", "HOME": str(self.home)})

    def mark(self) -> int:
        return len(self.process.requests())

    def imports_since(self, mark: int) -> tuple[int, int]:
        """(imports of anything, imports of anything but the sync manifest and claim) since `mark`."""
        imports = [e for e in self.process.requests()[mark:] if e["method"] == "POST" and e["path"] == IMPORT_PATH]
        content = [  # the sync's claim (created and deleted by each sync that writes) is bookkeeping too
            e for e in imports if not str(e.get("target") or "").endswith(SYNC_MANIFEST) and SYNC_CLAIM not in str(e.get("target") or "")
        ]
        return len(imports), len(content)


@contextlib.contextmanager
def emulator(base: Path, name: str, rate_limit: float | None = None):
    process = EmulatorProcess(base / name, token=TOKEN, latency_ms=LATENCY_MS, rate_limit=rate_limit,
                              request_log=base / f"{name}.requests.jsonl")
    home = base / f"{name}-home"
    home.mkdir()
    with process:
        yield Emulator(process, home)


# ---------------------------------------------------------------------------------------------
# the three ways to upload a folder

def legacy_import_dir(em: Emulator, source: Path, target: str) -> None:
    check(subprocess.run(["databricks", "workspace", "import_dir", "-o", str(source), target],
                         env=em.legacy_env(), capture_output=True, text=True, timeout=900), "databricks workspace import_dir")


def sdk_sequential_upload(em: Emulator, source: Path, target: str) -> None:
    from databricks.sdk.service.workspace import ImportFormat, Language

    w = em.client
    for folder in sorted({source, *(p.parent for p in source.rglob("*.py"))}):
        remote_folder = f"{target}/{folder.relative_to(source).as_posix()}".rstrip("/.")
        w.workspace.mkdirs(remote_folder)
        for path in sorted(folder.glob("*.py")):
            w.workspace.upload(f"{remote_folder}/{path.stem}", path.read_bytes(), format=ImportFormat.SOURCE,
                               language=Language.PYTHON, overwrite=True)


def invoke_checkout(project: Project, em: Emulator, branch: str) -> None:
    check(project.invoke("checkout", branch, env=em.invoke_env()), f"invoke checkout {branch}")


@dataclass
class Timed:
    """One invoke process, as the emulator saw it."""

    wall: float  # process start to exit
    first_request: float  # process start to the first request's arrival (nan if none): the fixed cost
    requests: list[dict]  # the emulator's log entries of this process
    returncode: int


def invoke_timed(project: Project, em: Emulator, *args: str, ok: tuple[int, ...] = (0,)) -> Timed:
    mark = em.mark()
    started = time.time()  # the emulator logs arrival with time.time(): the same clock
    result = project.invoke(*args, env=em.invoke_env())
    wall = time.time() - started
    if result.returncode not in ok:
        check(result, f"invoke {' '.join(args)}")
    requests = em.process.requests()[mark:]
    first = requests[0]["t"] - started if requests else float("nan")
    return Timed(wall, first, requests, result.returncode)


# ---------------------------------------------------------------------------------------------
# results

@dataclass
class Row:
    scenario: str
    measurement: str
    values: list[float]
    unit: str = "s"
    ratio: str = ""
    target: str = ""
    verdict: str = ""

    def cells(self) -> list[str]:
        known = [v for v in self.values if v == v]
        value = ", ".join(fmt(v, self.unit) for v in self.values)
        if len(known) > 1:
            value = f"{fmt(median(known), self.unit)} ({fmt(min(known), self.unit)} - {fmt(max(known), self.unit)})"
        return [self.scenario, self.measurement, value, self.ratio, self.target, self.verdict]


def fmt(value: float, unit: str) -> str:
    if unit == "n":
        return f"{value:g}"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.3f} s" if abs(value) < 1 else f"{value:.2f} s"


def verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def print_table(rows: list[Row]) -> None:
    header = ["scenario", "measurement", "median (min - max)", "ratio", "target", "result"]
    table = [header] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for index, line in enumerate(table):
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            print("-+-".join("-" * width for width in widths))


# ---------------------------------------------------------------------------------------------
# scenarios: each takes the Bench and returns rows

@dataclass
class Bench:
    base: Path
    runs: int
    notebooks: int
    folders: int
    builds: int
    fast: Emulator
    limited: Emulator
    project: Project  # the big generated project
    ci_project: Project  # the example project plus sleeping notebooks
    counter: int = 0
    big_size: tuple[int, int] = (BIG_FILES, BIG_FOLDERS)  # (notebooks, folders) of big_project()
    _big: Project | None = None

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def new_dir(self, prefix: str) -> Path:
        return self.base / self.unique(prefix)

    def big_project(self) -> Project:
        """The project of BIG_FILES notebooks in BIG_FOLDERS folders (made once, on first use)."""
        if self._big is None:
            self._big = Project.generated(self.base / "big-project", *self.big_size)
        return self._big


def bench_full(b: Bench) -> list[Row]:
    files = len(b.project.notebook_files())
    rows = []
    for label, em in (("no rate limit", b.fast), (f"rate limit {RATE_LIMIT}/s", b.limited)):
        legacy, sdk, ours, answered, throttled, failed = [], [], [], [], [], []
        for _ in range(b.runs):
            legacy.append(timed(lambda em=em: legacy_import_dir(em, b.project.source, f"/Projects/legacy/{b.unique('full')}")))
            sdk.append(timed(lambda em=em: sdk_sequential_upload(em, b.project.source, f"/Projects/sdk/{b.unique('full')}")))
            mark = em.mark()
            ours.append(timed(lambda em=em: invoke_checkout(b.project, em, b.unique("full"))))
            statuses = [request["status"] for request in em.process.requests()[mark:]]
            answered.append(sum(1 for status in statuses if status != 429))
            throttled.append(statuses.count(429))
            # 404s are expected (the empty folder's listing and manifest); anything else is a failure
            failed.append(sum(1 for status in statuses if status is None or (status >= 400 and status not in (404, 429))))
        scenario = f"1 full upload {files} files, {label}"
        rows += [Row(scenario, "legacy import_dir", legacy), Row(scenario, "SDK sequential loop", sdk)]
        speedup = median(legacy) / median(ours)
        sdk_speedup = median(sdk) / median(ours)
        if em is b.fast:
            rows.append(Row(scenario, "invoke checkout", ours, ratio=f"{speedup:.1f}x vs legacy, {sdk_speedup:.1f}x vs SDK",
                            target=">= 10x vs legacy", verdict=verdict(speedup >= 10)))
        else:
            ideal = files / RATE_LIMIT
            floor = (median(answered) - RATE_LIMIT) / RATE_LIMIT  # the emulator's bucket starts full
            rows += [
                Row(scenario, "invoke checkout", ours,
                    ratio=f"{median(ours) / ideal:.2f}x of N/{RATE_LIMIT}={ideal:.1f}s; {speedup:.1f}x vs legacy",
                    target="<= 1.15x of N/30 s", verdict=verdict(median(ours) <= 1.15 * ideal)),
                Row(scenario, "invoke: requests answered (uploads, folders, listings)", answered, unit="n",
                    ratio=f"their floor at {RATE_LIMIT}/s: {floor:.1f}s; {median(ours) / floor:.2f}x of it"),
                Row(scenario, "invoke: 429 answers (retried)", throttled, unit="n"),
                Row(scenario, "invoke: failed requests", failed, unit="n", target="0", verdict=verdict(not any(failed))),
            ]
    return rows


def bench_unchanged(b: Bench) -> list[Row]:
    em, branch, legacy_target = b.fast, b.unique("unchanged"), f"/Projects/legacy/{b.unique('unchanged')}"
    invoke_checkout(b.project, em, branch)
    legacy_import_dir(em, b.project.source, legacy_target)
    ours, legacy, our_counts, legacy_counts, requests, startup = [], [], [], [], [], []
    for _ in range(b.runs):
        clone = b.project.clone(b.new_dir("clone"))
        try:
            startup.append(timed(lambda clone=clone: check(clone.invoke("--list"), "invoke --list")))
            mark = em.mark()
            ours.append(timed(lambda clone=clone: invoke_checkout(clone, em, branch)))
            our_counts.append(em.imports_since(mark))
            requests.append(em.mark() - mark)
            mark = em.mark()
            legacy.append(timed(lambda clone=clone: legacy_import_dir(em, clone.source, legacy_target)))
            legacy_counts.append(em.imports_since(mark))
        finally:
            shutil.rmtree(clone.root, ignore_errors=True)
    speedup = median(legacy) / median(ours)
    scenario = "2 re-upload, nothing changed (fresh clone)"
    return [
        Row(scenario, "legacy import_dir", legacy),
        Row(scenario, "invoke checkout", ours, ratio=f"{speedup:.1f}x vs legacy", target=">= 30x", verdict=verdict(speedup >= 30)),
        Row(scenario, "legacy: workspace/import POSTs", [c[0] for c in legacy_counts], unit="n"),
        Row(scenario, "invoke: imports of notebooks", [c[1] for c in our_counts], unit="n", target="0",
            verdict=verdict(all(c[1] == 0 for c in our_counts))),
        Row(scenario, "invoke: imports incl. sync manifest", [c[0] for c in our_counts], unit="n"),
        Row(scenario, "invoke: API requests of any kind", requests, unit="n"),
        Row(scenario, "fixed cost: invoke --list (no API call)", startup),
    ]


def bench_onechanged(b: Bench) -> list[Row]:
    em, branch = b.fast, b.unique("onechanged")
    invoke_checkout(b.project, em, branch)
    ours, counts = [], []
    for run in range(b.runs):
        clone = b.project.clone(b.new_dir("clone"))
        try:
            # a generated notebook: checkout rewrites set_environment and install_libraries itself
            changed = [path for path in clone.notebook_files() if path.parent.name.startswith("module_")][-1]
            changed.write_text(changed.read_text() + f"# change {run}\n")
            mark = em.mark()
            ours.append(timed(lambda clone=clone: invoke_checkout(clone, em, branch)))
            counts.append(em.imports_since(mark))
        finally:
            shutil.rmtree(clone.root, ignore_errors=True)
    scenario = "3 re-upload, one file changed"
    return [
        Row(scenario, "invoke checkout", ours),
        Row(scenario, "invoke: imports of notebooks", [c[1] for c in counts], unit="n", target="exactly 1",
            verdict=verdict(all(c[1] == 1 for c in counts))),
        Row(scenario, "invoke: imports incl. sync manifest", [c[0] for c in counts], unit="n"),
    ]


def spread(values: list[float]) -> str:
    return f"min-max {min(values):.3f}-{max(values):.3f} s" if values else ""


def bench_startup(b: Bench) -> list[Row]:
    """The fixed cost of a remote task: from the process's start to its first request (a no-op
    checkout from a fresh clone), next to what the interpreter and invoke alone cost."""
    em, branch = b.fast, b.unique("startup")
    invoke_checkout(b.project, em, branch)
    bare, listing, first, network, after = [], [], [], [], []
    for _ in range(b.runs):
        bare.append(timed(lambda: check(subprocess.run([sys.executable, "-c", "pass"], env=clean_environment(),
                                                        capture_output=True, text=True), "python -c pass")))
        clone = b.project.clone(b.new_dir("clone"))
        try:
            listing.append(timed(lambda clone=clone: check(clone.invoke("--list"), "invoke --list")))
            run = invoke_timed(clone, em, "checkout", branch)
            first.append(run.first_request)
            last_answer = max(entry["t"] for entry in run.requests) + LATENCY_MS / 1000
            network.append(last_answer - run.requests[0]["t"])
            after.append(run.wall - run.first_request - network[-1])
        finally:
            shutil.rmtree(clone.root, ignore_errors=True)
    scenario = "8 start-up of a remote task (no-op checkout)"
    return [
        Row(scenario, "python -c pass (the interpreter, site)", bare),
        Row(scenario, "invoke --list (no API call)", listing),
        Row(scenario, "invoke checkout: process start -> first request", first, ratio=spread(first),
            target="<= 0.35 s", verdict=verdict(median(first) <= 0.35)),
        Row(scenario, "invoke checkout: first request -> last answer", network, ratio=spread(network)),
        Row(scenario, "invoke checkout: last answer -> exit", after),
    ]


def remote_folders(project: Project) -> int:
    """How many folders a sync of `project` fills (its root included): one listing each."""
    from bricktasks.source.items import collect_source

    folders = {""}
    for item in collect_source(project.source):
        parent = posixpath.dirname(item.remote_rel)
        while parent:
            folders.add(parent)
            parent = posixpath.dirname(parent)
    return len(folders)


def failed_requests(requests: list[dict]) -> int:
    """Answers that are failures: 404s are expected (an empty folder's listing and manifest), 429s retried."""
    return sum(1 for e in requests if e["status"] is None or (e["status"] >= 400 and e["status"] not in (404, 429)))


def content_imports(requests: list[dict]) -> int:
    return sum(1 for e in requests if e["method"] == "POST" and e["path"] == IMPORT_PATH
               and not str(e.get("target") or "").endswith(SYNC_MANIFEST) and SYNC_CLAIM not in str(e.get("target") or ""))


def bench_big(b: Bench) -> list[Row]:
    """BIG_FILES notebooks in BIG_FOLDERS folders: a no-op, one change, status, a rate-limited full upload."""
    project = b.big_project()
    files, folders = len(project.notebook_files()), remote_folders(project)
    em, branch = b.fast, b.unique("big")
    first = invoke_timed(project, em, "checkout", branch)  # the full upload (setup, one run)
    noop, noop_requests, noop_imports, status, status_codes, one, one_imports = [], [], [], [], [], [], []
    for run in range(b.runs):
        clone = project.clone(b.new_dir("clone"))
        try:
            timing = invoke_timed(clone, em, "checkout", branch)
            noop.append(timing.wall)
            noop_requests.append(len(timing.requests))
            noop_imports.append(content_imports(timing.requests))
            timing = invoke_timed(clone, em, "status", "--branch", branch, ok=(0, 1))
            status.append(timing.wall)
            status_codes.append(timing.returncode)
            changed = [path for path in clone.notebook_files() if path.parent.name.startswith("module_")][-1]
            changed.write_text(changed.read_text() + f"# change {run}\n")
            timing = invoke_timed(clone, em, "checkout", branch)
            one.append(timing.wall)
            one_imports.append(content_imports(timing.requests))
            clone.git("checkout", "--", ".")  # the commit's content back in the folder: the next run's no-op is one
            invoke_checkout(clone, em, branch)
        finally:
            shutil.rmtree(clone.root, ignore_errors=True)
    limited = invoke_timed(project, b.limited, "checkout", b.unique("big"))  # one run: N/30 s each
    statuses = [e["status"] for e in limited.requests]
    ideal = files / RATE_LIMIT
    scenario = f"9 {files} files in {folders} folders"
    return [
        Row(scenario, "invoke checkout, full upload (no rate limit, 1 run)", [first.wall]),
        Row(scenario, "invoke checkout, nothing changed (fresh clone)", noop, ratio=spread(noop),
            target="<= 2 s", verdict=verdict(median(noop) <= 2)),
        Row(scenario, "  API requests of any kind", noop_requests, unit="n", target=f"<= folders + 5 = {folders + 5}",
            verdict=verdict(max(noop_requests) <= folders + 5)),
        Row(scenario, "  imports of notebooks", noop_imports, unit="n", target="0", verdict=verdict(not any(noop_imports))),
        Row(scenario, "invoke status (fresh clone, equal)", status, ratio=f"{spread(status)}; exit {status_codes}",
            target="<= 2 s, exit 0", verdict=verdict(median(status) <= 2 and not any(status_codes))),
        Row(scenario, "invoke checkout, one file changed", one, ratio=spread(one)),
        Row(scenario, "  imports of notebooks", one_imports, unit="n", target="exactly 1",
            verdict=verdict(all(count == 1 for count in one_imports))),
        Row(scenario, f"full upload, rate limit {RATE_LIMIT}/s (1 run)", [limited.wall],
            ratio=f"{limited.wall / ideal:.2f}x of N/{RATE_LIMIT}={ideal:.1f}s", target="<= 1.1x of N/30 s",
            verdict=verdict(limited.wall <= 1.1 * ideal)),
        Row(scenario, "  requests answered", [sum(1 for status in statuses if status != 429)], unit="n",
            ratio=f"their floor at {RATE_LIMIT}/s: {(sum(1 for s in statuses if s != 429) - RATE_LIMIT) / RATE_LIMIT:.1f}s"),
        Row(scenario, "  429 answers (retried)", [statuses.count(429)], unit="n"),
        Row(scenario, "  failed requests", [failed_requests(limited.requests)], unit="n", target="0",
            verdict=verdict(failed_requests(limited.requests) == 0)),
    ]


def bench_plan(b: Bench) -> list[Row]:
    """In-process plan time at 250, 1,000 and 5,000 files: collecting the working copy (git's
    listing, reading, hashing) and plan_sync against the surveyed folder. Linear means the time
    per file stays flat."""
    from bricktasks.testing.emulator import databricks_backend
    from bricktasks.workspace.helpers import desired_items
    from bricktasks.workspace.sync import plan_sync, survey

    em = b.fast
    backend = databricks_backend(em.url, TOKEN)
    rows = []
    sizes = [size for size in PLAN_SIZES if size <= b.big_size[0]] if b.big_size[0] < BIG_FILES else list(PLAN_SIZES)
    for size in sizes:
        if size == len(b.project.notebook_files()) or size == b.notebooks:
            project = b.project
        elif size == b.big_size[0]:
            project = b.big_project()
        else:
            project = Project.generated(b.new_dir("plan-project"), size, max(5, size // 50))
        branch = b.unique("plan")
        invoke_checkout(project, em, branch)
        target = f"{WORKSPACE_ROOT}/{branch}"
        collect, plan, surveyed = [], [], []
        for _ in range(b.runs):
            start = time.monotonic()
            items = desired_items(project.source, env="dev", libraries=None)
            collect.append(time.monotonic() - start)
            start = time.monotonic()
            destination = survey(backend, target)
            surveyed.append(time.monotonic() - start)
            start = time.monotonic()
            plan_sync(backend, items, target, destination)
            plan.append(time.monotonic() - start)
        files = len(items)
        scenario = f"10 plan time, {files} files"
        per_file = (median(collect) + median(plan)) / files * 1e6
        rows += [
            Row(scenario, "collect the working copy (git, read, hash)", collect),
            Row(scenario, "plan_sync (CPU only)", plan, ratio=f"{per_file:.0f} us per file, collect + plan"),
            Row(scenario, "survey (listings + manifest, 50 ms each)", surveyed),
        ]
    backend.close()
    return rows


def bench_watch(b: Bench) -> list[Row]:
    """Write -> workspace latency of `invoke checkout --watch`, measured by benchmarks/watch_latency.py."""
    try:
        from watch_latency import measure_watch_latency  # type: ignore[import-not-found]  # benchmarks/ is on sys.path
    except ImportError:
        return [Row("11 watch", "not measured: benchmarks/watch_latency.py (measure_watch_latency) is not here yet", [])]
    measured = measure_watch_latency(edits=20, latency_ms=LATENCY_MS)
    latencies = [float(value) for value in measured["latencies_s"]]
    return [Row("11 watch: file written -> workspace holds it", f"invoke checkout --watch, {len(latencies)} edits", latencies,
                ratio=spread(latencies), target="median <= 0.3 s", verdict=verdict(median(latencies) <= 0.3))]


def ci_env(em: Emulator, build_id: str, notebook: str) -> dict[str, str]:
    return em.invoke_env(BRICKTASKS_BUILD_ID=build_id, BRICKTASKS_BRANCH="bench", BRICKTASKS_CI_NOTEBOOKS=notebook)


def detected_after(em: Emulator, end_time_ms: int) -> float:
    """Seconds from the run's end to the first runs/get answered after it (from the request log: the
    request's arrival plus the emulator's latency, when its answer is computed). Only one client polls
    at a time here, so the first such request is the waiting client's."""
    end = end_time_ms / 1000
    answered = [e["t"] + LATENCY_MS / 1000 for e in em.process.requests() if e["path"].endswith("/jobs/runs/get")]
    later = [t for t in answered if t >= end]
    return (min(later) - end) if later else float("nan")


def sdk_waiter_delay(em: Emulator, notebook_path: str) -> tuple[float, float]:
    from databricks.sdk.service.jobs import NotebookTask, SubmitTask

    waiter = em.client.jobs.submit(run_name="bench waiter", tasks=[SubmitTask(
        task_key="t", notebook_task=NotebookTask(notebook_path=notebook_path), existing_cluster_id=DEFAULT_CLUSTER_ID)])
    run = waiter.result(timeout=timedelta(minutes=5))
    returned = time.time()
    if run.state.result_state is None or run.state.result_state.value != "SUCCESS":
        raise RuntimeError(f"the SDK's run ended {run.state}")
    return detected_after(em, run.end_time), returned - run.end_time / 1000


def invoke_ci_delay(b: Bench, em: Emulator) -> tuple[float, float]:
    result = check(b.ci_project.invoke("ci", env=ci_env(em, str(100 + b.counter), "SleepShort")), "invoke ci")
    b.counter += 1
    ended = time.time()
    run_ids = [int(m) for m in re.findall(r"\brun (\d+):", result.stdout + result.stderr)]
    run_id = run_ids[-1] if run_ids else next(iter(em.client.jobs.list_runs(limit=1))).run_id
    run = em.client.jobs.get_run(run_id)
    return detected_after(em, run.end_time), ended - run.end_time / 1000


def bench_completion(b: Bench) -> list[Row]:
    from databricks.sdk.service.workspace import ImportFormat, Language

    em, path = b.fast, "/Projects/bench/SleepShort"
    em.client.workspace.mkdirs("/Projects/bench")
    em.client.workspace.upload(path, SLEEP_SHORT.encode(), format=ImportFormat.SOURCE, language=Language.PYTHON, overwrite=True)
    sdk, ours = [], []
    for _ in range(b.runs):
        sdk.append(sdk_waiter_delay(em, path))
        ours.append(invoke_ci_delay(b, em))
    sdk_seen, ours_seen = median([s[0] for s in sdk]), median([o[0] for o in ours])
    scenario = "4 completion detection delay (4 s run)"
    return [
        Row(scenario, "SDK waiter: first poll seeing the end", [s[0] for s in sdk]),
        Row(scenario, "invoke ci: first poll seeing the end", [o[0] for o in ours],
            ratio=f"{sdk_seen - ours_seen:+.2f}s sooner than SDK", target="median <= 1 s", verdict=verdict(ours_seen <= 1.0)),
        Row(scenario, "SDK waiter: .result() returned", [s[1] for s in sdk]),
        Row(scenario, "invoke ci: process exited (after report)", [o[1] for o in ours]),
    ]


def running_run_id(em: Emulator) -> int | None:
    for run in em.client.jobs.list_runs(active_only=True):
        detail = em.client.jobs.get_run(run.run_id)
        if any(task.state and task.state.life_cycle_state and task.state.life_cycle_state.value == "RUNNING"
               for task in detail.tasks or []):
            return run.run_id
    return None


def cancel_delay(b: Bench, em: Emulator) -> tuple[float, float]:
    """(SIGTERM -> run TERMINATED/CANCELED seen via the API, SIGTERM -> cancel request in the emulator log)."""
    process = b.ci_project.start("ci", env=ci_env(em, str(200 + b.counter), "SleepLong"))
    b.counter += 1
    try:
        run_id = wait_until(lambda: running_run_id(em), timeout=300, interval=0.2)
        signalled = time.time()
        process.send_signal(signal.SIGTERM)

        def canceled() -> bool:
            state = em.client.jobs.get_run(run_id).state
            return state.life_cycle_state.value in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED")

        wait_until(canceled, timeout=60, interval=0.02)
        seen = time.time()

        def cancel_logged() -> list[float]:  # logged once answered, which may be just after the state changed
            return [e["t"] for e in em.process.requests() if e["path"].endswith("/runs/cancel") and e["t"] >= signalled]

        with contextlib.suppress(TimeoutError):
            wait_until(cancel_logged, timeout=5, interval=0.05)
        cancels = cancel_logged()
        return seen - signalled, (min(cancels) - signalled) if cancels else float("nan")
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=30)
        if process.poll() is None:
            process.kill()
            process.communicate()


def bench_cancel(b: Bench) -> list[Row]:
    seen, requested = [], []
    for _ in range(b.runs):
        s, r = cancel_delay(b, b.fast)
        seen.append(s)
        requested.append(r)
    scenario = "5 cancel after SIGTERM to invoke ci"
    return [
        Row(scenario, "SIGTERM -> cancel request logged", requested),
        Row(scenario, "SIGTERM -> run TERMINATED", seen, target="< 2 s", verdict=verdict(median(seen) < 2)),
    ]


def create_builds(em: Emulator, count: int, tag: str) -> list[tuple[str, str]]:
    """`count` CI build folders with manifests and library folders, made in parallel (setup, not timed)."""
    import json
    from datetime import datetime, timezone

    from databricks.sdk.service.workspace import ImportFormat

    from bricktasks.ci.clean import IN_PROGRESS_GRACE

    w = em.client

    def create(index: int) -> tuple[str, str]:
        name = f"{index}-{tag}"
        folder, libraries = f"{CI_ROOT}/{name}", f"{CI_LIBRARIES_ROOT}/{name}"
        w.workspace.mkdirs(folder)
        # older than clean-ci's grace for a build with no run recorded yet (it may be submitting): a finished build
        created = datetime.now(timezone.utc) - IN_PROGRESS_GRACE * 2
        manifest = {"build_id": str(index), "branch": tag, "created": created.isoformat(), "run_id": None}
        w.workspace.upload(f"{folder}/.bricktasks-build.json", json.dumps(manifest).encode(), format=ImportFormat.AUTO, overwrite=True)
        w.workspace.mkdirs(libraries)
        return folder, libraries

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(create, range(1, count + 1)))


def reset_ci_folders(em: Emulator) -> None:
    """Remove every CI build (also those the ci scenarios left) so both contenders face the same folders."""
    for root in (CI_ROOT, CI_LIBRARIES_ROOT):
        with contextlib.suppress(Exception):
            em.client.workspace.delete(root, recursive=True)


def remaining_builds(em: Emulator) -> int:
    total = 0
    for root in (CI_ROOT, CI_LIBRARIES_ROOT):
        with contextlib.suppress(Exception):
            total += sum(1 for _ in em.client.workspace.list(root))
    return total


def bench_clean(b: Bench) -> list[Row]:
    em, ours, sequential = b.fast, [], []
    for _ in range(b.runs):
        reset_ci_folders(em)
        builds = create_builds(em, b.builds, b.unique("clean"))
        sequential.append(timed(
            lambda builds=builds: [em.client.workspace.delete(path, recursive=True) for pair in builds for path in pair]
        ))
        assert remaining_builds(em) == 0, "the sequential loop left builds behind"
        create_builds(em, b.builds, b.unique("clean"))
        ours.append(timed(lambda: check(b.ci_project.invoke("clean-ci", "--older-than", "0d", env=em.invoke_env()), "clean-ci")))
        left = remaining_builds(em)
        if left:
            raise RuntimeError(f"invoke clean-ci left {left} folders")
    speedup = median(sequential) / median(ours)
    scenario = f"6 clean-ci of {b.builds} builds"
    return [
        Row(scenario, "SDK sequential deletes", sequential),
        Row(scenario, "invoke clean-ci --older-than 0d", ours, ratio=f"{speedup:.1f}x vs sequential", target=">= 5x",
            verdict=verdict(speedup >= 5)),
    ]


def tree_rss_kb(root: Path) -> int:
    """Summed RSS of the live processes working under `root` (the run's subprocesses inherit its folder)."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            if str(root) in os.readlink(proc / "cwd"):
                found = re.search(r"VmRSS:\s+(\d+)", (proc / "status").read_text())
                total += int(found.group(1)) if found else 0  # zombies have no VmRSS
    return total


def run_sampling_rss(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, int]:
    """Run `command`, sampling the summed RSS of the processes under `cwd` every 0.1 s; returns the peak (kB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        peak = 0
        try:
            while process.poll() is None:
                peak = max(peak, tree_rss_kb(cwd))
                time.sleep(0.1)
        finally:  # never leave the run behind, writing into a folder being removed
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(30)
                if process.poll() is None:
                    process.kill()
                    process.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, process.returncode, out.read(), err.read()), peak


def bench_local(b: Bench) -> list[Row]:
    walls, peaks, sums = [], [], []
    for _ in range(b.runs):
        env = clean_environment({"BRICKTASKS_BACKEND": "local", "BRICKTASKS_BUILD_ID": str(300 + b.counter),
                                 "BRICKTASKS_BRANCH": "bench"})
        b.counter += 1
        start = time.monotonic()
        result, summed = run_sampling_rss([sys.executable, "-c", MAXRSS_WRAPPER, sys.executable, "-m", "invoke", "ci"],
                                          b.ci_project.root, env)
        walls.append(time.monotonic() - start)
        check(result, "local invoke ci")
        peaks.append(int(re.findall(r"maxrss_kb (\d+)", result.stderr)[-1]) / 1024)
        sums.append(summed / 1024)
    scenario = "7 local invoke ci (ModelTraining)"
    return [
        Row(scenario, "wall time", walls, target="< 45 s", verdict=verdict(median(walls) < 45)),
        Row(scenario, "peak RSS, largest reaped process (getrusage)", peaks, unit="MB"),
        Row(scenario, "peak RSS, sum of its processes (/proc, 0.1 s)", sums, unit="MB"),
    ]


BENCHMARKS: dict[str, Callable[[Bench], list[Row]]] = {
    "full": bench_full, "unchanged": bench_unchanged, "onechanged": bench_onechanged, "completion": bench_completion,
    "cancel": bench_cancel, "clean": bench_clean, "local": bench_local, "startup": bench_startup, "big": bench_big,
    "plan": bench_plan, "watch": bench_watch,
}


# ---------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement (default 3, 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="fewer files, builds and runs: a smoke check")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of: {','.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    args.runs = args.runs or (1 if args.quick else 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("databricks") is None and {"full", "unchanged"} & set(args.only):
        print("the legacy CLI is missing: python -m pip install -r benchmarks/requirements.txt", file=sys.stderr)
        return 2
    notebooks, folders, builds = (40, 5, 30) if args.quick else (250, 20, 300)
    # an installed package runs from compiled bytecode (pip compiles it): so do the subprocesses here
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    base = Path(tempfile.mkdtemp(prefix="bricktasks-bench-"))
    rows: list[Row] = []
    try:
        with emulator(base, "fast") as fast, emulator(base, "limited", RATE_LIMIT) as limited:
            project = Project.generated(base / "project", notebooks, folders)
            ci_project = Project.generated(base / "ci-project")
            ci_project.write_notebook("SleepShort", SLEEP_SHORT)
            ci_project.write_notebook("SleepLong", SLEEP_LONG)
            ci_project.commit_all("sleeping notebooks")
            bench = Bench(base, args.runs, notebooks, folders, builds, fast, limited, project, ci_project,
                          big_size=(500, 20) if args.quick else (BIG_FILES, BIG_FOLDERS))
            print(f"reproduce: python benchmarks/run.py --runs {args.runs}{' --quick' if args.quick else ''} --only {','.join(args.only)}"
                  f"  (machine: {os.cpu_count()} cores, Python {sys.version.split()[0]})", flush=True)
            print(f"emulators: {fast.url} (latency {LATENCY_MS} ms), {limited.url} (latency {LATENCY_MS} ms, "
                  f"{RATE_LIMIT} req/s); {len(project.notebook_files())} notebooks; {args.runs} run(s)", flush=True)
            for name in args.only:
                started = time.monotonic()
                try:
                    rows += BENCHMARKS[name](bench)
                except Exception as error:  # noqa: BLE001 - one broken scenario must not hide the others
                    rows.append(Row(name, f"ERROR: {str(error)[:300]}", []))
                print(f"... {name} done in {time.monotonic() - started:.0f}s", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print()
    print_table(rows)
    return 1 if any(row.measurement.startswith("ERROR") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
