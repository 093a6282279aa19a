import json

import pytest

from bricktasks.clusterspec import load_cluster_spec
from bricktasks.errors import ConfigError
from pathlib import Path


def write(tmp_path, data):
    path = tmp_path / "cluster.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_the_projects_spec_loads():
    spec = load_cluster_spec(Path(__file__).parents[2] / "cluster.json")
    assert spec.new_cluster["spark_version"].startswith("15.4")
    assert {"pypi": {"package": "ruptures==1.1.9"}} in spec.libraries


def test_existing_cluster(tmp_path):
    spec = load_cluster_spec(write(tmp_path, {"existing_cluster_id": "0101-abc"}))
    assert spec.existing_cluster_id == "0101-abc" and spec.new_cluster is None


@pytest.mark.parametrize(
    "data, message",
    [
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ({}, "exactly one of"),
        ({"new_cluster": {"spark_version": "15.4.x"}, "existing_cluster_id": "x"}, "exactly one of"),
        ({"new_cluster": {"num_workers": 1}}, "needs a spark_version"),
        ({"new_cluster": {"spark_version": "15.4.x"}, "libraries": [{"npm": "x"}]}, "each library"),
        ({"new_cluster": {"spark_version": "15.4.x"}, "nodes": 3}, "unknown keys: nodes"),
    ],
)
def test_invalid_specs_are_config_errors(tmp_path, data, message):
    with pytest.raises(ConfigError) as caught:
        load_cluster_spec(write(tmp_path, data))
    assert message in caught.value.one_line()


def test_missing_spec(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_cluster_spec(tmp_path / "nope.json")
