"""Which libraries to build for which target (branch, CI build, master, a local run), and how.

Each target stamps its own version (see build.stamp_version), so every upload has a unique,
traceable name and no cluster keeps a stale cached copy. Master's release version names the last
commit that changed the library's own folder, not HEAD: a deploy of a commit that left the library alone
builds the same wheel name, so the classic-compute production jobs that install it stay unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from bricktasks.buildinfo import BuildInfo
from bricktasks.console.console import Console
from bricktasks.errors import UserInputError
from bricktasks.git import current_git_commit, last_commit_touching
from bricktasks.layout import ProjectLayout, validate_build_id
from bricktasks.libraries.build import (
    Artifact,
    build_egg,
    build_wheel,
    check_egg_python,
    check_egg_supported,
    find_libraries,
    library_base_version,
    named_libraries,
    stamp_version,
)
from bricktasks.project import Project

__all__ = ["BuildTarget", "target_for", "build_for", "check_kind_supported"]


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S")


@dataclass(frozen=True)
class BuildTarget:
    kind: str  # "branch" | "ci" | "master" | "local"
    build: BuildInfo

    def library_folder(self, layout: ProjectLayout) -> str:
        if self.kind == "ci":
            return layout.ci_libraries(self.build.build_id, self.build.branch)
        if self.kind == "master":
            return layout.master_libraries
        return layout.branch_libraries(self.build.branch)

    def workspace_folder(self, layout: ProjectLayout) -> str | None:
        """The notebooks' folder whose install_libraries names this target's libraries; None for
        master, which only deploy writes."""
        if self.kind == "ci":
            return layout.ci_build(self.build.build_id, self.build.branch)
        if self.kind == "branch":
            return layout.branch(self.build.branch)
        return None

    @classmethod
    def branch(cls, project: Project, branch: str) -> BuildTarget:
        return cls("branch", BuildInfo(f"b{_stamp()}", branch, current_git_commit(project.root), None))

    @classmethod
    def local(cls, project: Project, branch: str) -> BuildTarget:
        return cls("local", BuildInfo(f"local-{_stamp()}", branch, current_git_commit(project.root), None))

    @classmethod
    def ci(cls, build: BuildInfo) -> BuildTarget:
        return cls("ci", build)

    @classmethod
    def master(cls, project: Project) -> BuildTarget:
        return cls("master", BuildInfo("master", "master", current_git_commit(project.root), None))


def target_for(project: Project, *, branch: str | None, build_id: str | None, master: bool) -> BuildTarget:
    """--master, --build-id (a CI build of --branch) or a branch (default: the current one)."""
    if master and (branch or build_id):
        raise UserInputError("--master cannot be combined with --branch or --build-id", "pick one target")
    if master:
        return BuildTarget.master(project)
    chosen = project.resolve_branch(branch)
    build_id = build_id or project.settings.build_id
    if build_id:
        validate_build_id(build_id)
        return BuildTarget.ci(BuildInfo(build_id, chosen, current_git_commit(project.root), "bricktasks"))
    return BuildTarget.branch(project, chosen)


def check_kind_supported(project: Project, kind: str) -> None:
    """Eggs: only for runtimes before 14, and only from the runtime's Python version."""
    if kind == "egg":
        check_egg_supported(project.settings.runtime_version)
        check_egg_python(project.settings.target_python)


def _library_build(project: Project, target: BuildTarget, library: Path) -> BuildInfo:
    """The build `library` is stamped with: for master, the commit that last changed the library's folder
    (HEAD's when git cannot say), so an unchanged library keeps its name from one deploy to the next."""
    if target.kind != "master":
        return target.build
    return replace(target.build, commit=last_commit_touching(library, project.root) or target.build.commit)


def build_for(project: Project, target: BuildTarget, *, kind: str, console: Console, dry_run: bool = False) -> list[Artifact]:
    check_kind_supported(project, kind)
    builder = build_egg if kind == "egg" else build_wheel
    artifacts = []
    named = project.library_dirs()
    for library in find_libraries(project.libs_dir) if named is None else named_libraries(named, project.root):
        version = stamp_version(library_base_version(library), _library_build(project, target, library),
                                release=target.kind == "master")
        if dry_run:
            console.info(f"would build {library.name} {version} ({kind})")
            continue
        artifact = builder(library, project.dist_dir, version)
        console.info(artifact.describe(relative_to=project.root))
        artifacts.append(artifact)
    return artifacts
