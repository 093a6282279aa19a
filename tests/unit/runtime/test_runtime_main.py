"""`python -m bricktasks.runtime` as the run supervisor starts it: exit codes, result file, cancel."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runtime_helpers import LocalRoot, notebook

from bricktasks.runtime import NotebookResult

REPO = Path(__file__).resolve().parents[3]


def _command(local: LocalRoot, path: str, **fields: object) -> tuple[list[str], Path, Path]:
    ctx = local.context(**fields)
    context_file = local.base / "context.json"
    ctx.to_json(context_file)
    result_file = ctx.run_dir / "result.json"
    command = [sys.executable, "-m", "bricktasks.runtime", "--context", str(context_file), "--notebook", path, "--result", str(result_file)]
    return command, result_file, ctx.run_dir


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def test_success_exits_0_and_writes_the_result(local: LocalRoot) -> None:
    local.write("/Projects/p/Main", notebook("print('hello')", "dbutils.notebook.exit(dbutils.widgets.get('n'))"))
    command, result_file, run_dir = _command(local, "/Projects/p/Main", parameters={"n": "7"})
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    result = NotebookResult.from_dict(json.loads(result_file.read_text()))
    assert (result.status, result.exit_value, len(result.cells)) == ("SUCCESS", "7", 2)
    lines = done.stdout.splitlines()
    assert lines[0] == "running /Projects/p/Main"
    assert "cell 1 (python) started" in lines and "  | hello" in lines and lines[-1].startswith("SUCCESS in ")
    assert not list(run_dir.glob(".*.tmp"))  # written through a temp file that was renamed


def test_failure_exits_1_and_names_the_cell(local: LocalRoot) -> None:
    local.write("/Projects/p/Main", notebook("x = 1", "raise ValueError('quality below threshold')"))
    command, result_file, _ = _command(local, "/Projects/p/Main")
    done = subprocess.run(
        [*command, "--secrets-from-stdin"], input=json.dumps({"s": {"k": "quality"}}), capture_output=True, text=True,
        env=_env(), timeout=120,
    )
    assert done.returncode == 1
    data = json.loads(result_file.read_text())
    assert (data["status"], data["failed_cell"]) == ("FAILED", 2)
    assert data["error"] == "ValueError: [REDACTED] below threshold"
    assert done.stdout.splitlines()[-1] == "FAILED in cell 2: ValueError: [REDACTED] below threshold"
    assert "quality" not in done.stdout


def test_secrets_come_on_stdin_and_the_context_file_never_holds_them(local: LocalRoot) -> None:
    secret = "pipe-" + "Qx" * 12
    local.write("/Projects/p/Main", notebook("v = dbutils.secrets.get('ml', 'api')\nprint('got', v)", "dbutils.notebook.exit(v[::-1])"))
    command, result_file, run_dir = _command(local, "/Projects/p/Main")
    done = subprocess.run(
        [*command, "--secrets-from-stdin"], input=json.dumps({"ml": {"api": secret}}), capture_output=True, text=True,
        env=_env(), timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(result_file.read_text())["exit_value"] == secret[::-1]  # the notebook had the value
    assert "  | got [REDACTED]" in done.stdout.splitlines() and secret not in done.stdout
    written = [path for path in local.base.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]
    assert written == []


@pytest.mark.parametrize("sent", ["", "{not json", '["a"]', '{"ml": {"api": 5}}', '{"ml": "flat"}'])
def test_secrets_that_do_not_arrive_whole_exit_2_before_any_cell(local: LocalRoot, sent: str) -> None:
    local.write("/Projects/p/Main", notebook("open('ran', 'w').write('yes')"))
    command, result_file, run_dir = _command(local, "/Projects/p/Main")
    done = subprocess.run([*command, "--secrets-from-stdin"], input=sent, capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 2 and "cannot read the run's secrets from stdin" in done.stderr
    assert "Traceback" not in done.stderr
    assert not result_file.exists() and not (run_dir / "ran").exists()


def test_unreadable_context_exits_2(tmp_path: Path) -> None:
    (tmp_path / "context.json").write_text("{not json")
    command = [
        sys.executable, "-m", "bricktasks.runtime",
        "--context", str(tmp_path / "context.json"), "--notebook", "/x", "--result", str(tmp_path / "r.json"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 2 and "cannot read the context file" in done.stderr


# -- cancel: killing the process group leaves nothing behind, Spark's JVM included --------------
def _processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line or environment contains `text` (zombies excluded)."""
    found = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
        if needle in cmdline or needle in environ:
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]))
    return found


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.spark
def test_killing_the_process_group_stops_the_run_and_spark(local: LocalRoot) -> None:
    marker = local.base / "spark-started"
    local.write(
        "/Projects/p/Sleeper",
        # a Python UDF, so Spark's Python worker daemon (a process group of its own) runs too
        notebook(
            f"print(spark.range(5).rdd.map(lambda row: row.id).sum())\nopen({str(marker)!r}, 'w').close()",
            "import time\ntime.sleep(300)",
        ),
    )
    command, _, run_dir = _command(local, "/Projects/p/Sleeper")
    with open(local.base / "stdout.txt", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, (local.base / "stdout.txt").read_text()
            assert time.monotonic() < deadline, "Spark did not start in time"
            time.sleep(0.2)
        jvms = [(pid, cmd) for pid, cmd in _processes_mentioning(str(run_dir)) if "java" in cmd]
        assert jvms, "the JVM should carry the run dir on its command line"
        assert all(os.getpgid(pid) == process.pid for pid, _ in jvms)  # in the run's group, not a session of its own
        assert any("pyspark.daemon" in cmd for _, cmd in _processes_mentioning(str(local.base)))

        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (_group_gone(process.pid) and not _processes_mentioning(str(local.base))):
            time.sleep(0.2)
        assert _group_gone(process.pid)
        assert _processes_mentioning(str(local.base)) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
