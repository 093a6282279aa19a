"""The project being worked on: its folders, settings, layout, notebooks and configs."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bricktasks.backends.base import Backend, notebook_language
from bricktasks.backends.retry import DEFAULT_POLICY
from bricktasks.backends.retrying import RetryingBackend
from bricktasks.buildinfo import BranchUnknown, BuildInfo, detect_build_info, resolve_branch
from bricktasks.errors import ConfigError, UserInputError
from bricktasks.layout import HELPER_NOTEBOOKS, ProjectLayout, check_local_root, check_output_folder
from bricktasks.settings import DEFAULT_CI_JOB, Settings, load_settings, read_dotenv

__all__ = ["Project", "load_project", "open_backend", "open_local_backend", "local_secrets"]

SECRET_PREFIX = "BRICKTASKS_SECRET__"


@dataclass(frozen=True)
class Project:
    root: Path
    settings: Settings
    layout: ProjectLayout
    # the process environment the settings were read from: which CI system runs us (never printed)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def _local(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.root / path

    def resolve_branch(self, flag: str | None, *, default: str | None = None) -> str:
        """The branch a task acts on, by the one rule (bricktasks.buildinfo.resolve_branch): the
        flag, BRICKTASKS_BRANCH, the CI system's branch, git; `default` when none says (a local run)."""
        try:
            return resolve_branch(flag=flag, configured=self.settings.branch, env=self.environ, cwd=self.root)
        except BranchUnknown:
            if default is None:
                raise
            return default

    def build_info(self) -> BuildInfo:
        """Which build this is (CI system, build id, branch, commit), from the settings and the CI system."""
        return detect_build_info(self.environ, cwd=self.root, build_id=self.settings.build_id, branch=self.settings.branch)

    @property
    def source_dir(self) -> Path:
        return self._local(self.settings.source_dir)

    @property
    def libs_dir(self) -> Path:
        return self._local(self.settings.libs_dir)

    def library_dirs(self) -> list[Path] | None:
        """The folders BRICKTASKS_LIBS names (each one library), or None: every library under BRICKTASKS_LIBS_DIR."""
        folders = self.settings.library_folders
        return None if folders is None else [self._local(folder) for folder in folders]

    @property
    def dist_dir(self) -> Path:
        return self._local(self.settings.dist_dir)

    @property
    def results_dir(self) -> Path:
        return self._local(self.settings.results_dir)

    @property
    def local_root(self) -> Path:
        return self._local(self.settings.local_root)

    @property
    def cluster_spec_path(self) -> Path:
        return self._local(self.settings.cluster_spec)

    @property
    def ci_job_path(self) -> Path:
        """The CI run's job definition: BRICKTASKS_CI_JOB, else jobs/ci.json (which may not exist: the shorthand)."""
        return self._local(self.settings.ci_job or DEFAULT_CI_JOB)

    def shown(self, path: Path) -> str:
        """`path` as messages name it: relative to the project where it lies inside."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def envs(self) -> list[str]:
        """Configs in the working copy: conf/<env>_config.py."""
        conf = self.source_dir / "conf"
        return sorted(path.name[: -len("_config.py")] for path in conf.glob("*_config.py")) if conf.is_dir() else []

    def notebooks(self) -> list[str]:
        """Runnable notebooks of the working copy, relative and without extension (conf/ and helpers excluded)."""
        names = []
        for path in sorted(self.source_dir.rglob("*.py")):
            rel = path.relative_to(self.source_dir).as_posix()
            if rel.startswith("conf/") or any(part.startswith(".") for part in rel.split("/")):
                continue
            # the workspace's own rule (a BOM before the header is still a notebook), as sync applies it
            if notebook_language(path.name, path.read_bytes()[:64]) == "PYTHON" and rel[:-3] not in HELPER_NOTEBOOKS:
                names.append(rel[:-3])
        return names

    def check_env(self, env: str) -> str:
        valid = self.envs()
        if env not in valid:
            raise UserInputError(
                f"there is no conf/{env}_config.py in {self.settings.source_dir}", f"use one of: {', '.join(valid) or 'none found'}"
            )
        return env

    def check_notebook(self, name: str) -> str:
        valid = self.notebooks()
        cleaned = name[:-3] if name.endswith(".py") else name
        if cleaned not in valid:
            raise UserInputError(f"there is no notebook {name!r} in {self.settings.source_dir}", f"use one of: {', '.join(valid)}")
        return cleaned


def load_project(
    root: Path, environ: Mapping[str, str], flags: Mapping[str, Any] | None = None,
    *, project_defaults: Mapping[str, str] | None = None,
) -> Project:
    """The project in `root`; `project_defaults` are its tasks.py's settings (below .env, above the built-in defaults)."""
    settings = load_settings(root, environ, flags, project_defaults=project_defaults)
    layout = ProjectLayout(settings.workspace_root, settings.resolved_library_root)
    project = Project(root=root, settings=settings, layout=layout, environ=dict(environ))
    if not project.source_dir.is_dir():
        raise ConfigError(f"BRICKTASKS_SOURCE_DIR {settings.source_dir!r} is not a folder", "point it at the notebooks folder")
    check_local_root(project.local_root, project_dir=root, source_dir=project.source_dir, libs_dir=project.libs_dir)
    check_output_folder("BRICKTASKS_DIST_DIR", project.dist_dir, source_dir=project.source_dir)
    check_output_folder("BRICKTASKS_RESULTS_DIR", project.results_dir, source_dir=project.source_dir)
    return project


def local_secrets(environ: Mapping[str, str], project_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """Secrets for local runs: BRICKTASKS_SECRET__<scope>__<key>=value becomes dbutils.secrets.get(scope, key).

    Read from the process environment and from the project's `.env`, the environment winning as for
    every setting (an empty variable counts as unset). The key may itself hold `__`; the scope may not.
    A malformed name in `.env` is an error, as any unknown setting there is; in the environment it is ignored."""
    dotenv = read_dotenv(project_dir / ".env") if project_dir is not None else {}
    merged = {name: value for name, value in dotenv.items() if name.startswith(SECRET_PREFIX)}
    for name in merged:
        if _secret_address(name) is None:
            raise ConfigError(
                f"{name} in .env names no secret scope and key", "write it as BRICKTASKS_SECRET__<scope>__<key>=value"
            )
    merged.update({name: value for name, value in environ.items() if name.startswith(SECRET_PREFIX) and value != ""})
    scopes: dict[str, dict[str, str]] = {}
    for name, value in merged.items():
        address = _secret_address(name)
        if address is not None and value != "":  # an empty value is unset, wherever it was given
            scopes.setdefault(address[0], {})[address[1]] = value
    return scopes


def _secret_address(name: str) -> tuple[str, str] | None:
    """(scope, key) of a BRICKTASKS_SECRET__<scope>__<key> name, or None if either is missing."""
    scope, separator, key = name[len(SECRET_PREFIX):].partition("__")
    return (scope, key) if separator and scope and key else None


def open_backend(project: Project, environ: Mapping[str, str]) -> Backend:
    """The backend the settings select, with the retry policy applied (call sites call it plainly)."""
    settings = project.settings
    if settings.backend == "local":
        return open_local_backend(project, environ)
    from bricktasks.backends.databricks import DatabricksBackend
    from bricktasks.backends.host_metadata import default_cache_file

    return RetryingBackend(
        DatabricksBackend(host=settings.databricks_host, token=settings.databricks_token, profile=settings.databricks_config_profile,
                          metadata_cache=default_cache_file(environ)),
        DEFAULT_POLICY,
    )


def open_local_backend(project: Project, environ: Mapping[str, str]) -> Backend:
    """The project's local backend (with its local secrets), with the retry policy applied: what
    `invoke run` uses whatever the settings select, and every task when they select local."""
    from bricktasks.backends.local import LocalBackend

    return RetryingBackend(LocalBackend(project.local_root, secrets=local_secrets(environ, project.root)), DEFAULT_POLICY)
