"""`invoke status` and `invoke pull` end to end (issue 15 items 1-2), with the workspace-UI edits made
through the real databricks-sdk against the emulator and counted in its request log:
- status right after a checkout exits 0 and costs listings and the manifest, no export; each kind of
  difference (local edit, UI edit, both, UI-made notebook in SQL, UI delete, a helper switch-env
  rewrote) gets its code, in text and --json; bad branch names are refused before any request;
- pull brings UI edits home (header and CRLF kept), refuses conflicts (nothing written), --dry-run
  writes nothing (not even the manifest), --ours / --theirs, skips what it cannot write safely (a
  control character, a name git ignores, more than 10 MB), and the next checkout sends nothing it
  pulled; pull on main is refused;
- a pull killed with SIGKILL leaves every file wholly old or wholly new and nothing git or checkout
  sees; run again, it finishes and status is clean;
- on the local backend: a CI build's folder (--build), a symbolic link in the source refused."""
from __future__ import annotations

import base64
import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from databricks.sdk.service.workspace import ImportFormat, Language
from e2e_helpers import HEADER, SENTINEL_TOKEN, WORKSPACE_ROOT, is_write

from bricktasks.source.items import collect_source
from bricktasks.testing.emulator import EmulatorProcess, workspace_client
from bricktasks.workspace.checkout import push_source
from bricktasks.workspace.sync import MANIFEST_NAME

FOLDER = f"{WORKSPACE_ROOT}/BI-1"
IMPORT = "/api/2.0/workspace/import"


@pytest.fixture
def emulator(tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as running:
        yield running


def over(emulator) -> dict[str, str]:
    return {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}


def ui_edit(client, path: str, text: str, language: Language = Language.PYTHON) -> None:
    """What the notebook editor of the workspace UI does: a SOURCE import over the notebook."""
    client.workspace.import_(path, content=base64.b64encode(text.encode()).decode(), format=ImportFormat.SOURCE,
                             language=language, overwrite=True)


def ui_file(client, path: str, data: bytes) -> None:
    client.workspace.import_(path, content=base64.b64encode(data).decode(), format=ImportFormat.AUTO, overwrite=True)


def run(project, *args: str, env: dict[str, str], code: int = 0) -> str:
    result = project.invoke(*args, env=env)
    assert result.returncode == code, result.stdout + result.stderr
    return result.stdout + result.stderr


def since(emulator, before: int) -> list[dict]:
    return emulator.requests()[before:]


def status_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:2] in ("M ", " M", "MM", "A ", " A", "D ", " D", "??", "MD", "DM")]


def git_changes(project) -> list[str]:
    """`git status --porcelain`, every untracked file listed, each line stripped, sorted."""
    return sorted(line.strip() for line in project.git("status", "--porcelain", "--untracked-files=all").splitlines())


def imported(requests: list[dict]) -> list[str]:
    return sorted(r["target"][len(FOLDER) + 1:] for r in requests if r["path"] == IMPORT and "-claim-" not in r["target"])


def test_status_after_a_checkout_and_every_kind_of_difference(project, emulator):
    env, client = over(emulator), workspace_client(emulator.url, SENTINEL_TOKEN)
    project.git("checkout", "-q", "-b", "BI-1")
    run(project, "checkout", "BI-1", env=env)

    before = len(emulator.requests())
    assert "forecasting/ and /Projects/forecasting/BI-1 match" in run(project, "status", env=env)
    asked = since(emulator, before)
    assert not [r for r in asked if is_write(r)]
    exports = [r for r in asked if r["path"].endswith("/workspace/export")]
    assert [r["target"] for r in exports] == [f"{FOLDER}/{MANIFEST_NAME}"], "no content is read: listings and the manifest only"
    assert {r["path"] for r in asked} <= {"/.well-known/databricks-config", "/api/2.0/workspace/list", "/api/2.0/workspace/export"}
    print(f"status of a clean folder: {len(asked)} requests, {len(exports)} export (the manifest)")  # figures for the report (-s)

    source = project.source
    (source / "PrepareData.py").write_text((source / "PrepareData.py").read_text() + "print('local')\n")
    ui_edit(client, f"{FOLDER}/ModelTraining", "print('fixed on the cluster')\n")
    (source / "Evaluate.py").write_text(HEADER + "print('mine')\n")
    ui_edit(client, f"{FOLDER}/Evaluate", "print('theirs')\n")
    ui_edit(client, f"{FOLDER}/Explore", "SELECT 1\n", Language.SQL)
    client.workspace.delete(f"{FOLDER}/conf/kyle_config")
    run(project, "switch-env", "kyle", "--branch", "BI-1", env=env)

    before = len(emulator.requests())
    shown = run(project, "status", env=env, code=1)
    assert not [r for r in since(emulator, before) if is_write(r)], "status writes nothing"
    assert status_lines(shown) == [
        "MM forecasting/Evaluate.py (conflict)",
        " A forecasting/Explore.sql",
        " M forecasting/ModelTraining.py",
        "M  forecasting/PrepareData.py",
        " D forecasting/conf/kyle_config.py",
        "M  forecasting/set_environment.py (helper notebook: checkout rewrites it)",
    ]
    record = json.loads(run(project, "status", "--branch", "BI-1", "--json", env=env, code=1).splitlines()[0])
    assert record["exit_code"] == 1 and record["clean"] is False and record["conflicts"] == 1
    by_path = {entry["path"]: entry for entry in record["entries"]}
    assert by_path["Evaluate.py"]["conflict"] is True and by_path["Explore.sql"]["workspace_path"] == "Explore"
    assert by_path["set_environment.py"]["helper"] is True and by_path["set_environment.py"]["conflict"] is False


BAD = [("status", "--branch", "../x"), ("pull", "--branch", "BI-1\x1b[2J"), ("status", "--build", "../CI"),
       ("status", "--master", "--build", "1-x")]


def test_status_and_pull_refuse_bad_names_before_any_request(project, emulator):
    env = over(emulator)
    for args in BAD:
        result = project.invoke(*args, env=env)
        assert result.returncode == 2, result.stdout + result.stderr
        assert len((result.stdout + result.stderr).strip().splitlines()) == 1 and "\x1b" not in result.stderr
    assert emulator.requests() == [], "refused before the first request"
    assert project.git("status", "--porcelain") == "" and not (project.root / ".bricktasks").exists()


def test_pull_brings_ui_edits_home_and_the_next_checkout_sends_none_of_them(project, emulator, tmp_path):
    env, client = over(emulator), workspace_client(emulator.url, SENTINEL_TOKEN)
    crlf = project.source / "PrepareData.py"
    crlf.write_bytes(crlf.read_bytes().replace(b"\n", b"\r\n"))  # an editor on Windows
    project.commit_all("CRLF")
    project.git("checkout", "-q", "-b", "BI-1")
    run(project, "checkout", "BI-1", env=env)

    ui_edit(client, f"{FOLDER}/PrepareData", "print('fixed on the cluster')\n")
    ui_edit(client, f"{FOLDER}/Explore", "SELECT 1\n", Language.SQL)
    ui_edit(client, f"{FOLDER}/conf/dev_config", "ROWS = 2\n")
    (project.source / "conf" / "dev_config.py").write_text(HEADER + "ROWS = 3\n")
    ui_file(client, f"{FOLDER}/bad\x1bname.txt", b"x")  # a control character: never written into a working copy
    ui_file(client, f"{FOLDER}/derby.log", b"ignored by .gitignore")  # checkout would never send it back
    big = tmp_path / "emulated" / "workspace" / FOLDER.lstrip("/") / "big.bin"  # made by another route (Files API)
    big.write_bytes(b"0" * (11 * 2**20))
    manifest = client.workspace.export(f"{FOLDER}/{MANIFEST_NAME}").content
    git_before = project.git("status", "--porcelain")

    refused = project.invoke("pull", env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "changed on both sides: forecasting/conf/dev_config.py; nothing was pulled" in refused.stderr
    assert "pass --theirs" in refused.stderr
    assert "not pulled /Projects/forecasting/BI-1/bad\\x1bname.txt: its name holds control or invisible characters" in refused.stderr
    assert "not pulled /Projects/forecasting/BI-1/derby.log: git ignores its name" in refused.stderr
    assert "not pulled /Projects/forecasting/BI-1/big.bin: it is 11.0 MB" in refused.stderr
    assert project.git("status", "--porcelain") == git_before, "a refused pull writes nothing"

    before = len(emulator.requests())
    dry = run(project, "pull", "--dry-run", "--theirs", env=env)
    assert "would pull   forecasting/PrepareData.py" in dry and "would pull   forecasting/Explore.sql" in dry
    assert "conflict forecasting/conf/dev_config.py (MM: the workspace's version wins)" in dry
    assert project.git("status", "--porcelain") == git_before and not (project.root / ".bricktasks").exists()
    assert not [r for r in since(emulator, before) if is_write(r)], "--dry-run writes nothing, not even the manifest"
    assert client.workspace.export(f"{FOLDER}/{MANIFEST_NAME}").content == manifest

    pulled = run(project, "pull", "--ours", env=env)
    assert "pulled 2, deleted 0 from /Projects/forecasting/BI-1" in pulled
    assert crlf.read_bytes() == (HEADER + "print('fixed on the cluster')\n").replace("\n", "\r\n").encode(), "header and CRLF kept"
    assert (project.source / "Explore.sql").read_text() == "-- Databricks notebook source\nSELECT 1\n"
    assert (project.source / "conf" / "dev_config.py").read_text() == HEADER + "ROWS = 3\n", "--ours: the working copy's wins"
    assert not (project.source / "derby.log").exists() and not (project.source / "big.bin").exists()
    assert not [path for path in project.source.iterdir() if "\x1b" in path.name]

    before = len(emulator.requests())
    run(project, "checkout", "BI-1", env=env)
    assert imported(since(emulator, before)) == sorted(["conf/dev_config", MANIFEST_NAME]), "only ours goes up; nothing pulled is sent back"

    (project.source / "Evaluate.py").write_text(HEADER + "print('mine')\n")
    ui_edit(client, f"{FOLDER}/Evaluate", "print('theirs')\n")
    theirs = run(project, "pull", "--theirs", env=env)
    assert (project.source / "Evaluate.py").read_text() == HEADER + "print('theirs')\n"
    [kept] = [line for line in theirs.splitlines() if "the working copy's forecasting/Evaluate.py was kept in" in line]
    assert (project.root / kept.rsplit(" ", 1)[1]).read_text() == HEADER + "print('mine')\n"

    before = len(emulator.requests())
    assert "uploaded 0," in run(project, "checkout", "BI-1", env=env)
    assert [r for r in since(emulator, before) if is_write(r)] == [], "the manifest records the pulled state: nothing is sent"
    assert status_lines(run(project, "status", env=env, code=1)) == [
        " A forecasting/bad\\x1bname.txt", " A forecasting/big.bin", " A forecasting/derby.log"], "only what pull refused differs"
    assert git_changes(project) == [
        "?? forecasting/Explore.sql", "M forecasting/Evaluate.py", "M forecasting/PrepareData.py", "M forecasting/conf/dev_config.py",
    ], "what pull keeps in .bricktasks/ never shows in git"

    on_main = project.invoke("pull", "--branch", "main", env=env)
    assert on_main.returncode == 2 and "master is written only by invoke deploy" in on_main.stderr


MANY = 64  # two waves of 32 exports, 100 ms apart: a kill after the first line lands between them


def test_a_killed_pull_leaves_each_file_old_or_new_and_nothing_git_sees(project, tmp_path):
    many = project.source / "many"
    many.mkdir()
    for number in range(MANY):
        (many / f"N{number:03}.py").write_text(HEADER + f"VALUE = {number}\n")
    project.commit_all("many notebooks")
    project.git("checkout", "-q", "-b", "BI-1")
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN, latency_ms=100) as emulator:
        env, client = over(emulator), workspace_client(emulator.url, SENTINEL_TOKEN)
        run(project, "checkout", "BI-1", env=env)
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda n: ui_edit(client, f"{FOLDER}/many/N{n:03}", f"VALUE = {n}  # from the UI\n"), range(MANY)))
        old = {n: HEADER + f"VALUE = {n}\n" for n in range(MANY)}
        new = {n: HEADER + f"VALUE = {n}  # from the UI\n" for n in range(MANY)}

        pulling = project.start("pull", env=env)
        assert pulling.stdout is not None
        for line in pulling.stdout:
            if " pulled forecasting/many/" in line:
                os.kill(pulling.pid, signal.SIGKILL)  # mid-pull: the the second wave of exports is 100 ms away
                break
        pulling.wait(timeout=30)
        assert pulling.returncode == -signal.SIGKILL
        contents = {n: (many / f"N{n:03}.py").read_text() for n in range(MANY)}
        assert all(contents[n] in (old[n], new[n]) for n in range(MANY)), "every file wholly old or wholly new"
        done = sum(contents[n] == new[n] for n in range(MANY))
        print(f"killed after {done} of {MANY} files")  # for the report (-s)
        assert 0 < done < MANY, "the kill landed in the middle of the pull"
        changes = git_changes(project)
        assert len(changes) == done and all(line.startswith("M forecasting/many/N") for line in changes), changes
        assert not [path for path in project.source.rglob("*") if "pulling" in path.name], "no temporary in the source folder"
        assert len(collect_source(project.source)) == MANY + 9, "checkout sends the notebooks, nothing more"

        again = run(project, "pull", env=env)  # the files already pulled are the same on both sides: only recorded
        assert f"pulled {MANY - done}, deleted 0" in again
        assert all((many / f"N{n:03}.py").read_text() == new[n] for n in range(MANY))
        assert "match" in run(project, "status", env=env)


def test_status_of_a_ci_build_and_pull_refusing_a_link_on_the_local_backend(project, tmp_path):
    backend = project.backend()
    build = "20261202.7-BI-1"
    push_source(backend, project.source, f"{WORKSPACE_ROOT}/CI/{build}", env="ci", prune=False, dry_run=False,
                console=_quiet_console(), keeper=None, libraries=[])  # what invoke ci uploads, without a run
    assert "match" in run(project, "status", "--build", build, env={})
    backend.import_object(f"{WORKSPACE_ROOT}/CI/{build}/PrepareData.py", (HEADER + "print('ui')\n").encode(), overwrite=True)
    assert status_lines(run(project, "status", "--build", build, env={}, code=1)) == [" M forecasting/PrepareData.py"]

    project.git("checkout", "-q", "-b", "BI-1")
    run(project, "checkout", "BI-1", env={})
    backend.import_object(f"{FOLDER}/ModelTraining.py", (HEADER + "print('ui')\n").encode(), overwrite=True)
    assert "pulled 1, deleted 0" in run(project, "pull", env={})
    assert (project.source / "ModelTraining.py").read_text() == HEADER + "print('ui')\n"

    outside = tmp_path / "outside"
    outside.mkdir()
    (project.source / "linked").symlink_to(outside)
    linked = project.invoke("pull", env={})
    assert linked.returncode == 2 and "forecasting/linked is a symbolic link" in linked.stderr
    assert list(outside.iterdir()) == []


def _quiet_console():
    from bricktasks.console.console import Console

    return Console(quiet=True)


def test_temporaries_are_hidden_from_git_and_checkout_by_their_own_gitignore(project):
    """What a kill between the temporary's write and its rename leaves: never seen by git or a checkout,
    whatever the project's own .gitignore says."""
    (project.root / ".gitignore").write_text((project.root / ".gitignore").read_text().replace(".bricktasks/\n", ""))
    project.commit_all("no .bricktasks/ in .gitignore")
    from bricktasks.workspace.localwrite import TEMPORARIES
    from bricktasks.workspace.overwritten import state_folder

    (state_folder(project.root, TEMPORARIES) / ".pulling-x1y2z3").write_text("half")
    assert project.git("status", "--porcelain", "--untracked-files=all") == ""
    assert Path(project.root / ".bricktasks" / ".gitignore").read_text().endswith("*\n")
