"""Nothing lost on overwrite (issue 15 item 3), over the emulator with the UI edits made through the
real databricks-sdk: a checkout that writes over a notebook edited in the workspace keeps that
version in .bricktasks/overwritten/<branch>/<time>/ first and says so in one line (with how to get
it back); --force keeps none and still warns; a UI-made notebook pruned with --prune is kept; a
deploy over UI edits in master/ keeps them too (and status --master compares master/ read-only).
.bricktasks/ never shows in git, even in a project whose .gitignore does not name it."""
from __future__ import annotations

import base64
import subprocess

from databricks.sdk.service.workspace import ImportFormat, Language
from e2e_helpers import HEADER, SENTINEL_TOKEN, WORKSPACE_ROOT

from bricktasks.testing.emulator import EmulatorProcess, workspace_client
from bricktasks.workspace.overwritten import KEEP_FOLDER

FOLDER = f"{WORKSPACE_ROOT}/BI-1"
MASTER = f"{WORKSPACE_ROOT}/master"


def ui_edit(client, path: str, text: str) -> None:
    client.workspace.import_(path, content=base64.b64encode(text.encode()).decode(), format=ImportFormat.SOURCE,
                             language=Language.PYTHON, overwrite=True)


def exported(client, path: str) -> str:
    return base64.b64decode(client.workspace.export(path).content or "").decode()


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def warnings(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if "warning:" in line]


def kept_files(project, target: str) -> dict[str, str]:
    """What is kept for `target`, by `<time>/<path>`."""
    folder = project.root / KEEP_FOLDER / target
    return {str(path.relative_to(folder)): path.read_text() for path in sorted(folder.rglob("*")) if path.is_file()}


def without_bricktasks_in_gitignore(project) -> None:
    """The copies must stay out of git on their own (.bricktasks/.gitignore), not by the project's .gitignore."""
    gitignore = project.root / ".gitignore"
    gitignore.write_text("".join(line for line in gitignore.read_text().splitlines(keepends=True) if ".bricktasks" not in line))
    project.commit_all("a project that never heard of .bricktasks/")


def test_checkout_keeps_ui_edits_it_overwrites_or_prunes_and_force_keeps_none(project, tmp_path):
    without_bricktasks_in_gitignore(project)
    project.git("checkout", "-q", "-b", "BI-1")
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        ok(project.invoke("checkout", "BI-1", env=env))
        git_version = exported(client, f"{FOLDER}/ModelTraining")

        ui_edit(client, f"{FOLDER}/ModelTraining", "print('a fix made on the cluster')\n")
        overwritten = ok(project.invoke("checkout", "BI-1", env=env))
        [(time_folder, text)] = kept_files(project, "BI-1").items()
        assert time_folder.endswith("/ModelTraining.py") and text == HEADER + "print('a fix made on the cluster')\n"
        [line] = warnings(overwritten)
        assert f"overwrote {FOLDER}/ModelTraining, edited in the workspace since the last sync" in line
        assert f"kept in {KEEP_FOLDER}/BI-1/{time_folder}" in line and "invoke pull" in line and "copy it" in line
        assert exported(client, f"{FOLDER}/ModelTraining") == git_version, "git's version is in the workspace again"
        assert project.git("status", "--porcelain", "--untracked-files=all") == "", ".bricktasks/ is never seen by git"

        ui_edit(client, f"{FOLDER}/ModelTraining", "print('another fix')\n")
        forced = ok(project.invoke("checkout", "BI-1", "--force", env=env))
        [line] = warnings(forced)
        assert f"overwrote {FOLDER}/ModelTraining, edited in the workspace since the last sync (--force: no copy kept)" in line
        assert len(kept_files(project, "BI-1")) == 1, "--force keeps no copy"

        client.workspace.mkdirs(f"{FOLDER}/scratch")
        ui_edit(client, f"{FOLDER}/scratch/Explore", "display(spark.range(3))\n")
        kept_back = ok(project.invoke("checkout", "BI-1", env=env))
        assert warnings(kept_back) == [] and "not in the working copy (pass --prune to remove): scratch" in kept_back.stdout
        pruned = ok(project.invoke("checkout", "BI-1", "--prune", env=env))
        [line] = warnings(pruned)
        assert f"deleted {FOLDER}/scratch/Explore, edited in the workspace since the last sync" in line
        copies = kept_files(project, "BI-1")
        [explore] = [name for name in copies if name.endswith("/scratch/Explore.py")]
        assert copies[explore] == HEADER + "display(spark.range(3))\n"
        assert "scratch" not in {item.path.rsplit("/", 1)[1] for item in client.workspace.list(FOLDER)}
        assert project.git("status", "--porcelain", "--untracked-files=all") == ""


def test_deploy_keeps_ui_edits_in_master_and_status_compares_master_read_only(project, tmp_path, end_checks):
    end_checks.master_allowed = True
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        # master/ as someone left it by hand before the first deploy: an edited notebook and one made in the UI
        client.workspace.mkdirs(MASTER)
        ui_edit(client, f"{MASTER}/PrepareData", "print('hotfix in production')\n")
        ui_edit(client, f"{MASTER}/Adhoc", "print('made in the UI')\n")

        deployed = ok(project.invoke("deploy", env=env))  # prunes by default
        copies = kept_files(project, "master")
        assert sorted(name.split("/", 1)[1] for name in copies) == ["Adhoc.py", "PrepareData.py"]
        assert {name.split("/", 1)[1]: text for name, text in copies.items()} == {
            "PrepareData.py": HEADER + "print('hotfix in production')\n", "Adhoc.py": HEADER + "print('made in the UI')\n"}
        assert len(warnings(deployed)) == 2 and all(f"kept in {KEEP_FOLDER}/master/" in line for line in warnings(deployed))
        assert project.git("status", "--porcelain", "--untracked-files=all") == ""

        before = len(emulator.requests())
        assert "forecasting/ and /Projects/forecasting/master match" in ok(project.invoke("status", "--master", env=env)).stdout
        assert not [r for r in emulator.requests()[before:] if r["method"] != "GET"], "status only reads master/"
        ui_edit(client, f"{MASTER}/Evaluate", "print('another hotfix')\n")
        before = len(emulator.requests())
        differs = project.invoke("status", env=env)  # on main: master/ is this working copy's folder
        assert differs.returncode == 1 and " M forecasting/Evaluate.py" in differs.stdout
        assert not [r for r in emulator.requests()[before:] if r["method"] != "GET"], "status only reads master/"
