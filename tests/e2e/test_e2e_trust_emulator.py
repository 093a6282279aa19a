"""Local runs' secrets end to end (issue 11, item 4): `BRICKTASKS_SECRET__<scope>__<key>` in `.env`
reaches `dbutils.secrets.get` in `invoke run`, the process environment wins over `.env`, and the
value is redacted from the run's output and kept in no file of the project (the end-of-test check
searches every file below the test's folder, the local root's runs/ included, for the sentinel,
which is the secret here)."""
from __future__ import annotations

import hashlib

from e2e_helpers import HEADER, SENTINEL_TOKEN

USES_THE_SECRET = HEADER + """import hashlib

value = dbutils.secrets.get("ml", "api")
print("the secret is", value)
dbutils.notebook.exit(hashlib.sha256(value.encode()).hexdigest())
"""


def _exit_value(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("exit value: ")).removeprefix("exit value: ")


def _run_logs(project) -> str:
    return "".join(path.read_text(errors="replace") for path in sorted(project.local_root.glob("runs/*/stdout.txt")))


def test_a_secret_in_dotenv_reaches_the_run_redacted_and_is_kept_nowhere(project) -> None:
    with (project.root / ".env").open("a") as dotenv:
        dotenv.write(f"BRICKTASKS_SECRET__ml__api={SENTINEL_TOKEN}\n")
    project.write_notebook("UsesSecret", USES_THE_SECRET)
    project.commit_all("a notebook reading a secret")

    result = project.invoke("run", "UsesSecret", "--env", "ci")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _exit_value(result.stdout) == hashlib.sha256(SENTINEL_TOKEN.encode()).hexdigest()
    assert "the secret is [REDACTED]" in _run_logs(project)
    assert not list(project.local_root.glob("runs/*/secrets.json"))

    # the process environment wins over .env, as for every setting
    result = project.invoke("run", "UsesSecret", "--env", "ci", env={"BRICKTASKS_SECRET__ml__api": "from-the-shell"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert _exit_value(result.stdout) == hashlib.sha256(b"from-the-shell").hexdigest()
    assert "from-the-shell" not in result.stdout + result.stderr + _run_logs(project)


def test_a_secret_without_a_key_in_dotenv_is_refused_in_one_line(project) -> None:
    with (project.root / ".env").open("a") as dotenv:
        dotenv.write(f"BRICKTASKS_SECRET__ml={SENTINEL_TOKEN}\n")
    project.write_notebook("UsesSecret", USES_THE_SECRET)
    project.commit_all("a notebook reading a secret")
    result = project.invoke("run", "UsesSecret", "--env", "ci")
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert "BRICKTASKS_SECRET__ml in .env names no secret scope and key" in line and "Traceback" not in result.stderr
    assert not project.local_root.joinpath("runs").exists() or not list(project.local_root.glob("runs/*"))
