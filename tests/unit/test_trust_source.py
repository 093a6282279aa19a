"""Issue 11, items 1, 2 and 9: what is read from the source and the libraries, and what not.

- a symbolic link among what would be sent is refused, wherever it points (outside: /etc/hostname,
  ../.env, /proc/self/environ, a folder; inside; a chain), in a git work tree and outside one;
- files git ignores are not sent (git's own view; outside git, the .gitignore files via pathspec);
- a library holding a link is refused before it is built, and a credential in any file packed into
  the wheel or egg is refused before the artifact reaches dist/.
Real files, real git, real wheel builds; nothing is mocked."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bricktasks.errors import UserInputError
from bricktasks.libraries.build import build_egg, build_wheel, check_library_source, find_libraries
from bricktasks.source.files import read_file, select_files
from bricktasks.source.items import collect_source

FAKE_TOKEN = "dapi" + "c0ffee" * 5 + "42"
HEADER = "# Databricks notebook source\n"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_project(root: Path, *, git: bool) -> Path:
    """A project with a notebooks folder `forecasting/` and a .env beside it; a git work tree if `git`."""
    source = root / "forecasting"
    (source / "conf").mkdir(parents=True)
    (source / "Train.py").write_text(HEADER + "x = 1\n")
    (source / "conf" / "dev_config.py").write_text(HEADER + "ENVIRONMENT = 'dev'\n")
    (root / ".env").write_text(f"DATABRICKS_TOKEN={FAKE_TOKEN}\n")
    (root / ".gitignore").write_text(".env\nbuild/\nderby.log\nspark-warehouse/\n*.egg-info/\n")
    if git:
        _git(root, "init", "-q", "-b", "main")
    return source


@pytest.fixture(params=["git", "no-git"])
def source(request, tmp_path: Path) -> Path:
    return make_project(tmp_path / "project", git=request.param == "git")


def _commit(source: Path) -> None:
    root = source.parent
    if (root / ".git").exists():
        _git(root, "add", "-A")
        _git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "links")


# ---- symbolic links -----------------------------------------------------------------------

OUTSIDE_LINKS = [
    # (id, link name below forecasting/, target: absolute, or relative to the link's folder)
    ("etc-hostname", "e", "/etc/hostname"),
    ("dotenv", "conf/env.py", "../../.env"),
    ("proc-environ", "e", "/proc/self/environ"),
    ("folder-outside", "shared", "/etc"),
    ("folder-outside-relative", "up", ".."),
]


@pytest.mark.parametrize("name, target", [case[1:] for case in OUTSIDE_LINKS], ids=[case[0] for case in OUTSIDE_LINKS])
def test_a_link_to_something_outside_is_refused_and_named(source: Path, name: str, target: str):
    os.symlink(target, source / name)
    _commit(source)  # a committed link, as in a fork's pull request (git stores the link itself)
    with pytest.raises(UserInputError) as caught:
        collect_source(source)
    message = caught.value.one_line()
    assert f"forecasting/{name} is a symbolic link to a" in message and "outside forecasting/" in message
    assert FAKE_TOKEN not in message


def test_a_chain_of_links_is_judged_by_its_end(source: Path):
    os.symlink("/proc/self/environ", source / "hop")  # hidden from nobody: the chain's first link is refused too
    os.symlink("hop", source / "start.py")
    _commit(source)
    with pytest.raises(UserInputError, match=r"forecasting/hop is a symbolic link to a file outside forecasting/"):
        collect_source(source)


def test_a_chain_through_a_hidden_link_is_refused_at_the_visible_one(source: Path):
    os.symlink("/etc/hostname", source / ".hidden")  # hidden: not sent, so not read and not refused by itself
    os.symlink(".hidden", source / "notes.txt")
    _commit(source)
    with pytest.raises(UserInputError, match=r"forecasting/notes.txt is a symbolic link to a file outside forecasting/"):
        collect_source(source)


def test_a_link_inside_the_folder_is_refused_too(source: Path):
    os.symlink("Train.py", source / "Copy.py")
    os.symlink("conf", source / "settings")
    _commit(source)
    with pytest.raises(UserInputError, match=r"forecasting/Copy.py is a symbolic link to a file inside forecasting/; nothing was uploaded"):
        collect_source(source)
    (source / "Copy.py").unlink()
    with pytest.raises(UserInputError, match=r"forecasting/settings is a symbolic link to a folder inside forecasting/"):
        collect_source(source)


def test_a_tracked_file_below_a_folder_replaced_by_a_link_is_refused(tmp_path: Path):
    source = make_project(tmp_path / "project", git=True)
    _commit(source)  # git's index lists conf/dev_config.py ...
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "dev_config.py").write_text("stolen\n")
    (source / "conf" / "dev_config.py").unlink()
    (source / "conf").rmdir()
    os.symlink(outside, source / "conf")  # ... which now lies behind a link
    with pytest.raises(UserInputError, match=r"forecasting/conf is a symbolic link to a folder outside forecasting/"):
        collect_source(source)


def test_the_source_folder_itself_a_link_is_refused(tmp_path: Path):
    real = make_project(tmp_path / "project", git=False)
    os.symlink(real, tmp_path / "project" / "notebooks")
    with pytest.raises(UserInputError, match=r"notebooks/ is a symbolic link"):
        collect_source(tmp_path / "project" / "notebooks")


def test_links_that_are_not_sent_are_not_read_nor_refused(source: Path):
    (source / "__pycache__").mkdir()
    os.symlink("/etc/hostname", source / "__pycache__" / "x.pyc")
    os.symlink("/etc/hostname", source / ".secret")
    (source / "build").mkdir()
    os.symlink("/proc/self/environ", source / "build" / "e")
    _commit(source)
    assert [item.local_rel for item in collect_source(source)] == ["Train.py", "conf/dev_config.py"]


def test_read_file_never_follows_a_link_swapped_in_after_the_selection(tmp_path: Path):
    source = make_project(tmp_path / "project", git=False)
    assert select_files(source) == ["Train.py", "conf/dev_config.py"]
    (source / "Train.py").unlink()
    os.symlink("/etc/hostname", source / "Train.py")
    with pytest.raises(UserInputError, match="forecasting/Train.py is a symbolic link"):
        read_file(source, "Train.py")


# ---- .gitignore ---------------------------------------------------------------------------


def _leave_build_outputs(source: Path) -> None:
    (source / "build").mkdir()
    (source / "build" / "lib.py").write_text("x = 1\n")
    (source / "derby.log").write_text("derby\n")
    (source / "spark-warehouse" / "sales").mkdir(parents=True)
    (source / "spark-warehouse" / "sales" / "part-0.parquet").write_bytes(b"PAR1")
    (source / "New.py").write_text(HEADER + "y = 2\n")  # untracked, not ignored: sent


def test_files_git_ignores_are_not_sent(source: Path):
    _commit(source)
    _leave_build_outputs(source)
    assert [item.local_rel for item in collect_source(source)] == ["New.py", "Train.py", "conf/dev_config.py"]


def test_nested_gitignore_files_and_negations_are_honoured(source: Path):
    (source / "conf" / ".gitignore").write_text("*_local.py\n!keep_local.py\n")
    (source / "conf" / "joe_local.py").write_text("x = 1\n")
    (source / "conf" / "keep_local.py").write_text("x = 1\n")
    assert [item.local_rel for item in collect_source(source)] == ["Train.py", "conf/dev_config.py", "conf/keep_local.py"]


def test_a_tracked_file_is_sent_though_a_pattern_matches_it(tmp_path: Path):
    source = make_project(tmp_path / "project", git=True)
    (source / "derby.log").write_text("kept on purpose\n")
    _git(source.parent, "add", "-f", "forecasting/derby.log")  # git's view: a tracked file is not ignored
    assert "derby.log" in [item.local_rel for item in collect_source(source)]


def test_a_file_deleted_from_the_working_copy_but_still_staged_is_not_sent(tmp_path: Path):
    source = make_project(tmp_path / "project", git=True)
    _commit(source)
    (source / "Train.py").unlink()
    assert [item.local_rel for item in collect_source(source)] == ["conf/dev_config.py"]


def test_a_source_folder_git_ignores_entirely_is_refused_not_sent_empty(tmp_path: Path):
    source = make_project(tmp_path / "project", git=True)
    (source.parent / ".gitignore").write_text("forecasting/\n")  # deploy would prune master/ to match an empty upload
    with pytest.raises(UserInputError, match=r"git ignores every file in forecasting/"):
        collect_source(source)


# ---- libraries ----------------------------------------------------------------------------

SETUP_PY = """\
import os
from setuptools import setup

setup(name="toy-lib", version=os.environ.get("BRICKTASKS_LIB_VERSION") or "0.4.0", packages=["toy_lib"])
"""


def make_library(libs: Path) -> Path:
    library = libs / "toy_lib"
    (library / "toy_lib").mkdir(parents=True)
    (library / "toy_lib" / "__init__.py").write_text("ANSWER = 42\n")
    (library / "setup.py").write_text(SETUP_PY)
    return library


@pytest.mark.parametrize(
    "target", ["/etc/hostname", "../../../.env", "/proc/self/environ", "__init__.py"], ids=["etc", "dotenv", "environ", "inside"]
)
def test_a_link_inside_a_library_is_refused_before_it_is_built(tmp_path: Path, target: str):
    (tmp_path / ".env").write_text(f"DATABRICKS_TOKEN={FAKE_TOKEN}\n")
    library = make_library(tmp_path / "libs")
    os.symlink(target, library / "toy_lib" / "_c.py")
    refusal = r"libs/toy_lib/toy_lib/_c.py is a symbolic link to a file (inside|outside) libs/toy_lib/"
    with pytest.raises(UserInputError, match=refusal) as caught:
        find_libraries(tmp_path / "libs")
    assert FAKE_TOKEN not in caught.value.one_line()


def test_a_linked_library_folder_is_refused(tmp_path: Path):
    real = make_library(tmp_path / "elsewhere")
    (tmp_path / "libs").mkdir()
    os.symlink(real, tmp_path / "libs" / "toy_lib")
    with pytest.raises(UserInputError, match=r"libs/toy_lib/ is a symbolic link"):
        check_library_source(tmp_path / "libs" / "toy_lib")


def test_the_example_library_passes_the_checks():
    repo = Path(__file__).resolve().parents[2]
    assert [library.name for library in find_libraries(repo / "libs")] == ["regimecast"]


@pytest.mark.parametrize("builder", [build_wheel, build_egg], ids=["wheel", "egg"])
def test_a_credential_packed_into_a_library_is_refused_and_no_artifact_is_left(tmp_path: Path, builder):
    library = make_library(tmp_path / "libs")
    (library / "toy_lib" / "_c.py").write_text(f"A = 1\nTOKEN = '{FAKE_TOKEN}'\n")
    dist = tmp_path / "dist"
    with pytest.raises(UserInputError) as caught:
        builder(library, dist, "0.4.0.dev1")
    message = caught.value.one_line()
    assert "libs/toy_lib/toy_lib/_c.py line 2" in message and "looks like a Databricks token" in message, message
    assert FAKE_TOKEN not in message
    assert list(dist.rglob("*.whl")) + list(dist.rglob("*.egg")) == []


def test_a_clean_library_builds_and_its_wheel_holds_no_credential(tmp_path: Path):
    library = make_library(tmp_path / "libs")
    artifact = build_wheel(library, tmp_path / "dist", "0.4.0.dev1")
    with zipfile.ZipFile(artifact.path) as wheel:
        assert "toy_lib/__init__.py" in wheel.namelist()
