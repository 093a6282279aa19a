"""The parts of databricks-sdk the Databricks backend uses, imported without the SDK's aggregate.

`import databricks.sdk` runs a package `__init__` that imports every one of the SDK's ~45
service modules to build `WorkspaceClient` (0.86 s on the 2-core CI machine, more than every
request of a no-op checkout together). The backend needs four services, so the package is
registered with its `__init__` deferred: submodules (`core`, `errors`, `service.workspace`, ...)
import as usual, and the first lookup of a name only `__init__` defines (`WorkspaceClient`, used
by tests and user code in the same process) runs it then, once. If the package is already fully
imported, nothing is deferred. Measured by `benchmarks/run.py` (nothing-changed re-upload).
"""
from __future__ import annotations

import functools
import importlib.util
import sys
import threading
import types

_PACKAGE = "databricks.sdk"
_completing = threading.RLock()


class _DeferredPackage(types.ModuleType):
    """`databricks.sdk` whose `__init__` has not run yet; it runs on the first lookup of a name
    that is not a submodule."""

    def __getattr__(self, name: str):
        if name.startswith("__") or importlib.util.find_spec(f"{_PACKAGE}.{name}") is not None:
            raise AttributeError(name)  # dunders and submodules: let the import system handle them
        with _completing:
            if self.__dict__.get("_bricktasks_deferred", False):
                self.__dict__["_bricktasks_deferred"] = False
                spec = self.__spec__
                if spec is None or spec.loader is None:  # never: the import system found the package with a loader
                    raise ImportError(f"{_PACKAGE} has no loader to run its __init__ with")
                spec.loader.exec_module(self)
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}") from None


def _defer_package_init() -> None:
    if _PACKAGE in sys.modules:
        return  # already imported (fully or deferred): nothing to save
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.loader is None:
        return  # not installed: the imports below raise the usual ImportError
    package = importlib.util.module_from_spec(spec)
    package.__class__ = _DeferredPackage
    package.__dict__["_bricktasks_deferred"] = True
    sys.modules[_PACKAGE] = package
    parent, _, child = _PACKAGE.rpartition(".")
    setattr(sys.modules[parent], child, package)  # what the import system does for a package it loads


# Google auth's service-account impersonation pulls in its IAM signer and `cryptography.x509` (70-95 ms,
# a fifth of a remote task's start-up); the SDK imports it at the top of credentials_provider but only
# calls it for `google-credentials` auth. Loaded lazily: its code runs at the first use of a name in it.
_LAZY_MODULES = ("google.auth.impersonated_credentials", "google.oauth2.service_account")


def _load_lazily(name: str) -> None:
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:  # the parent package is missing: the SDK's own import says so
        return
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)  # only arms the module: its body runs on the first attribute lookup
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)


_defer_package_init()
for _name in _LAZY_MODULES:
    _load_lazily(_name)

from databricks.sdk.core import ApiClient, Config  # noqa: E402 - after the deferral, on purpose
from databricks.sdk.errors import DatabricksError  # noqa: E402
from databricks.sdk.mixins.files import DbfsExt, FilesExt  # noqa: E402
from databricks.sdk.mixins.workspace import WorkspaceExt  # noqa: E402
from databricks.sdk.service.files import DbfsAPI  # noqa: E402
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language  # noqa: E402

__all__ = [
    "ApiClient", "Config", "DatabricksError", "DbfsAPI", "ExportFormat", "ImportFormat", "Language",
    "SdkClient", "jobs_types",
]


class SdkClient:
    """The services of `WorkspaceClient` the backend calls, built the way `WorkspaceClient` builds
    them (same mixins, same shared `ApiClient`), without constructing its ~300 others."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.api_client = ApiClient(config)
        self.workspace = WorkspaceExt(self.api_client)
        self.files = FilesExt(self.api_client, config)
        self.dbfs = DbfsExt(self.api_client)

    @functools.cached_property
    def jobs(self):
        from databricks.sdk.mixins.jobs import JobsExt

        return JobsExt(self.api_client)

    @functools.cached_property
    def volumes(self):
        # imported on the first volume check only: the catalog service module is the SDK's largest
        from databricks.sdk.service.catalog import VolumesAPI

        return VolumesAPI(self.api_client)

    @functools.cached_property
    def experiments(self):
        # MLflow's runs/get, for a build's logged metrics: imported when a report first asks
        from databricks.sdk.service.ml import ExperimentsAPI

        return ExperimentsAPI(self.api_client)


def jobs_types() -> tuple[types.ModuleType, types.ModuleType]:
    """The SDK's compute and jobs service modules, imported on the first run call: their types take
    0.12 s to import, which checkout, switch-env and upload-lib never need."""
    from databricks.sdk.service import compute, jobs

    return compute, jobs
