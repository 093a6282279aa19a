"""Put built libraries where clusters install them, and name them the way a run attaches them."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bricktasks.backends.base import Backend, FileInfo, file_kind, volume_address
from bricktasks.console.console import Console
from bricktasks.errors import NotFound, UserInputError
from bricktasks.layout import join

__all__ = [
    "UploadedLibrary",
    "upload_libraries",
    "cluster_path",
    "library_spec",
    "newest_libraries",
    "require_volume",
]


# The Workspace API imports at most 10 MB (MAX_NOTEBOOK_SIZE_EXCEEDED), and a workspace-file upload is
# one import: bigger libraries belong on a Volume or DBFS, which take them in a stream.
WORKSPACE_FILE_LIMIT = 10 * 1024 * 1024


class LibraryFile(Protocol):
    """A library file to upload: a Path or a build.Artifact, path-like and with a file name."""

    @property
    def name(self) -> str: ...

    def __fspath__(self) -> str: ...


@dataclass(frozen=True)
class UploadedLibrary:
    local: Path
    remote: str
    skipped: bool  # identical content was already there


def cluster_path(remote: str) -> str:
    """How a cluster names the file: workspace files live under /Workspace."""
    return f"/Workspace{remote}" if file_kind(remote) == "workspace" and not remote.startswith("/Workspace/") else remote


def library_spec(remote: str) -> dict[str, str]:
    kind = "egg" if remote.endswith(".egg") else "whl"
    return {kind: cluster_path(remote)}


def upload_libraries(
    backend: Backend, artifacts: Sequence[LibraryFile], destination: str, *, console: Console, dry_run: bool = False
) -> list[UploadedLibrary]:
    """Upload each artifact into `destination`, skipping one whose same-named copy has the same size.

    Artifact names carry a build-unique version (see build.stamp_version), so an equal name and
    size means the same build: one metadata request, no bytes. Backends publish an upload under
    its final name only once it is complete.
    """
    uploaded = []
    paths = list(map(Path, artifacts))  # build.Artifact objects are path-like
    _refuse_oversized_workspace_files(paths, destination)
    # a bar on a terminal only: in a log the per-library lines below already say it all
    progress = console.upload_progress(
        files=0 if dry_run else len(paths), total_bytes=sum(path.stat().st_size for path in paths),
        label=f"uploading libraries to {destination}", announce=False,
    )
    with progress:
        for artifact in paths:
            remote = join(destination, artifact.name)
            size = artifact.stat().st_size
            try:
                same = backend.file_status(remote).size == size
            except NotFound:
                same = False
            if same:
                console.info(f"unchanged {remote}")
            elif dry_run:
                console.info(f"would upload {artifact.name} ({size:,} bytes) -> {remote}")
            else:
                _upload_one(backend, remote, artifact, destination)
                console.info(f"uploaded {artifact.name} ({size:,} bytes) -> {remote}")
            progress.advance(size)
            uploaded.append(UploadedLibrary(artifact, remote, skipped=same))
    return uploaded


def _upload_one(backend: Backend, remote: str, artifact: Path, destination: str) -> None:
    try:
        backend.upload_file(remote, artifact, overwrite=True)
    except NotFound:
        # an upload makes missing folders, so on a Volume a 404 means the volume is missing: say which
        # and how to create it (asked only now: the happy path costs no extra request)
        require_volume(backend, destination)
        raise


def require_volume(backend: Backend, destination: str, setting: str = "BRICKTASKS_LIBRARY_ROOT") -> None:
    """UserInputError (exit 2) naming the command that creates it when `destination` lies in a Unity
    Catalog volume that does not exist; nothing for other destinations, or when the volume exists."""
    address = volume_address(destination)
    if address is None:
        return
    try:
        backend.check_volume(*address)
    except NotFound as missing:
        catalog, schema, volume = address
        raise UserInputError(
            f"{setting}={destination} is in the volume {catalog}.{schema}.{volume}, which does not exist "
            f"({missing.message.rstrip('.')})",
            f"create it with: databricks volumes create {catalog} {schema} {volume} MANAGED "
            f"(its schema first if that is missing: databricks schemas create {schema} {catalog})",
        ) from None


def _refuse_oversized_workspace_files(paths: list[Path], destination: str) -> None:
    """Before anything is sent: a workspace folder cannot take a library over the import limit."""
    if file_kind(destination) != "workspace":
        return
    for path in paths:
        size = path.stat().st_size
        if size > WORKSPACE_FILE_LIMIT:
            raise UserInputError(
                f"{path.name} is {size / 2**20:.1f} MB and {destination} is a workspace folder, which takes files "
                f"of at most {WORKSPACE_FILE_LIMIT // 2**20} MB",
                "set BRICKTASKS_LIBRARY_ROOT to a Unity Catalog volume (/Volumes/<catalog>/<schema>/<volume>) or a dbfs:/ folder",
            )


def newest_libraries(backend: Backend, folder: str) -> list[str]:
    """The newest upload of each library in `folder` (by modification time); [] when there is none."""
    try:
        listing = backend.list_files(folder)
    except NotFound:
        return []
    newest: dict[str, FileInfo] = {}
    for info in listing:
        name = info.path.rsplit("/", 1)[-1]
        if info.is_dir or not name.endswith((".whl", ".egg")):
            continue
        distribution = name.split("-", 1)[0]
        if distribution not in newest or info.modified_at >= newest[distribution].modified_at:
            newest[distribution] = info
    return sorted(info.path for info in newest.values())
