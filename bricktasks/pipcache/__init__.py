"""Index packages for runs: pip requirements checked, and installed once into a cache reused across runs.

A run's `pypi` and `requirements` libraries, a serverless environment's dependencies and a notebook's
`%pip install NAME` all come here: a requirement this Python environment already satisfies is used
from it (fast, offline); the others are installed by pip from the package index into
`<local root>/pip-cache/<key>/site-packages`, one folder per set of requirements, index, Python and
platform, made atomically and shared by every later run. Imports only `errors` and `packaging`: the
notebook runtime (floor 1) and the backends (floor 2) both use it.
"""
from __future__ import annotations

from bricktasks.pipcache.install import INSTALL_TIMEOUT_S, CachedInstall, install_cached
from bricktasks.pipcache.requests import (
    EXTRA_INDEX_OPTIONS,
    INDEX_OPTIONS,
    PipInstallFailed,
    PipRequest,
    index_problem,
    pip_request_from_json,
    pip_request_json,
    redact_urls,
    requirement_problem,
    unsatisfied,
)
from bricktasks.pipcache.requirements_file import parse_requirements_text

__all__ = [
    "EXTRA_INDEX_OPTIONS",
    "INDEX_OPTIONS",
    "INSTALL_TIMEOUT_S",
    "CachedInstall",
    "PipInstallFailed",
    "PipRequest",
    "index_problem",
    "install_cached",
    "parse_requirements_text",
    "pip_request_from_json",
    "pip_request_json",
    "redact_urls",
    "requirement_problem",
    "unsatisfied",
]
