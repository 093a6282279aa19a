import json
from pathlib import Path

import pytest

from bricktasks.backends.base import ExistingCluster, NewCluster, compute_from_task_fields
from bricktasks.clusterspec import load_cluster_spec
from bricktasks.errors import ConfigError


def write(tmp_path, data):
    path = tmp_path / "cluster.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_the_projects_spec_loads():
    spec = load_cluster_spec(Path(__file__).parents[2] / "cluster.json")
    assert isinstance(spec.compute, NewCluster) and spec.compute.spec["spark_version"].startswith("15.4")
    assert {"pypi": {"package": "ruptures==1.1.9"}} in spec.libraries


def test_existing_cluster(tmp_path):
    spec = load_cluster_spec(write(tmp_path, {"existing_cluster_id": "0101-abc"}))
    assert spec.compute == ExistingCluster("0101-abc")
    assert spec.compute.to_task_fields() == {"existing_cluster_id": "0101-abc"}


def test_the_compute_names_its_jobs_api_fields_and_reads_them_back():
    """The one seam between cluster.json, the run stores and runs/submit: a Compute and its task fields."""
    new = NewCluster({"spark_version": "15.4.x-scala2.12", "num_workers": 1})
    assert new.to_task_fields() == {"new_cluster": {"spark_version": "15.4.x-scala2.12", "num_workers": 1}}
    for compute in (new, ExistingCluster("0101-abc")):
        assert compute_from_task_fields({"task_key": "t", **compute.to_task_fields()}) == compute
    assert compute_from_task_fields({"task_key": "t", "notebook_task": {}}) is None


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


# ---- issue 11: specs nobody tuned for ----------------------------------------------------------

SPARK = {"spark_version": "15.4.x-scala2.12"}


@pytest.mark.parametrize(
    "text, message",
    [
        ('"x"', "must be a JSON object"),
        ("5", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("[" * 10000 + "]" * 10000, "nested too deeply"),
        ('{"new_cluster": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
        ('{"new_cluster": {"spark_version": "15.4.x", "spark_conf": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}}", "nested too deeply"),
        ('{"new_cluster": {"spark_version": "15.4.x", "num_workers": NaN}}', "not valid JSON"),
        ('{"new_cluster": {"spark_version": "15.4.x", "num_workers": Infinity}}', "not valid JSON"),
        ("\x00\x01binary", "not valid JSON"),
    ],
)
def test_odd_json_is_one_config_error_not_a_traceback(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_cluster_spec(write(tmp_path, text))
    assert message in caught.value.one_line() and caught.value.exit_code == 2


def test_a_spec_that_is_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "cluster.json"
    path.write_bytes(b'{"new_cluster": {"spark_version": "15.4\xe9"}}')
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_cluster_spec(path)


def test_a_spec_with_a_utf8_bom_loads(tmp_path):
    path = tmp_path / "cluster.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"new_cluster": SPARK}).encode())
    assert load_cluster_spec(path).compute == NewCluster(SPARK)


@pytest.mark.parametrize(
    "libraries, message",
    [
        ("x", "libraries must be a list"),
        ({"whl": "x"}, "libraries must be a list"),
        ([{"whl": 5}], "library 1: whl must be a non-empty string"),
        ([{"whl": ""}], "library 1: whl must be a non-empty string"),
        ([{"pypi": {"package": "a"}}, {"jar": ["x"]}], "library 2: jar must be a non-empty string"),
        ([{"pypi": "ruptures"}], "library 1: pypi must be an object"),
        ([{"pypi": {"package": 5}}], "library 1: pypi.package must be a non-empty string"),
        ([{"pypi": {"repo": "https://x"}}], "library 1: pypi.package must be a non-empty string"),
        ([{"pypi": {"package": "a", "repo": 3}}], "library 1: pypi.repo must be a non-empty string"),
        ([{"pypi": {"package": "a", "version": "1"}}], "library 1: pypi has unknown keys: version"),
        ([{"maven": {"coordinates": "g:a:1", "exclusions": "x"}}], "library 1: maven.exclusions must be a list of strings"),
        ([{"cran": {}}], "library 1: cran.package must be a non-empty string"),
        ([{"whl": "a.whl", "egg": "b.egg"}], "library 1: each library is one of"),
        ([5], "library 1: each library is one of"),
        ([[]], "library 1: each library is one of"),
    ],
)
def test_library_entries_of_the_wrong_type_are_refused(tmp_path, libraries, message):
    with pytest.raises(ConfigError) as caught:
        load_cluster_spec(write(tmp_path, {"new_cluster": SPARK, "libraries": libraries}))
    assert message in caught.value.one_line()


def test_every_library_kind_in_its_documented_shape_loads(tmp_path):
    libraries = [
        {"whl": "/Volumes/x/a.whl"}, {"egg": "dbfs:/x/a.egg"}, {"jar": "dbfs:/x/a.jar"}, {"requirements": "/Workspace/r.txt"},
        {"pypi": {"package": "ruptures==1.1.9", "repo": "https://pypi.org/simple"}},
        {"maven": {"coordinates": "g:a:1", "repo": "https://m", "exclusions": ["x:y"]}}, {"cran": {"package": "forecast"}},
    ]
    assert load_cluster_spec(write(tmp_path, {"new_cluster": SPARK, "libraries": libraries})).libraries == tuple(libraries)


@pytest.mark.parametrize(
    "new_cluster, message",
    [({"spark_version": 15.4}, "spark_version must be a non-empty string"), ({"spark_version": ""}, "spark_version must be")],
)
def test_a_spark_version_that_is_not_a_string_is_refused(tmp_path, new_cluster, message):
    with pytest.raises(ConfigError) as caught:
        load_cluster_spec(write(tmp_path, {"new_cluster": new_cluster}))
    assert message in caught.value.one_line()
