"""The helper notebooks the tool writes into every folder it fills: `set_environment` (which
conf/<env>_config the notebooks use) and `install_libraries` (which build of the libraries they
install). One function, `desired_items`, gives what a folder should hold — the working copy with the
helpers replaced — so checkout, ci, deploy and a comparison of local and workspace all see the same.
"""
from __future__ import annotations

from pathlib import Path

from bricktasks.backends.base import NOTEBOOK_HEADERS, Backend, file_kind
from bricktasks.console.console import Console
from bricktasks.layout import INSTALL_LIBRARIES, SET_ENVIRONMENT, join
from bricktasks.libraries.upload import cluster_path
from bricktasks.source.items import SourceItem, collect_source, with_replaced

__all__ = [
    "SET_ENVIRONMENT_FILE",
    "INSTALL_LIBRARIES_FILE",
    "desired_items",
    "set_environment_source",
    "install_libraries_source",
    "pip_path",
    "write_install_libraries",
]

SET_ENVIRONMENT_FILE = f"{SET_ENVIRONMENT}.py"
INSTALL_LIBRARIES_FILE = f"{INSTALL_LIBRARIES}.py"


def desired_items(
    source_dir: Path, *, env: str | None, libraries: list[str] | None, source: list[SourceItem] | None = None
) -> list[SourceItem]:
    """What a folder filled from `source_dir` should hold: with `env`, set_environment selects
    conf/<env>_config; with `libraries`, install_libraries installs those uploads (else the
    committed copies of the helpers go up as they are). `source` is `collect_source(source_dir)`
    when the caller read it already (for the secret scan): the working copy is read once."""
    replace = {SET_ENVIRONMENT_FILE: set_environment_source(env)} if env else {}
    if libraries is not None:
        replace[INSTALL_LIBRARIES_FILE] = install_libraries_source(libraries)
    return collect_source(source_dir, replace=replace) if source is None else with_replaced(source, replace)


def set_environment_source(env: str) -> bytes:
    """The one-line set_environment notebook that selects conf/<env>_config."""
    return f"# Databricks notebook source\n# MAGIC %run ./conf/{env}_config\n".encode()



_HEADER = NOTEBOOK_HEADERS["PYTHON"] + "\n"
_SEPARATOR = "\n# COMMAND ----------\n\n"


def pip_path(remote: str) -> str:
    """How %pip on a cluster names the file: DBFS through its /dbfs fuse mount, workspace files under /Workspace."""
    if file_kind(remote) == "dbfs":
        return "/dbfs/" + remote.removeprefix("dbfs:/")
    return cluster_path(remote)


def install_libraries_source(remotes: list[str]) -> bytes:
    """The install_libraries notebook for these uploaded libraries (wheels by %pip, eggs by dbutils)."""
    note = (
        "# MAGIC %md\n# MAGIC Written by bricktasks (`upload-lib`, `checkout`, `ci`, `deploy`): installs this folder's "
        "build of the project libraries.\n# MAGIC Do not edit; it is rewritten on every upload.\n"
    )
    wheels = [pip_path(remote) for remote in remotes if not remote.endswith(".egg")]
    eggs = [remote for remote in remotes if remote.endswith(".egg")]
    cells = [note]
    if wheels:
        cells.append("# MAGIC %pip install " + " ".join(wheels) + "\n")
    if eggs:  # eggs predate %pip: Databricks Runtime 13 and older install them with dbutils
        cells.append("".join(f'dbutils.library.install("{egg}")\n' for egg in eggs))
    if not remotes:
        cells.append("# no library uploaded for this folder yet (run `invoke upload-lib`): the cluster's libraries are used\n")
    return (_HEADER + _SEPARATOR.join(cells)).encode()



def write_install_libraries(
    backend: Backend, folder: str, remotes: list[str], *, console: Console, dry_run: bool = False
) -> None:
    """Point `folder`'s install_libraries notebook at `remotes`."""
    target = join(folder, INSTALL_LIBRARIES)
    if dry_run:
        console.info(f"would point {target} at {', '.join(remotes) or 'no library'}")
        return
    source = install_libraries_source(remotes)
    backend.import_object(join(folder, INSTALL_LIBRARIES_FILE), source, format="AUTO", overwrite=True)
    console.info(f"{target} installs {', '.join(remote.rsplit('/', 1)[-1] for remote in remotes) or 'no library'}")
