"""Where a local run's MLflow tracking goes: a file store under the local root.

On Databricks a notebook's MLflow calls go to the workspace's tracking server with no
setting at all. A local run has no workspace, so the runtime points MLflow at
`<local root>/mlflow` through its environment, the way it says where Volumes and DBFS
live: the notebook itself sets nothing, and the same notebook logs to the workspace there
and to the local root here. Experiment names stay workspace paths
(`/Projects/forecasting/experiments/ci`): a file store takes any string as a name.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["TRACKING_FOLDER", "local_tracking_uri", "tracking_environment"]

TRACKING_FOLDER = "mlflow"


def local_tracking_uri(local_root: Path) -> str:
    """The `file://` tracking URI of the local root's MLflow store (absolute: runs change directory)."""
    return (Path(local_root).resolve() / TRACKING_FOLDER).as_uri()


def tracking_environment(local_root: Path) -> dict[str, str]:
    """The environment variables that send a local run's MLflow tracking to the local root."""
    return {
        "MLFLOW_TRACKING_URI": local_tracking_uri(local_root),
        # MLflow 3.13+ refuses the file store unless asked: it is in maintenance mode upstream, but
        # it needs no database or migrations, and concurrent local runs each write their own folder
        "MLFLOW_ALLOW_FILE_STORE": "true",
    }
