"""%pip install and cluster libraries: a real wheel on the run's own path, never the caller's."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from runtime_helpers import LocalRoot, RunCells

from bricktasks.testing.package_index import closed_index_url

PY = f"py{sys.version_info.major}.{sys.version_info.minor}"


def _egg(folder: Path, name: str) -> Path:
    """A minimal zipped egg holding the module `rtegg`."""
    egg = folder / name
    with zipfile.ZipFile(egg, "w") as archive:
        archive.writestr("rtegg/__init__.py", "ANSWER = 42\n")
        archive.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\nName: rtegg\nVersion: 0.1\n")
    return egg


def test_pip_install_of_a_wheel_is_visible_to_the_run_only(run_cells: RunCells, wheel: Path, local: LocalRoot) -> None:
    before = list(sys.path)
    result = run_cells(f"# MAGIC %pip install {wheel}", "import rtwheel\nprint(rtwheel.OFFSET, rtwheel.__file__)")
    assert result.status == "SUCCESS", result.error_trace
    assert result.cells[0].stdout == f"Installed {wheel.name} into the run's library folder\n"
    offset, location = result.cells[1].stdout.split()
    assert offset == "100" and location.startswith(str(local.base / "run1" / "site-packages"))
    # the caller's interpreter is as it was
    assert sys.path == before
    assert "rtwheel" not in sys.modules and importlib.util.find_spec("rtwheel") is None


def test_a_run_in_a_fresh_interpreter_leaves_its_path_alone(wheel: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import importlib.util, sys
        from pathlib import Path
        from bricktasks.runtime import RuntimeContext, execute_notebook
        root = Path({str(tmp_path)!r}) / "root"
        (root / "workspace" / "P").mkdir(parents=True)
        (root / "workspace" / "P" / "N.py").write_text("# Databricks notebook source\\n# MAGIC %pip install {wheel}\\n")
        before = list(sys.path)
        result = execute_notebook(RuntimeContext(local_root=root, run_dir=root / "run"), "/P/N")
        assert result.status == "SUCCESS", result.error
        assert sys.path == before, (before, sys.path)
        assert importlib.util.find_spec("rtwheel") is None
        print("clean")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"


def test_pip_install_from_dbfs_volumes_and_workspace_paths(run_cells: RunCells, wheel: Path, local: LocalRoot) -> None:
    for folder in ("dbfs/libs", "volumes/c/s/v/libs", "workspace/Projects/p/libs"):
        (local.root / folder).mkdir(parents=True)
        shutil.copy(wheel, local.root / folder / wheel.name)
    result = run_cells(
        f"# MAGIC %pip install /dbfs/libs/{wheel.name}",
        f"# MAGIC %pip install dbfs:/libs/{wheel.name}",
        f"# MAGIC %pip install /Volumes/c/s/v/libs/{wheel.name}",
        f"# MAGIC %pip install --quiet /Workspace/Projects/p/libs/{wheel.name}",
        f"# MAGIC %pip install ./libs/{wheel.name}",
        "import rtwheel",
    )
    assert result.status == "SUCCESS", result.error_trace
    assert all(cell.stdout.startswith("Installed rtwheel") for cell in result.cells[:5])


def test_pip_install_of_an_installed_requirement_is_a_note(run_cells: RunCells) -> None:
    import pandas

    result = run_cells("# MAGIC %pip install pandas 'numpy>=1'")
    assert result.status == "SUCCESS", result.error_trace
    assert result.cells[0].stdout.splitlines()[0] == f"pandas {pandas.__version__} is already installed"


@pytest.mark.parametrize(
    "command, message",
    [
        ("%pip install surely-not-installed-pkg", "could not install surely-not-installed-pkg: the package index http://127.0.0.1:"),
        ("%pip install --find-links /tmp pandas", "--find-links is not supported locally"),
        ("%pip install --index-url ftp://example.invalid/simple pandas", "is not an http(s) index URL"),
        ("%pip install 'pandas<<1'", "'pandas<<1' is not a valid requirement"),
        ("%pip install /dbfs/libs/missing.whl", "does not exist"),
        ("%pip uninstall pandas", "%pip uninstall is not supported locally"),
        ("%pip install -e .", "-e is not supported locally"),
    ],
)
def test_pip_install_that_cannot_be_done_fails_clearly(
    run_cells: RunCells, command: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pip's configured index is one nobody listens on: what a machine without a reachable index sees
    monkeypatch.setenv("PIP_INDEX_URL", closed_index_url())
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    result = run_cells(f"# MAGIC {command}")
    assert result.status == "FAILED" and result.failed_cell == 1
    assert message in (result.error or "")


def test_wheel_with_a_dependency_that_is_not_installed_is_refused(run_cells: RunCells, tmp_path: Path) -> None:
    wheel = tmp_path / "needy-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("needy/__init__.py", "")
        archive.writestr(
            "needy-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: needy\nVersion: 1.0\n"
            "Requires-Dist: surely-not-installed-pkg>=2\n"
            "Requires-Dist: pytest-nothing ; extra == 'test'\n",
        )
    result = run_cells(f"# MAGIC %pip install {wheel}")
    assert result.error == (
        "LibraryInstallError: needy-1.0-py3-none-any.whl needs surely-not-installed-pkg>=2, not installed locally, "
        "and there is no network to fetch them; install them into this environment first (pip install -r requirements.txt)"
    )


def test_requirements_file(run_cells: RunCells, local: LocalRoot) -> None:
    (local.root / "workspace" / "Projects" / "p").mkdir(parents=True)
    (local.root / "workspace" / "Projects" / "p" / "requirements.txt").write_text("# pinned\npandas\nnumpy  # arrays\n")
    result = run_cells("# MAGIC %pip install -r /Workspace/Projects/p/requirements.txt")
    assert result.status == "SUCCESS", result.error_trace
    assert len(result.cells[0].stdout.splitlines()) == 2


def test_eggs_go_on_the_path_and_must_match_the_python(run_cells: RunCells, tmp_path: Path) -> None:
    egg = _egg(tmp_path, f"rtegg-0.1-{PY}.egg")
    result = run_cells(f"# MAGIC %pip install {egg}", "import rtegg\nprint(rtegg.ANSWER)")
    assert result.status == "SUCCESS", result.error_trace
    assert result.cells[1].stdout == "42\n" and "rtegg" not in sys.modules
    old = _egg(tmp_path, "rtegg-0.1-py2.7.egg")
    result = run_cells(f"# MAGIC %pip install {old}")
    assert "was built for Python 2.7" in (result.error or "")


def test_cluster_libraries_are_installed_before_the_first_cell(local: LocalRoot, wheel: Path, tmp_path: Path) -> None:
    egg = _egg(tmp_path, f"rtegg-0.1-{PY}.egg")
    local.write("/Projects/p/Main", "# Databricks notebook source\nimport rtwheel, rtegg\nprint(rtwheel.OFFSET + rtegg.ANSWER)\n")
    result = local.run("/Projects/p/Main", libraries=(str(wheel), str(egg)))
    assert result.status == "SUCCESS", result.error_trace
    assert result.cells[0].stdout == "142\n"


def test_a_missing_cluster_library_fails_the_run_before_any_cell(local: LocalRoot, tmp_path: Path) -> None:
    local.write("/Projects/p/Main", "# Databricks notebook source\nprint('never')\n")
    result = local.run("/Projects/p/Main", libraries=(str(tmp_path / "gone.whl"),))
    assert result.status == "FAILED" and result.failed_cell is None and result.cells == []
    assert "gone.whl does not exist" in (result.error or "")


def test_a_requirements_file_may_name_its_index_and_keeps_markers_whole() -> None:
    from bricktasks.runtime.magics import pip_install

    files = {
        "/r.txt": "--index-url https://idx.example.com/simple  # ours\npandas >= 1 ; python_version >= '3.8'  # spaced\n-r /more.txt\n",
        "/more.txt": "numpy\n--extra-index-url=https://more.example.com/simple\n",
    }
    command = pip_install("install -q -r /r.txt ./libs/x.whl", files.__getitem__)
    assert command.targets == ("pandas >= 1 ; python_version >= '3.8'", "numpy", "./libs/x.whl")
    assert (command.index_url, command.extra_index_urls) == ("https://idx.example.com/simple", ("https://more.example.com/simple",))
    with pytest.raises(Exception, match="more than 20 requirements files"):
        pip_install("install -r /loop.txt", {"/loop.txt": "-r /loop.txt\n"}.__getitem__)
