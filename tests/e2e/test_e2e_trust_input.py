"""Issue 11 items 3 and 13: inputs nobody tuned for are refused (exit 2, one line, nothing changed),
and no form of the token shows while they are.

The table runs twice, as tests/e2e/test_e2e_refusals.py's does: on the local backend (nothing in its
root changes) and against one emulator for the module (not one request while the case runs, so no
write, and its root does not change). Every case also runs with --json: the one object on stdout
carries the same error line. The end-of-test checks (conftest) look for the sentinel token from the
project's .env in every output and file; the token cases use the sentinel itself, malformed.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from e2e_helpers import REPO, SENTINEL_TOKEN, WORKSPACE_ROOT, ProjectCopy

from bricktasks.ci.manifest import write_build_manifest
from bricktasks.testing.emulator import EmulatorProcess, databricks_backend

HOST = "{host}"  # the case's workspace URL: a host nobody serves locally, the emulator's URL remotely
LOCAL_HOST = "https://adb-0000000000000000.0.azuredatabricks.net"
SPEC = {"BRICKTASKS_CLUSTER_SPEC": "odd.json", "BRICKTASKS_BUILD_ID": "1"}
SPARK = '{"new_cluster": {"spark_version": "15.4.x-scala2.12", "num_workers": 0}, "libraries": %s}'

CASES = [
    # (id, invoke arguments, extra environment, .env bytes (None: the fixture's), odd.json text, expected in the line)
    # -- a malformed token, or host and token given the wrong way round: the token is never shown
    ("token-trailing-newline", ["checkout", "BI-1"], {"DATABRICKS_HOST": HOST, "DATABRICKS_TOKEN": SENTINEL_TOKEN + "\n"},
     None, None, "DATABRICKS_TOKEN holds a newline"),
    ("token-trailing-crlf", ["ci"], {"DATABRICKS_HOST": HOST, "DATABRICKS_TOKEN": SENTINEL_TOKEN + "\r\n"},
     None, None, "DATABRICKS_TOKEN holds a newline"),
    ("token-space-inside", ["checkout", "BI-1"],
     {"DATABRICKS_HOST": HOST, "DATABRICKS_TOKEN": SENTINEL_TOKEN[:9] + " " + SENTINEL_TOKEN[9:]},
     None, None, "DATABRICKS_TOKEN holds whitespace"),
    ("token-escape-inside", ["upload-lib", "--branch", "BI-1"], {"DATABRICKS_HOST": HOST, "DATABRICKS_TOKEN": SENTINEL_TOKEN + "\x1b[0m"},
     None, None, "DATABRICKS_TOKEN holds a control character"),
    ("token-non-ascii", ["deploy", "--force"], {"DATABRICKS_HOST": HOST, "DATABRICKS_TOKEN": SENTINEL_TOKEN + "é"},
     None, None, "DATABRICKS_TOKEN holds a non-ASCII character"),
    ("token-newline-in-dotenv", ["checkout", "BI-1"], {"DATABRICKS_HOST": HOST},
     f'DATABRICKS_TOKEN="{SENTINEL_TOKEN}\\n"\n'.encode(), None, "DATABRICKS_TOKEN holds a newline"),
    ("host-and-token-swapped", ["checkout", "BI-1"], {"DATABRICKS_HOST": SENTINEL_TOKEN, "DATABRICKS_TOKEN": HOST},
     None, None, "DATABRICKS_HOST is not a URL"),
    ("host-and-token-swapped-in-dotenv", ["builds"], {"DATABRICKS_HOST": ""},
     f"DATABRICKS_HOST={SENTINEL_TOKEN}\nDATABRICKS_TOKEN=https://adb-1.azuredatabricks.net\n".encode(), None, "swapped"),
    ("token-is-a-url", ["checkout", "BI-1"], {"DATABRICKS_HOST": HOST, "DATABRICKS_TOKEN": HOST},
     None, None, "DATABRICKS_TOKEN is a URL"),
    # -- .env in another encoding: refused by position, no value shown; a UTF-8 BOM is read, not dropped
    ("dotenv-bom-first-line-read", ["checkout", "BI-1"], {},
     f"\ufeffBRICKTASKS_ENV=nobody\nDATABRICKS_TOKEN={SENTINEL_TOKEN}\n".encode(), None, "no conf/nobody_config.py"),
    ("dotenv-latin1", ["checkout", "BI-1"], {},
     f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\nBRICKTASKS_ENV=caf\xe9\n".encode("latin-1"), None, ".env line 2 column 19 is not UTF-8"),
    ("dotenv-utf16", ["checkout", "BI-1"], {}, f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\n".encode("utf-16"), None, ".env is UTF-16"),
    ("dotenv-binary", ["checkout", "BI-1"], {}, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", None, ".env line 1 column 1 is not UTF-8"),
    ("dotenv-nul", ["checkout", "BI-1"], {}, f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\x00\n".encode(), None,
     f".env line 1 column {len('DATABRICKS_TOKEN=' + SENTINEL_TOKEN) + 1} holds a control character"),
    # -- durations
    ("clean-overflow", ["clean-ci", "--older-than", "999999999w"], {}, None, None, "is too long; give at most 5200w"),
    ("clean-full-width-digits", ["clean-ci", "--older-than", "３０d"], {}, None, None, "is not a duration"),
    ("clean-arabic-indic-digits", ["clean-ci", "--older-than", "٣٠d"], {}, None, None, "is not a duration"),
    ("ci-timeout-above-limit", ["ci", "--timeout", "49h"], {"BRICKTASKS_BUILD_ID": "1"}, None, None, "give at most 48h"),
    ("ci-timeout-overflow", ["ci", "--timeout", "999999999w"], {"BRICKTASKS_BUILD_ID": "1"}, None, None, "give at most 48h"),
    ("ci-timeout-zero", ["ci", "--timeout", "0s"], {"BRICKTASKS_BUILD_ID": "1"}, None, None, "give at least 1s"),
    ("ci-timeout-env-full-width", ["ci"], {"BRICKTASKS_TIMEOUT": "２５m", "BRICKTASKS_BUILD_ID": "1"}, None, None, "is not a duration"),
    ("run-timeout-full-width", ["run", "ModelTraining", "--timeout", "３m"], {}, None, None, "is not a duration"),
    # -- ci --notebooks that names nothing
    ("ci-notebooks-only-commas", ["ci", "--notebooks", " , ,"], {"BRICKTASKS_BUILD_ID": "1"}, None, None, "names no notebook"),
    ("ci-notebooks-empty", ["ci", "--notebooks", ""], {"BRICKTASKS_BUILD_ID": "1"}, None, None, "--notebooks '' names no notebook"),
    ("ci-notebooks-env-commas", ["ci"], {"BRICKTASKS_CI_NOTEBOOKS": ",", "BRICKTASKS_BUILD_ID": "1"}, None, None,
     "BRICKTASKS_CI_NOTEBOOKS ',' names no notebook"),
    # -- cluster specs from a pull request
    ("cluster-spec-array", ["ci"], SPEC, None, "[]", "must be a JSON object"),
    ("cluster-spec-string", ["ci"], SPEC, None, '"x"', "must be a JSON object"),
    ("cluster-spec-deep", ["ci"], SPEC, None, "[" * 10000 + "]" * 10000, "nested too deeply"),
    ("cluster-spec-deep-inside", ["ci"], SPEC, None, '{"new_cluster": ' + "[" * 100000 + "]" * 100000 + "}", "nested too deeply"),
    ("cluster-spec-nan", ["ci"], SPEC, None, '{"new_cluster": {"spark_version": "15.4.x", "num_workers": NaN}}', "not valid JSON"),
    ("cluster-spec-whl-number", ["ci"], SPEC, None, SPARK % '[{"whl": 5}]', "library 1: whl must be a non-empty string"),
    ("cluster-spec-libraries-string", ["ci"], SPEC, None, SPARK % '"x"', "libraries must be a list"),
    ("cluster-spec-pypi-string", ["ci"], SPEC, None, SPARK % '[{"pypi": {"package": "a"}}, {"pypi": "b"}]',
     "library 2: pypi must be an object"),
]


def _arrange(project: ProjectCopy, dotenv: bytes | None, spec: str | None) -> None:
    if dotenv is not None:
        (project.root / ".env").write_bytes(dotenv)
    if spec is not None:
        (project.root / "odd.json").write_text(spec)


def _environment(env: dict[str, str], host: str) -> dict[str, str]:
    return {name: value.replace(HOST, host) for name, value in env.items()}


def _tree_digest(root: Path) -> str:
    """Every path and its bytes below the emulator's root, but its spooled uploads (as test_e2e_refusals)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] != ".emulator-spool" and path.is_file() and path.name != ".lock":
            digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _assert_refused(result, expected: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    summary = json.loads(result.stdout)  # --json: one object, the same line
    assert (summary["ok"], summary["exit_code"], summary["error"]) == (False, 2, lines[0][len("error: "):])
    for form in (SENTINEL_TOKEN, SENTINEL_TOKEN[:12], SENTINEL_TOKEN[-12:]):
        assert form not in result.stdout + result.stderr


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_refusal(project, case):
    _, arguments, env, dotenv, spec, expected = case
    assert project.invoke("checkout", "BI-1").returncode == 0  # something in the workspace that must stay as it is
    _arrange(project, dotenv, spec)
    before = project.workspace_digest()
    _assert_refused(project.invoke(*arguments, "--json", env=_environment(env, LOCAL_HOST)), expected)
    assert project.workspace_digest() == before


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """One emulator for the module, holding a branch folder that must stay as it is."""
    folder = tmp_path_factory.mktemp("trust-input-remote")
    with EmulatorProcess(folder / "emulated", token=SENTINEL_TOKEN) as emulator:
        seeding = ProjectCopy.create(folder / "project", repo=REPO)
        (seeding.root / ".env").write_text(f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\n")
        seeded = seeding.invoke("checkout", "BI-1", env=_remote_env(emulator))
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        assert SENTINEL_TOKEN not in seeded.stdout + seeded.stderr
        yield emulator


def _remote_env(emulator: EmulatorProcess) -> dict[str, str]:
    return {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_refusal_over_the_emulator(project, remote, end_checks, case):
    _, arguments, env, dotenv, spec, expected = case
    end_checks.paths += [remote.root, remote.request_log]
    end_checks.request_logs.append(remote.request_log)
    _arrange(project, dotenv, spec)
    seen, before = len(remote.requests()), _tree_digest(remote.root)
    _assert_refused(project.invoke(*arguments, "--json", env={**_remote_env(remote), **_environment(env, remote.url)}), expected)
    assert remote.requests()[seen:] == []  # refused before the workspace was asked anything, let alone written
    assert _tree_digest(remote.root) == before


# ---- the UTF-8 BOM: the first line counts ----------------------------------------------------

def test_a_dotenv_with_a_bom_sends_the_task_to_the_workspace_it_names(project, tmp_path):
    """Today's bug: the BOM hid DATABRICKS_HOST on the first line and checkout quietly ran locally."""
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        (project.root / ".env").write_bytes(f"\ufeffDATABRICKS_HOST={emulator.url}\nDATABRICKS_TOKEN={SENTINEL_TOKEN}\n".encode())
        result = project.invoke("checkout", "BI-1", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["folder"] == f"{WORKSPACE_ROOT}/BI-1"
        assert any(request["method"] == "POST" and "import" in request["path"] for request in emulator.requests())
    assert not project.local_root.exists()  # nothing ran on the local backend


# ---- invoke builds: names from folders and manifests shown escaped ---------------------------

ODD_FOLDER = "7-BI-1"
NOT_A_BUILD = "7-red\x1b[31mALERT\x1b[0m"  # no build name: builds leaves it out, clean-ci keeps and names it
ODD_BRANCH = "BI-1\n9-BI-9  BI-9  1s  SUCCESS"


def _add_odd_build(backend) -> None:
    folder = f"{WORKSPACE_ROOT}/CI/{ODD_FOLDER}"
    backend.mkdirs(folder)
    backend.mkdirs(f"{WORKSPACE_ROOT}/CI/{NOT_A_BUILD}")
    manifest = {"branch": ODD_BRANCH, "created": datetime.now(timezone.utc).isoformat(), "run_id": None, "result": "SUCCESS\x1b[2K"}
    write_build_manifest(backend, folder, manifest)


def _assert_shown_escaped(project: ProjectCopy, env: dict[str, str] | None = None) -> None:
    table = project.invoke("builds", env=env)
    assert table.returncode == 0, table.stdout + table.stderr
    lines = table.stdout.splitlines()
    assert "\x1b" not in table.stdout and len(lines) == 2, table.stdout  # the header and one row: no faked row
    assert lines[1].startswith(ODD_FOLDER) and "BI-1\\n9-BI-9" in lines[1] and "SUCCESS\\x1b[2K" in lines[1]
    summary = project.invoke("builds", "--json", env=env)
    assert "\x1b" not in summary.stdout and summary.stdout.count("\n") == 1  # json.dumps escapes them
    build = json.loads(summary.stdout)["builds"][0]
    assert (build["name"], build["branch"]) == (ODD_FOLDER, ODD_BRANCH)
    cleaning = project.invoke("clean-ci", "--older-than", "0d", "--dry-run", env=env)
    assert cleaning.returncode == 0, cleaning.stdout + cleaning.stderr
    assert "\x1b" not in cleaning.stdout + cleaning.stderr and "7-red\\x1b[31mALERT\\x1b[0m" in cleaning.stdout


def test_builds_shows_escape_sequences_and_newlines_escaped(project):
    _add_odd_build(project.backend())
    _assert_shown_escaped(project)


def test_builds_over_the_emulator_shows_them_escaped(project, tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        _add_odd_build(databricks_backend(emulator.url, SENTINEL_TOKEN))
        _assert_shown_escaped(project, env={"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url})
