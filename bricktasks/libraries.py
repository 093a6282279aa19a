"""Put built libraries where clusters install them, and name them the way a run attaches them."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bricktasks.backends.base import Backend, file_kind
from bricktasks.errors import NotFound
from bricktasks.layout import join
from bricktasks.output import Console
from bricktasks.retry import call_with_retries

__all__ = ["UploadedLibrary", "upload_libraries", "cluster_path", "library_spec"]


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
    backend: Backend, artifacts: list[os.PathLike], destination: str, *, console: Console, dry_run: bool = False
) -> list[UploadedLibrary]:
    """Upload each artifact into `destination`, skipping one whose same-named copy has the same size.

    Artifact names carry a build-unique version (see build.stamp_version), so an equal name and
    size means the same build: one metadata request, no bytes. Backends publish an upload under
    its final name only once it is complete.
    """
    uploaded = []
    for artifact in map(Path, artifacts):  # build.Artifact objects are path-like
        remote = join(destination, artifact.name)
        size = artifact.stat().st_size
        try:
            same = call_with_retries(lambda: backend.file_status(remote)).size == size
        except NotFound:
            same = False
        if same:
            console.info(f"unchanged {remote}")
        elif dry_run:
            console.info(f"would upload {artifact.name} ({size:,} bytes) -> {remote}")
        else:
            call_with_retries(lambda: backend.upload_file(remote, artifact, overwrite=True))
            console.info(f"uploaded {artifact.name} ({size:,} bytes) -> {remote}")
        uploaded.append(UploadedLibrary(artifact, remote, skipped=same))
    return uploaded
