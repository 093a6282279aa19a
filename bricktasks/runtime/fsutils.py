"""`dbutils.fs` on the local root: DBFS and Volumes paths are folders under it.

Paths are named as on Databricks: `dbfs:/x` (or `/x`, which dbutils.fs takes as DBFS),
`/dbfs/x`, `/Volumes/c/s/v/x`; `file:/x` is this machine's own file system, as it is the
driver's local disk there. Listings name entries the way the path was given (`dbfs:/...`,
`/Volumes/...`), directories with a trailing `/` and size 0.
"""
from __future__ import annotations

import posixpath
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bricktasks.runtime.errors import RuntimePathError

__all__ = ["FileInfo", "FsUtils"]


@dataclass(frozen=True)
class FileInfo:
    """What `dbutils.fs.ls` returns for each entry."""

    path: str
    name: str
    size: int
    modificationTime: int  # noqa: N815  (Databricks' name, milliseconds since the epoch)

    def isDir(self) -> bool:  # noqa: N802
        return self.name.endswith("/")

    def isFile(self) -> bool:  # noqa: N802
        return not self.isDir()


class FsUtils:
    """dbutils.fs: ls, cp, mv, rm, put, head, mkdirs."""

    def __init__(self, to_local_path: Callable[[str], Path], echo: Callable[[str], None] = print) -> None:
        self._to_local = to_local_path
        self._echo = echo

    def local(self, path: str) -> Path:
        """The local file behind a dbutils.fs path."""
        if path.startswith("file:"):
            rest = path[len("file:"):]
            return Path(rest[2:] if rest.startswith("//") else rest)
        if path.startswith(("dbfs:", "/dbfs/", "/Volumes/")) or path == "/dbfs":
            return self._to_local(path)
        if path.startswith("/"):
            return self._to_local("dbfs:" + path)  # a bare absolute path means DBFS in dbutils.fs
        raise RuntimePathError(f"{path!r} is not absolute", "use dbfs:/..., /Volumes/... or file:/...")

    def ls(self, path: str) -> list[FileInfo]:
        local = self.local(path)
        if local.is_file():
            return [_info(_named(path).rstrip("/"), local)]
        if not local.is_dir():
            raise FileNotFoundError(f"java.io.FileNotFoundException: File {path} does not exist.")
        base = _named(path).rstrip("/")
        return [_info(f"{base}/{entry.name}", entry) for entry in sorted(local.iterdir(), key=lambda p: p.name)]

    def mkdirs(self, path: str) -> bool:
        self.local(path).mkdir(parents=True, exist_ok=True)
        return True

    def put(self, path: str, contents: str, overwrite: bool = False) -> bool:
        local = self.local(path)
        if local.exists() and not overwrite:
            raise FileExistsError(f"File already exists: {path}; pass overwrite=True to replace it")
        local.parent.mkdir(parents=True, exist_ok=True)
        data = contents.encode("utf-8")
        local.write_bytes(data)
        self._echo(f"Wrote {len(data)} bytes.")
        return True

    def head(self, path: str, max_bytes: int = 65536) -> str:
        local = self.local(path)
        if not local.is_file():
            raise FileNotFoundError(f"java.io.FileNotFoundException: {path} is not a file or does not exist")
        with open(local, "rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            self._echo(f"[Truncated to first {max_bytes} bytes]")
        return data[:max_bytes].decode("utf-8", errors="replace")

    def cp(self, src: str, dst: str, recurse: bool = False) -> bool:
        source, target = self._pair(src, dst)
        if source.is_dir():
            if not recurse:
                raise IsADirectoryError(f"{src} is a directory; pass recurse=True to copy it")
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        return True

    def mv(self, src: str, dst: str, recurse: bool = False) -> bool:
        source, target = self._pair(src, dst)
        if source.is_dir() and not recurse:
            raise IsADirectoryError(f"{src} is a directory; pass recurse=True to move it")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir() and target.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
            shutil.rmtree(source)
        else:
            shutil.move(str(source), str(target))
        return True

    def rm(self, path: str, recurse: bool = False) -> bool:
        """Delete a file or folder; False if there was nothing to delete."""
        local = self.local(path)
        if local.is_dir() and not local.is_symlink():
            if any(local.iterdir()) and not recurse:
                raise OSError(f"{path} is a non-empty directory; pass recurse=True to delete it")
            shutil.rmtree(local)
            return True
        if local.exists() or local.is_symlink():
            local.unlink()
            return True
        return False

    def _pair(self, src: str, dst: str) -> tuple[Path, Path]:
        source, target = self.local(src), self.local(dst)
        if not source.exists():
            raise FileNotFoundError(f"java.io.FileNotFoundException: File {src} does not exist.")
        if target.is_dir() and source.is_file():
            target = target / source.name  # copying a file into an existing folder keeps its name
        return source, target


def _named(path: str) -> str:
    """How Databricks names a path in listings: DBFS paths as `dbfs:/...`, the others as given."""
    if path.startswith(("dbfs:", "file:", "/Volumes/")):
        return path
    if path == "/dbfs" or path.startswith("/dbfs/"):
        return "dbfs:" + (path[len("/dbfs"):] or "/")
    return "dbfs:" + path


def _info(path: str, local: Path) -> FileInfo:
    stat = local.stat()
    name = posixpath.basename(path.rstrip("/"))
    if local.is_dir():
        return FileInfo(path=path + "/", name=name + "/", size=0, modificationTime=int(stat.st_mtime * 1000))
    return FileInfo(path=path, name=name, size=stat.st_size, modificationTime=int(stat.st_mtime * 1000))
