"""`--wire-notebooks`: a notebook that lacks them gets `%run ./install_libraries` and `%run ./set_environment`
cells right after its header (`../` for one in a subfolder); every other line is kept as it is.
Without the flag no notebook is touched."""
from __future__ import annotations

import re
from pathlib import PurePosixPath

from bricktasks.backends.base import NOTEBOOK_HEADERS
from bricktasks.layout import INSTALL_LIBRARIES, SET_ENVIRONMENT
from bricktasks.scaffold.contents import PlannedFile

__all__ = ["wired", "wire_notebooks"]

_SEPARATOR = "# COMMAND ----------"


def _runs(text: str, helper: str) -> bool:
    return re.search(rf"^# MAGIC %run (\./|(\.\./)+){helper}\s*$", text, re.MULTILINE) is not None


def wired(notebook: str, text: str) -> str:
    """`text` of the notebook at `notebook` (relative to the source folder) with the missing %run cells."""
    up = "../" * (len(PurePosixPath(notebook).parts) - 1) or "./"
    cells = [f"# MAGIC %run {up}{helper}" for helper in (INSTALL_LIBRARIES, SET_ENVIRONMENT) if not _runs(text, helper)]
    if not cells:
        return text
    header = NOTEBOOK_HEADERS["PYTHON"]
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    first, _, rest = body.partition("\n")
    if first.strip() != header:
        return text  # not a Python notebook: left alone
    inserted = "".join(f"\n{cell}\n\n{_SEPARATOR}\n" for cell in cells)
    return f"{bom}{first}\n{inserted}\n{rest.lstrip(chr(10))}"


def wire_notebooks(source: str, notebooks: dict[str, str]) -> list[PlannedFile]:
    """The notebooks (relative name -> text) that change, as files to write over theirs."""
    changed = []
    for name, text in sorted(notebooks.items()):
        new = wired(name, text)
        if new != text:
            changed.append(PlannedFile(f"{source}/{name}.py", new.encode(), edit=True))
    return changed
