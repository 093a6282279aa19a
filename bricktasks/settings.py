"""Settings: one frozen dataclass, each field declared with its env var, default and sensitivity.

Precedence, highest first: task flags > process environment > `.env` file > defaults.
The `.env` file is parsed strictly: a malformed line or an unknown `BRICKTASKS_` name is an
error (exit 2) rather than a silently ignored setting.
"""
from __future__ import annotations

import dataclasses
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv.parser import parse_stream

from bricktasks.errors import ConfigError
from bricktasks.layout import check_workspace_root

__all__ = ["Settings", "load_settings", "read_dotenv", "setting_specs", "unvalidated_secrets", "BACKENDS", "quality_build_count"]

BACKENDS = ("local", "databricks")
TRUTHY = {"1", "true", "yes", "on"}
DEFAULT_CI_JOB = "jobs/ci.json"
DEFAULT_CI_NOTEBOOKS = "ModelTraining"  # the shorthand's, when BRICKTASKS_CI_NOTEBOOKS is unset
NO_LIBRARIES = "none"  # BRICKTASKS_LIBS=none: a project without a library (an empty value means unset)


def setting(env: str, default: Any, doc: str, *, sensitive: bool = False) -> Any:
    """Declare a field with its environment variable, default and sensitivity in one place."""
    return field(
        default=default,
        repr=not sensitive,
        metadata={"env": env, "doc": doc, "sensitive": sensitive},
    )


@dataclass(frozen=True)
class Settings:
    """Everything the tasks need to know about the project and the workspace."""

    databricks_host: str | None = setting(
        "DATABRICKS_HOST", None, "Workspace URL, e.g. https://adb-123.azuredatabricks.net; selects the databricks backend"
    )
    databricks_token: str | None = setting(
        "DATABRICKS_TOKEN", None, "Personal access token (secret: never printed, logged or uploaded)", sensitive=True
    )
    databricks_config_profile: str | None = setting(
        "DATABRICKS_CONFIG_PROFILE", None, "Profile in ~/.databrickscfg to authenticate with instead of host/token"
    )
    backend: str | None = setting(
        "BRICKTASKS_BACKEND", None, "local | databricks (default: databricks when a host or profile is set, else local)"
    )
    local_root: str = setting(
        "BRICKTASKS_LOCAL_ROOT", ".databricks-local", "Folder holding the local backend's workspace, DBFS, Volumes and runs"
    )
    workspace_root: str = setting(
        "BRICKTASKS_WORKSPACE_ROOT", "/Projects/forecasting", "Project folder in the workspace; nothing outside it is touched"
    )
    library_root: str | None = setting(
        "BRICKTASKS_LIBRARY_ROOT",
        None,
        "Where libraries go: a workspace folder, dbfs:/... or /Volumes/... (default: <workspace root>/libraries)",
    )
    source_dir: str = setting("BRICKTASKS_SOURCE_DIR", "forecasting", "Local folder of notebooks pushed to the workspace")
    libs_dir: str = setting("BRICKTASKS_LIBS_DIR", "libs", "Local folder whose subfolders are the libraries to build")
    libs: str | None = setting(
        "BRICKTASKS_LIBS",
        None,
        "Comma-separated project folders, each one library to build (pyproject.toml or setup.py), e.g. . or packages/churn; "
        "none for no library (default: every subfolder of BRICKTASKS_LIBS_DIR)",
    )
    dist_dir: str = setting("BRICKTASKS_DIST_DIR", "dist", "Where build-wheel and build-egg put the artifacts")
    env: str = setting("BRICKTASKS_ENV", "dev", "Your config: checkout points set_environment at conf/<env>_config")
    results_dir: str = setting("BRICKTASKS_RESULTS_DIR", "ci-results", "Where ci writes the JUnit XML and HTML report")
    runtime_version: str = setting(
        "BRICKTASKS_RUNTIME_VERSION", "15.4", "Target Databricks Runtime (15.4 LTS: Spark 3.5, Python 3.11)"
    )
    target_python: str = setting(
        "BRICKTASKS_TARGET_PYTHON", "3.11", "Python version of the target runtime (eggs must match it)"
    )
    ci_job: str | None = setting(
        "BRICKTASKS_CI_JOB",
        None,
        "Checked-in definition of the CI run in the Jobs API's shape (default: jobs/ci.json when it exists; "
        "without one, ci runs BRICKTASKS_CI_NOTEBOOKS on the cluster of BRICKTASKS_CLUSTER_SPEC)",
    )
    ci_notebooks: str | None = setting(
        "BRICKTASKS_CI_NOTEBOOKS",
        None,
        "Without a CI job definition: comma-separated notebooks that ci runs, relative to the source dir (default: ModelTraining)",
    )
    cluster_spec: str = setting(
        "BRICKTASKS_CLUSTER_SPEC", "cluster.json",
        "Without a CI job definition: checked-in JSON file with the CI run's cluster and libraries",
    )
    timeout: str = setting("BRICKTASKS_TIMEOUT", "25m", "How long ci waits before cancelling the run (e.g. 90s, 25m, 1h)")
    build_id: str | None = setting("BRICKTASKS_BUILD_ID", None, "Override the CI build id")
    branch: str | None = setting("BRICKTASKS_BRANCH", None, "Override the branch name (default: the current git branch)")
    quality_builds: str = setting(
        "BRICKTASKS_QUALITY_BUILDS", "5", "How many earlier builds of the branch the report's quality trend shows (0-50)"
    )
    lower_is_better: str | None = setting(
        "BRICKTASKS_LOWER_IS_BETTER", None,
        "Metrics whose decrease is an improvement, comma-separated names or patterns (e.g. *.mae_ratio,*.loss)",
    )
    higher_is_better: str | None = setting(
        "BRICKTASKS_HIGHER_IS_BETTER", None, "Metrics whose increase is an improvement, comma-separated names or patterns"
    )

    def __repr__(self) -> str:  # the dataclass repr already hides sensitive fields; say so explicitly
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"Settings({shown}, databricks_token={'***' if self.databricks_token else None})"

    def secret_values(self) -> list[str]:
        """Values that must never appear in output, for redaction."""
        return [getattr(self, f.name) for f in fields(self) if f.metadata["sensitive"] and getattr(self, f.name)]

    @property
    def resolved_library_root(self) -> str:
        return self.library_root or f"{self.workspace_root.rstrip('/')}/libraries"

    @property
    def library_folders(self) -> list[str] | None:
        """BRICKTASKS_LIBS as a list (empty for `none`); None when unset: every subfolder of BRICKTASKS_LIBS_DIR."""
        if self.libs is None:
            return None
        names = [name.strip() for name in self.libs.split(",") if name.strip()]
        return [] if [name.lower() for name in names] == [NO_LIBRARIES] else names

    @property
    def ci_notebook_list(self) -> list[str]:
        given = DEFAULT_CI_NOTEBOOKS if self.ci_notebooks is None else self.ci_notebooks
        return [name.strip() for name in given.split(",") if name.strip()]


def setting_specs() -> list[dataclasses.Field]:
    """The declared fields, in order (used to write .env.example and the table of docs/settings.md)."""
    return list(fields(Settings))


def _line_and_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _dotenv_text(path: Path) -> str:
    """The file as text: UTF-8, with or without a BOM (Notepad writes one; read as plain UTF-8 it
    hid the first line). Another encoding, or a control character, is a ConfigError naming the
    position: never the value there, which may be a token."""
    hint = "save it as UTF-8 text, one NAME=value a line"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path.name} cannot be read ({exc.strerror})", hint) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{path.name} is UTF-16, not UTF-8", hint)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8-sig")  # valid UTF-8 up to the bad byte: count lines there
        line, column = _line_and_column(before, len(before))
        raise ConfigError(f"{path.name} line {line} column {column} is not UTF-8 (Latin-1 or a binary file?)", hint) from None
    for index, char in enumerate(text):
        if _is_control(char) and char not in "\t\r\n":
            line, column = _line_and_column(text, index)
            raise ConfigError(f"{path.name} line {line} column {column} holds a control character, not UTF-8 text", hint)
    return text


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a dotenv file strictly: a malformed line is a ConfigError naming the line."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(_dotenv_text(path))):
        line = binding.original.line
        if binding.error or (binding.key is not None and binding.value is None):
            # never echo the line: it may hold a token
            raise ConfigError(f"{path.name} line {line} is malformed", "write it as NAME=value (quote values with spaces)")
        if binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values


def _known_env_names() -> set[str]:
    return {f.metadata["env"] for f in fields(Settings)}


def spec_is_sensitive(env_name: str) -> bool:
    return any(f.metadata["env"] == env_name and f.metadata["sensitive"] for f in fields(Settings))


def load_settings(
    project_dir: Path,
    environ: Mapping[str, str],
    flags: Mapping[str, Any] | None = None,
    *,
    dotenv_path: Path | None = None,
    project_defaults: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: flags > environ > .env > the project's defaults (its tasks.py) > built-in defaults,
    then validate them. `project_defaults` is keyed by the settings' variable names."""
    dotenv_values = read_dotenv(dotenv_path or project_dir / ".env")
    known = _known_env_names()
    for name in dotenv_values:
        if name.startswith("BRICKTASKS_") and name not in known and not name.startswith("BRICKTASKS_SECRET__"):
            raise ConfigError(f"unknown setting {name} in .env", "see .env.example for the valid names")
    defaults = dict(project_defaults or {})
    for name in defaults:
        if name not in known or spec_is_sensitive(name):
            # a token is never a committed default: tasks.py is in git
            raise ConfigError(f"tasks.py sets {name}, which is not a setting a project may default", "see .env.example for the valid names")

    values: dict[str, Any] = {}
    explicit_backend = False
    for spec in fields(Settings):
        env_name = spec.metadata["env"]
        value: Any = None
        if flags and flags.get(spec.name) not in (None, ""):
            value = flags[spec.name]
        elif environ.get(env_name, "") != "":
            value = environ[env_name]
        elif dotenv_values.get(env_name, "") != "":
            value = dotenv_values[env_name]
        if value is not None:
            values[spec.name] = value
            explicit_backend |= spec.name == "backend"
        elif str(defaults.get(env_name, "")) != "":
            # not "explicit": a committed default must not let a CI that lost its host run locally
            values[spec.name] = str(defaults[env_name])
    settings = Settings(**values)
    ci = environ.get("CI", "").strip().lower() in TRUTHY
    return _validated(settings, running_in_ci=ci, explicit_backend=explicit_backend)


def _validated(settings: Settings, *, running_in_ci: bool, explicit_backend: bool) -> Settings:
    remote_configured = bool(settings.databricks_host or settings.databricks_config_profile)
    backend = settings.backend
    if backend is None:
        backend = "databricks" if remote_configured else "local"
    backend = backend.strip().lower()
    if backend not in BACKENDS:
        raise ConfigError(f"BRICKTASKS_BACKEND={settings.backend!r} is not a backend", "use local or databricks")
    if running_in_ci and not remote_configured and not (explicit_backend and backend == "local"):
        # a pipeline that lost its secrets must not pass by quietly running on this machine
        raise ConfigError(
            "CI is set but DATABRICKS_HOST is not",
            "give the pipeline DATABRICKS_HOST and DATABRICKS_TOKEN, or set BRICKTASKS_BACKEND=local to run locally on purpose",
        )
    if backend == "databricks":
        if not remote_configured:
            raise ConfigError(
                "DATABRICKS_HOST is not set for the databricks backend",
                "set DATABRICKS_HOST and DATABRICKS_TOKEN in .env, or DATABRICKS_CONFIG_PROFILE",
            )
        if settings.databricks_host and not settings.databricks_token and not settings.databricks_config_profile:
            raise ConfigError(
                "DATABRICKS_TOKEN is not set for DATABRICKS_HOST",
                "add DATABRICKS_TOKEN to .env or the CI secret store, or use DATABRICKS_CONFIG_PROFILE",
            )
        _check_credentials(settings.databricks_host, settings.databricks_token)
    _check_quality(settings)
    workspace_root = check_workspace_root(settings.workspace_root)
    return dataclasses.replace(settings, backend=backend, workspace_root=workspace_root)


MAX_QUALITY_BUILDS = 50
_METRIC_PATTERN = re.compile(r"^[\w.:/ *?\[\]-]{1,120}$")


def quality_build_count(settings: Settings) -> int:
    """BRICKTASKS_QUALITY_BUILDS as a number (checked by load_settings)."""
    return int(settings.quality_builds.strip())


def _check_quality(settings: Settings) -> None:
    """The report's quality settings: a small count, metric patterns that are names."""
    text = settings.quality_builds.strip()
    if not text.isdigit() or int(text) > MAX_QUALITY_BUILDS:
        raise ConfigError(
            f"BRICKTASKS_QUALITY_BUILDS={settings.quality_builds!r} is not a number of builds",
            f"use a whole number from 0 to {MAX_QUALITY_BUILDS} (default 5)",
        )
    for name in ("lower_is_better", "higher_is_better"):
        for pattern in (getattr(settings, name) or "").split(","):
            if pattern.strip() and not _METRIC_PATTERN.match(pattern.strip()):
                raise ConfigError(
                    f"BRICKTASKS_{name.upper()} holds {pattern.strip()[:40]!r}, which is not a metric name or pattern",
                    "list dotted metric names or fnmatch patterns separated by commas, e.g. ModelTraining.mae_ratio,*.loss",
                )


# ---- the host and token: checked before they are used, never shown ---------------------------

_SWAPPED = "are DATABRICKS_HOST and DATABRICKS_TOKEN swapped?"
_TOKEN_HINT = "copy the token again without spaces or a trailing newline (it is not shown here)"


def _is_url(value: str) -> bool:
    return value.lower().startswith(("https://", "http://"))


def _odd_character(value: str) -> str | None:
    """What makes `value` unfit for an HTTP header: a newline, other whitespace, a control or a
    non-ASCII character; None when it is printable ASCII without spaces."""
    for char in value:
        if char in "\r\n":
            return "a newline"
        if char.isspace():
            return "whitespace"
        if _is_control(char):
            return "a control character"
        if not char.isascii() or not char.isprintable():
            return "a non-ASCII character"
    return None


def _check_credentials(host: str | None, token: str | None) -> None:
    """Refuse a host or token that cannot be what it claims, without showing either: a host given
    the wrong way round is the token."""
    if host is not None:
        odd = _odd_character(host)
        if odd:
            raise ConfigError(f"DATABRICKS_HOST holds {odd}", "write it as https://<workspace-host> on one line")
        if not _is_url(host):
            hint = "write it as https://<workspace-host>"
            raise ConfigError("DATABRICKS_HOST is not a URL (it is not shown: it may be a token)", f"{_SWAPPED} {hint}")
    if token is not None:
        odd = _odd_character(token)
        if odd:
            raise ConfigError(f"DATABRICKS_TOKEN holds {odd}", _TOKEN_HINT)
        if _is_url(token):
            raise ConfigError("DATABRICKS_TOKEN is a URL, not a token", _SWAPPED)


def unvalidated_secrets(project_dir: Path, environ: Mapping[str, str], *, dotenv_path: Path | None = None) -> list[str]:
    """Values to redact before the settings are validated (an error raised while loading them
    prints before the settings exist): the sensitive settings as given in the environment and
    .env, and a DATABRICKS_HOST that is not a URL (a token given the wrong way round)."""
    try:
        dotenv_values = read_dotenv(dotenv_path or project_dir / ".env")
    except ConfigError:  # loading the settings reports it, naming no value
        dotenv_values = {}
    names = [spec.metadata["env"] for spec in fields(Settings) if spec.metadata["sensitive"]]
    found = [source[name] for name in names for source in (environ, dotenv_values) if source.get(name)]
    found += [
        source["DATABRICKS_HOST"]
        for source in (environ, dotenv_values)
        if source.get("DATABRICKS_HOST") and not _is_url(source["DATABRICKS_HOST"].strip())
    ]
    return list(dict.fromkeys(found))
