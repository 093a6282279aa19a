"""Clusters API, minimal, on /api/2.0 and /2.1: what a client reads before it submits a run.

`spark-versions` and `list-node-types` answer fixed, realistic catalogues (enough for the SDK's
`select_spark_version(latest=True, long_term_support=True)` and `select_node_type(local_disk=True)`);
`list` and `get` show one all-purpose cluster, always RUNNING, whose id is `--cluster-id`
(`EmulatorState.cluster_id`). Runs on it execute on this machine, like every emulated run. `start`
of it answers the real INVALID_STATE (it is running). A cluster id that is not it: `get` answers
400 INVALID_PARAMETER_VALUE "Cluster <id> does not exist", as Databricks does, and a run naming
it as `existing_cluster_id` ends at once INTERNAL_ERROR (the local backend's run store, with the
message of a real run whose cluster was gone). Creating, editing or deleting clusters is not served.
"""
from __future__ import annotations

import time
from typing import Any

from bricktasks.emulator.protocol import ApiError, Request, Response, json_response
from bricktasks.emulator.routing import EmulatorState, Route

__all__ = ["ROUTES", "SPARK_VERSIONS", "NODE_TYPES", "CLUSTER_SPARK_VERSION", "CLUSTER_NODE_TYPE"]

# (key, name) as the real catalogue writes them; the SDK's filters read both
SPARK_VERSIONS: tuple[tuple[str, str], ...] = (
    ("13.3.x-scala2.12", "13.3 LTS (includes Apache Spark 3.4.1, Scala 2.12)"),
    ("14.3.x-scala2.12", "14.3 LTS (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("15.4.x-scala2.12", "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("15.4.x-cpu-ml-scala2.12", "15.4 LTS ML (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("15.4.x-photon-scala2.12", "15.4 LTS Photon (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("16.1.x-scala2.12", "16.1 (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("16.4.x-scala2.12", "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.12)"),
    ("16.4.x-scala2.13", "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.13)"),
    ("17.3.x-scala2.13", "17.3 LTS (includes Apache Spark 4.0.0, Scala 2.13)"),
)
CLUSTER_SPARK_VERSION = "15.4.x-scala2.12"  # Spark 3.5, as the local runtime's pyspark
CLUSTER_NODE_TYPE = "Standard_DS3_v2"


def _node_type(node_type_id: str, cores: int, memory_mb: int, disks: int, disk_gb: int, category: str) -> dict[str, Any]:
    return {
        "node_type_id": node_type_id, "instance_type_id": node_type_id, "num_cores": float(cores), "memory_mb": memory_mb,
        "description": node_type_id, "category": category, "num_gpus": 0, "is_deprecated": False, "is_hidden": False,
        "photon_driver_capable": True, "photon_worker_capable": True, "is_io_cache_enabled": disks > 0,
        "support_port_forwarding": True, "is_encrypted_in_transit": False,
        "node_instance_type": {
            "instance_type_id": node_type_id, "local_disks": disks, "local_disk_size_gb": disk_gb,
            "local_nvme_disks": 0, "local_nvme_disk_size_gb": 0,
        },
    }


NODE_TYPES: tuple[dict[str, Any], ...] = (
    _node_type("Standard_F4", 4, 8192, 0, 0, "Compute Optimized"),
    _node_type(CLUSTER_NODE_TYPE, 4, 14336, 1, 28, "General Purpose"),
    _node_type("Standard_D4ds_v5", 4, 16384, 1, 150, "General Purpose"),
    _node_type("Standard_E8ds_v5", 8, 65536, 1, 300, "Memory Optimized"),
)
CLUSTER_STATES = ("PENDING", "RUNNING", "RESTARTING", "RESIZING", "TERMINATING", "TERMINATED", "ERROR", "UNKNOWN")
CLUSTER_SOURCES = ("API", "JOB", "MODELS", "PIPELINE", "PIPELINE_MAINTENANCE", "SQL", "UI")
_STARTED_MS = int(time.time() * 1000)  # when this emulator's cluster "started": the process's start


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def _cluster(state: EmulatorState) -> dict[str, Any]:
    """The emulated cluster as clusters/get answers it (a single-node, single-user cluster)."""
    cluster_id = state.cluster_id
    creator = state.identity.user_name  # the token's user, as SCIM Me answers it
    name = "bricktasks emulator"
    spec = {
        "cluster_name": name, "spark_version": CLUSTER_SPARK_VERSION, "node_type_id": CLUSTER_NODE_TYPE,
        "driver_node_type_id": CLUSTER_NODE_TYPE, "num_workers": 0, "autotermination_minutes": 0,
        "data_security_mode": "SINGLE_USER", "single_user_name": creator,
        "spark_conf": {"spark.master": "local[*, 4]", "spark.databricks.cluster.profile": "singleNode"},
        "custom_tags": {"ResourceClass": "SingleNode"}, "enable_elastic_disk": True,
    }
    return {
        "cluster_id": cluster_id, **spec, "state": "RUNNING", "state_message": "", "cluster_source": "UI",
        "creator_user_name": creator, "start_time": _STARTED_MS, "last_restarted_time": _STARTED_MS,
        "last_state_loss_time": 0, "spark_context_id": _STARTED_MS, "cluster_cores": 4.0, "cluster_memory_mb": 14336,
        "default_tags": {"Vendor": "Databricks", "Creator": creator, "ClusterName": name, "ClusterId": cluster_id},
        "driver": {"node_id": "driver", "host_private_ip": "127.0.0.1", "private_ip": "127.0.0.1", "start_timestamp": _STARTED_MS},
        "spec": spec,
    }


def _cluster_id(value: Any) -> str:
    if value is None or value == "":
        raise _bad("Missing required field: cluster_id")
    if not isinstance(value, str):
        raise _bad(f"cluster_id must be a string; got {type(value).__name__}")
    return value


def _known(state: EmulatorState, cluster_id: str) -> None:
    if cluster_id != state.cluster_id:
        raise _bad(f"Cluster {cluster_id} does not exist")


def spark_versions(request: Request, state: EmulatorState, match) -> Response:
    return json_response({"versions": [{"key": key, "name": name} for key, name in SPARK_VERSIONS]})


def list_node_types(request: Request, state: EmulatorState, match) -> Response:
    return json_response({"node_types": list(NODE_TYPES)})


def get(request: Request, state: EmulatorState, match) -> Response:
    cluster_id = request.target = _cluster_id(request.query.get("cluster_id"))
    _known(state, cluster_id)
    return json_response(_cluster(state))


def _filter_values(request: Request, name: str, allowed: tuple[str, ...]) -> set[str] | None:
    values = [value for item in request.query_lists.get(name, []) for value in item.split(",") if value]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise _bad(f"{name} must be among {', '.join(allowed)}; got {', '.join(unknown)}")
    return set(values) if values else None


def list_clusters(request: Request, state: EmulatorState, match) -> Response:
    """One page (the only one): the emulated cluster, unless a filter leaves it out."""
    states = _filter_values(request, "filter_by.cluster_states", CLUSTER_STATES)
    sources = _filter_values(request, "filter_by.cluster_sources", CLUSTER_SOURCES)
    page_size = request.query.get("page_size")
    if page_size not in (None, "") and (not page_size.isdigit() or int(page_size) > 100):
        raise _bad("page_size must be a whole number from 0 to 100")
    if request.query.get("page_token"):
        raise _bad("page_token is not one this workspace gave: there is only one page")
    pinned = request.query.get("filter_by.is_pinned")
    shown = (states is None or "RUNNING" in states) and (sources is None or "UI" in sources) and pinned != "true"
    return json_response({"clusters": [_cluster(state)]} if shown else {})


def start(request: Request, state: EmulatorState, match) -> Response:
    cluster_id = request.target = _cluster_id(request.json().get("cluster_id"))
    _known(state, cluster_id)
    raise ApiError(400, "INVALID_STATE", f"Cluster {cluster_id} is in unexpected state Running.")


_BASE = r"/api/2\.[01]/clusters"
ROUTES = [
    Route.of("GET", _BASE + "/spark-versions", spark_versions, mutating=False, api="clusters"),
    Route.of("GET", _BASE + "/list-node-types", list_node_types, mutating=False, api="clusters"),
    Route.of("GET", _BASE + "/list", list_clusters, mutating=False, api="clusters"),
    Route.of("GET", _BASE + "/get", get, mutating=False, api="clusters"),
    Route.of("POST", _BASE + "/start", start, mutating=True, api="clusters"),
]
