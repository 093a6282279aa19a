"""dbutils in a run: widgets, fs on DBFS and Volumes, secrets (and their redaction), library."""
from __future__ import annotations

from pathlib import Path

import pytest
from runtime_helpers import LocalRoot, RunCells

from bricktasks.runtime.errors import InputWidgetNotDefined
from bricktasks.runtime.fsutils import FsUtils
from bricktasks.runtime.paths import to_local_path

SECRETS = {"kv": {"token": "tok-9f8e7d", "short": "pw"}, "other": {"k": "v-123456"}}


# -- widgets -----------------------------------------------------------------------------
def test_widgets_defaults_parameters_and_undeclared(run_cells: RunCells) -> None:
    result = run_cells(
        "dbutils.widgets.text('env', 'dev', 'Environment')\n"
        "dbutils.widgets.dropdown('size', 'small', ['small', 'large'])\n"
        "dbutils.widgets.combobox('mode', 'fast', ['fast', 'slow'], label='Mode')\n"
        "print(dbutils.widgets.get('env'), dbutils.widgets.get('size'), dbutils.widgets.get('mode'), getArgument('env'))\n"
        "print(dbutils.widgets.getArgument('undeclared', 'fallback'), dbutils.widgets.get('passed_only'))",
        "dbutils.widgets.removeAll()\nprint(dbutils.widgets.get('env'))\ndbutils.widgets.get('size')",
        parameters={"env": "ci", "passed_only": "p"},
    )
    assert result.cells[0].stdout == "ci small fast ci\nfallback p\n"
    # removeAll forgets declarations; parameters of the run stay
    assert result.cells[1].stdout == "ci\n"
    assert result.failed_cell == 2
    assert result.error == (
        "InputWidgetNotDefined: No input widget named size is defined; "
        "declare it with dbutils.widgets.text('size', <default>) or pass it as a parameter"
    )


def test_dropdown_default_must_be_a_choice(run_cells: RunCells) -> None:
    result = run_cells("dbutils.widgets.dropdown('x', 'c', ['a', 'b'])")
    assert result.error == "ValueError: Default value 'c' of widget 'x' is not one of the choices ['a', 'b']"


def test_widget_error_type_is_exported() -> None:
    assert issubclass(InputWidgetNotDefined, Exception)


def test_notebook_path_through_the_entry_point(run_cells: RunCells) -> None:
    result = run_cells("print(dbutils.notebook.entry_point.getDbutils().notebook().getContext().notebookPath().get())")
    assert result.cells[0].stdout == "/Projects/p/Main\n"


# -- fs ----------------------------------------------------------------------------------
@pytest.fixture
def fs(tmp_path: Path) -> FsUtils:
    printed: list[str] = []
    utils = FsUtils(lambda path: to_local_path(tmp_path, path), echo=printed.append)
    utils.printed = printed  # type: ignore[attr-defined]
    return utils


def test_fs_put_head_ls_and_the_local_files(fs: FsUtils, tmp_path: Path) -> None:
    assert fs.put("dbfs:/data/a.txt", "hello") is True
    assert (tmp_path / "dbfs" / "data" / "a.txt").read_text() == "hello"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fs.put("/dbfs/data/a.txt", "again")
    fs.put("/dbfs/data/a.txt", "hello world", overwrite=True)
    assert fs.head("dbfs:/data/a.txt") == "hello world"
    assert fs.head("dbfs:/data/a.txt", 5) == "hello"
    assert fs.printed == ["Wrote 5 bytes.", "Wrote 11 bytes.", "[Truncated to first 5 bytes]"]  # type: ignore[attr-defined]
    fs.mkdirs("dbfs:/data/sub/deeper")
    listing = fs.ls("dbfs:/data")
    assert [(entry.path, entry.name, entry.size) for entry in listing] == [
        ("dbfs:/data/a.txt", "a.txt", 11),
        ("dbfs:/data/sub/", "sub/", 0),
    ]
    assert listing[1].isDir() and listing[0].isFile() and listing[0].modificationTime > 1_600_000_000_000
    assert [entry.path for entry in fs.ls("/data")] == ["dbfs:/data/a.txt", "dbfs:/data/sub/"]  # bare paths mean DBFS
    assert [entry.name for entry in fs.ls("dbfs:/data/a.txt")] == ["a.txt"]
    with pytest.raises(FileNotFoundError, match="File dbfs:/nope does not exist"):
        fs.ls("dbfs:/nope")


def test_fs_on_volumes_cp_mv_rm(fs: FsUtils, tmp_path: Path) -> None:
    volume = "/Volumes/main/ml/files"
    fs.put(f"{volume}/in/x.csv", "a,b\n1,2\n")
    assert (tmp_path / "volumes" / "main" / "ml" / "files" / "in" / "x.csv").exists()
    fs.cp(f"{volume}/in/x.csv", "dbfs:/copy/x.csv")
    assert fs.head("dbfs:/copy/x.csv") == "a,b\n1,2\n"
    with pytest.raises(IsADirectoryError, match="recurse=True"):
        fs.cp(f"{volume}/in", f"{volume}/in2")
    fs.cp(f"{volume}/in", f"{volume}/in2", recurse=True)
    assert [entry.path for entry in fs.ls(f"{volume}/in2")] == [f"{volume}/in2/x.csv"]
    fs.mv(f"{volume}/in2/x.csv", f"{volume}/moved.csv")
    assert [entry.name for entry in fs.ls(volume)] == ["in/", "in2/", "moved.csv"]
    with pytest.raises(OSError, match="non-empty directory"):
        fs.rm(f"{volume}/in")
    assert fs.rm(f"{volume}/in", recurse=True) is True
    assert fs.rm(f"{volume}/in2") is True  # empty now
    assert fs.rm(f"{volume}/missing") is False
    assert [entry.name for entry in fs.ls(volume)] == ["moved.csv"]


def test_fs_refuses_paths_outside_the_root(fs: FsUtils) -> None:
    with pytest.raises(ValueError, match=r"'\.' or '\.\.'"):
        fs.put("dbfs:/../escape", "x")
    with pytest.raises(ValueError, match="not absolute"):
        fs.ls("relative/path")


def test_fs_magic_and_dbutils_fs_in_a_notebook(run_cells: RunCells, local: LocalRoot) -> None:
    result = run_cells(
        "dbutils.fs.put('/Volumes/c/s/v/hello.txt', 'hi')",
        "# MAGIC %fs ls /Volumes/c/s/v",
        "# MAGIC %fs head /Volumes/c/s/v/hello.txt",
        "display(dbutils.fs.ls('/Volumes/c/s/v'))",
    )
    assert result.status == "SUCCESS", result.error_trace
    assert (local.root / "volumes" / "c" / "s" / "v" / "hello.txt").read_text() == "hi"
    table = result.cells[1].outputs[0]
    assert table["type"] == "table" and table["columns"] == ["path", "name", "size", "modificationTime"]
    assert table["rows"][0][:3] == ["/Volumes/c/s/v/hello.txt", "hello.txt", 2]
    assert result.cells[2].stdout == "hi\n"
    assert result.cells[3].outputs[0]["rows"][0][:3] == ["/Volumes/c/s/v/hello.txt", "hello.txt", 2]


# -- secrets -----------------------------------------------------------------------------
def test_secrets_api(run_cells: RunCells) -> None:
    result = run_cells(
        "print([s.name for s in dbutils.secrets.listScopes()], [m.key for m in dbutils.secrets.list('kv')])\n"
        "print(len(dbutils.secrets.get('kv', 'token')), dbutils.secrets.getBytes('other', 'k') == b'v-123456')",
        "dbutils.secrets.get('kv', 'missing')",
        secrets=SECRETS,
    )
    assert result.cells[0].stdout == "['kv', 'other'] ['short', 'token']\n10 True\n"
    assert result.error == (
        "SecretNotFound: Secret does not exist with scope: kv and key: missing; "
        "locally, secrets come from BRICKTASKS_SECRET__<SCOPE>__<KEY> variables or the emulator's secrets/put"
    )


def test_secret_values_are_redacted_from_every_output(run_cells: RunCells) -> None:
    result = run_cells(
        "token = dbutils.secrets.get('kv', 'token')\nprint('the token is', token)",
        "display({'t': token})\ndisplayHTML(f'<b>{token}</b>')\ntoken",
        "# MAGIC %sh echo tok-9f8e7d from sh",
        "raise ValueError(f'bad token {token}')",
        secrets=SECRETS,
    )
    assert result.cells[0].stdout == "the token is [REDACTED]\n"
    assert [output.get("text") or output.get("html") for output in result.cells[1].outputs] == [
        "{'t': '[REDACTED]'}",
        "<b>[REDACTED]</b>",
        "'[REDACTED]'",
    ]
    assert result.cells[2].stdout == "[REDACTED] from sh\n"
    assert result.error == "ValueError: bad token [REDACTED]"
    assert "tok-9f8e7d" not in (result.error_trace or "") and "[REDACTED]" in (result.error_trace or "")
    assert "tok-9f8e7d" not in str(result.to_dict()).replace("dbutils.secrets.get('kv', 'token')", "")


def test_exit_value_is_redacted(run_cells: RunCells) -> None:
    result = run_cells("dbutils.notebook.exit('v=' + dbutils.secrets.get('other', 'k'))", secrets=SECRETS)
    assert result.exit_value == "v=[REDACTED]"


# -- library -------------------------------------------------------------------------------
def test_library_install_and_restart_python(run_cells: RunCells, wheel: Path) -> None:
    result = run_cells(
        f"print(dbutils.library.install({str(wheel)!r}))\ndbutils.library.restartPython()",
        "import rtwheel\nprint(rtwheel.OFFSET)",
    )
    assert result.status == "SUCCESS", result.error_trace
    assert result.cells[0].stdout.splitlines() == [
        f"Installed {wheel.name} into the run's library folder",
        "True",
        "restartPython() does nothing locally: libraries are already on the run's path",
    ]
    assert result.cells[1].stdout == "100\n"
