"""A run's pypi and requirements libraries, a serverless environment's dependencies and a notebook's
`%pip install` come from a package index into the pip cache, once: real wheels built here, served by a
PEP 503 index on loopback, installed by real pip, run by the local backend and over the emulator with
the real databricks-sdk. No PyPI: every index is on 127.0.0.1."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from databricks.sdk.service import compute, jobs
from databricks.sdk.service.workspace import ImportFormat

from bricktasks.backends.base import ExistingCluster, NotebookTask, Run, RunSpec, Serverless, TaskRun
from bricktasks.backends.local import LocalBackend
from bricktasks.emulator.routing import DEFAULT_CLUSTER_ID
from bricktasks.errors import InvalidRequest
from bricktasks.testing.emulator import raw_api, start_emulator, workspace_client
from bricktasks.testing.package_index import PackageIndex, build_wheel, closed_index_url
from bricktasks.testing.projectcopy import wait_until

HEADER = "# Databricks notebook source\n"
TINY = "bricktasks-tinypkg"
OTHER = "bricktasks-otherpkg"
CLUSTER = ExistingCluster(DEFAULT_CLUSTER_ID)
TOKEN = "pypi-token"
SECRET = "s3cret-in-the-url"
TERMINAL = (jobs.RunLifeCycleState.TERMINATED, jobs.RunLifeCycleState.INTERNAL_ERROR, jobs.RunLifeCycleState.SKIPPED)


@pytest.fixture(scope="module")
def needy_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel (not on the index) that needs the index's tinypkg."""
    source = "import bt_tinypkg\nVALUE = 'needy+' + bt_tinypkg.VALUE\n"
    return build_wheel(tmp_path_factory.mktemp("needy"), "bricktasks-needy", "0.1", {"bt_needy": source}, requires=(f"{TINY}==1.0",))


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    build = tmp_path_factory.mktemp("wheels")
    wheels = [
        build_wheel(build, TINY, "1.0", {"bt_tinypkg": "VALUE = 'tiny-1.0'\n"}),
        build_wheel(build, OTHER, "2.0", {"bt_otherpkg": "VALUE = 'other-2.0'\n"}),
    ]
    with PackageIndex(wheels) as served:
        yield served


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    local = LocalBackend(tmp_path_factory.mktemp("local") / "root")
    local.mkdirs("/Projects/p")
    for name, module in (("UsesTiny", "bt_tinypkg"), ("UsesOther", "bt_otherpkg")):
        source = f"{HEADER}import {module}\ndbutils.notebook.exit({module}.VALUE)\n"
        local.import_object(f"/Projects/p/{name}", source.encode(), format="SOURCE", language="PYTHON")
    return local


def _run(backend: LocalBackend, notebook: str, *, libraries: tuple[dict, ...] = (), **spec) -> tuple[Run, TaskRun]:
    task = NotebookTask("main", f"/Projects/p/{notebook}", compute=spec.pop("compute", CLUSTER), libraries=libraries)
    run_id = backend.submit_run(RunSpec(run_name="pypi", tasks=(task,), **spec))
    run = wait_until(lambda: (run := backend.get_run(run_id)).is_terminal and run, timeout=120, interval=0.1)
    return run, run.latest_tasks()[0]


def _exit_value(backend: LocalBackend, task: TaskRun) -> str | None:
    return backend.get_run_output(task.run_id).result


# -- classic compute: pypi libraries ---------------------------------------------------------------
def test_a_pypi_library_is_installed_from_its_index_once_and_reused(backend, index):
    library = {"pypi": {"package": f"{TINY}==1.0", "repo": index.url}}
    run, task = _run(backend, "UsesTiny", libraries=(library,))
    assert (task.life_cycle_state, task.result_state) == ("TERMINATED", "SUCCESS"), task.state_message
    assert _exit_value(backend, task) == "tiny-1.0"
    downloads = [path for path in index.requests() if path.startswith("/files/bricktasks_tinypkg-1.0")]
    assert len(downloads) == 1
    cached = list((backend.root / "pip-cache").glob("*/site-packages/bt_tinypkg.py"))
    assert len(cached) == 1
    assert json.loads((cached[0].parent.parent / "request.json").read_text())["requirements"] == [f"{TINY}==1.0"]

    seen = index.requests()
    run, task = _run(backend, "UsesTiny", libraries=(library,))
    assert (task.result_state, _exit_value(backend, task)) == ("SUCCESS", "tiny-1.0")
    assert index.requests() == seen  # the second run asked the index nothing


def test_a_wheels_dependency_may_come_as_a_pypi_library(backend, index, needy_wheel):
    backend.mkdirs_files("/Volumes/main/default/wheels")
    backend.upload_file(f"/Volumes/main/default/wheels/{needy_wheel.name}", needy_wheel)
    source = f"{HEADER}import bt_needy\ndbutils.notebook.exit(bt_needy.VALUE)\n"
    backend.import_object("/Projects/p/UsesNeedy", source.encode(), format="SOURCE", language="PYTHON")
    wheel = {"whl": f"/Volumes/main/default/wheels/{needy_wheel.name}"}
    run, task = _run(backend, "UsesNeedy", libraries=(wheel, {"pypi": {"package": f"{TINY}==1.0", "repo": index.url}}))
    assert (task.result_state, _exit_value(backend, task)) == ("SUCCESS", "needy+tiny-1.0"), task.state_message


def test_a_library_the_environment_satisfies_needs_no_index(backend):
    library = {"pypi": {"package": "packaging>=20", "repo": closed_index_url()}}  # nobody listens there
    backend.import_object("/Projects/p/UsesPackaging", f"{HEADER}import packaging\ndbutils.notebook.exit('ok')\n".encode(),
                          format="SOURCE", language="PYTHON")
    run, task = _run(backend, "UsesPackaging", libraries=(library,))
    assert (task.result_state, _exit_value(backend, task)) == ("SUCCESS", "ok")


def test_an_unknown_package_fails_the_task_with_pips_error_and_no_credentials(backend, index):
    repo = index.url.replace("http://", f"http://user:{SECRET}@")
    run, task = _run(backend, "UsesTiny", libraries=({"pypi": {"package": "bricktasks-nopkg==9.9", "repo": repo}},))
    assert (task.life_cycle_state, task.result_state) == ("INTERNAL_ERROR", "FAILED")
    assert task.state_message.startswith("Library installation failed: pip could not install bricktasks-nopkg==9.9 from http://***@")
    assert "No matching distribution found for bricktasks-nopkg==9.9" in task.state_message
    assert (run.life_cycle_state, run.result_state) == ("INTERNAL_ERROR", "FAILED")
    assert run.state_message == f"Task main failed with message: {task.state_message}."  # the run quotes its task
    output = backend.get_run_output(task.run_id)
    log = (backend.runs.run_dir(task.run_id) / "stdout.txt").read_text()
    for text in (task.state_message, output.error or "", output.error_trace or "", log, run.state_message):
        assert SECRET not in text


def test_an_unreachable_index_fails_fast_and_says_so(backend):
    unreachable = closed_index_url()
    run, task = _run(backend, "UsesTiny", libraries=({"pypi": {"package": f"{TINY}==1.0", "repo": unreachable}},))
    assert (task.life_cycle_state, task.result_state) == ("INTERNAL_ERROR", "FAILED")
    assert task.state_message.startswith(
        f"Library installation failed: could not install {TINY}==1.0: the package index {unreachable} is not reachable ("
    )
    assert "Connection refused" in task.state_message and "check the repo URL" in task.state_message


def test_a_requirements_file_is_installed_as_one_cached_set(backend, index, tmp_path):
    backend.mkdirs_files("/Volumes/main/default/libs")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"# what the notebook needs\n--index-url {index.url}\n{OTHER}==2.0  # the other one\n")
    backend.upload_file("/Volumes/main/default/libs/requirements.txt", requirements)
    library = {"requirements": "/Volumes/main/default/libs/requirements.txt"}
    run, task = _run(backend, "UsesOther", libraries=(library,))
    assert (task.result_state, _exit_value(backend, task)) == ("SUCCESS", "other-2.0"), task.state_message

    backend.upload_file("/Volumes/main/default/libs/bad.txt", _write(tmp_path / "bad.txt", "--find-links /tmp\n"))
    run, task = _run(backend, "UsesOther", libraries=({"requirements": "/Volumes/main/default/libs/bad.txt"},))
    assert (task.life_cycle_state, task.state_message) == (
        "INTERNAL_ERROR", "/Volumes/main/default/libs/bad.txt line 1: option --find-links is not supported; "
        "list requirements and index URLs only",
    )
    run, task = _run(backend, "UsesOther", libraries=({"requirements": "/Volumes/main/default/libs/none.txt"},))
    assert task.state_message == "requirements file /Volumes/main/default/libs/none.txt does not exist"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- serverless: environment dependencies and %pip --------------------------------------------------
def test_a_serverless_environment_installs_its_dependencies(backend, index, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", index.url)  # dependencies name no index: pip's configuration does
    environment = {"environment_key": "e", "spec": {"environment_version": "2", "dependencies": [f"{TINY}==1.0"]}}
    run, task = _run(backend, "UsesTiny", compute=Serverless("e"), environments=(environment,))
    assert (task.result_state, _exit_value(backend, task)) == ("SUCCESS", "tiny-1.0"), task.state_message


def test_pip_install_in_a_notebook_uses_the_index_and_the_cache(backend, index):
    source = f"{HEADER}# MAGIC %pip install --index-url {index.url} {OTHER}==2.0\n\n# COMMAND ----------\n\n" \
             "import bt_otherpkg\ndbutils.notebook.exit(bt_otherpkg.VALUE)\n"
    backend.import_object("/Projects/p/PipInstalls", source.encode(), format="SOURCE", language="PYTHON")
    run, task = _run(backend, "PipInstalls", compute=Serverless())
    assert (task.result_state, _exit_value(backend, task)) == ("SUCCESS", "other-2.0"), task.state_message
    seen = index.requests()
    run, task = _run(backend, "PipInstalls", compute=Serverless())
    assert task.result_state == "SUCCESS" and index.requests() == seen
    cells = backend.task_result(task.run_id)["cells"]
    assert cells[0]["stdout"] == f"Using {OTHER}==2.0 from the pip cache\n"


# -- bad input ----------------------------------------------------------------------------------------
BAD_LIBRARIES = [
    ({"pypi": {"package": ""}}, "pypi library: the package is empty"),
    ({"pypi": {"package": "not a requirement!"}}, "pypi library: 'not a requirement!' is not a valid requirement"),
    ({"pypi": {"package": "-r /etc/passwd"}}, "is not a valid requirement"),
    ({"pypi": {"package": "ok==1", "repo": "ftp://example.com/simple"}}, "repo 'ftp://example.com/simple' is not an http(s) index URL"),
    ({"pypi": {"package": "ok==1", "repo": f"file://u:{SECRET}@/tmp"}}, "repo 'file://***@/tmp' is not an http(s) index URL"),
    ({"pypi": "ok==1"}, "pypi must be an object"),
    ({"requirements": "requirements.txt"}, "requirements must be the path of a requirements.txt file"),
]


@pytest.mark.parametrize(("library", "message"), BAD_LIBRARIES)
def test_bad_libraries_are_refused_by_the_local_backend_before_anything_starts(backend, library, message):
    before = sorted(path.name for path in backend.runs.paths.runs.iterdir())
    with pytest.raises(InvalidRequest, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")) as refused:
        backend.submit_run(RunSpec(run_name="bad", tasks=(NotebookTask("main", "/Projects/p/UsesTiny", compute=CLUSTER,
                                                                      libraries=(library,)),)))
    assert SECRET not in refused.value.one_line()
    assert sorted(path.name for path in backend.runs.paths.runs.iterdir()) == before


def test_bad_environment_dependencies_are_refused(backend):
    environment = {"environment_key": "e", "spec": {"dependencies": ["fine==1", "no good"]}}
    with pytest.raises(InvalidRequest, match="environment 'e': dependency 'no good' is not a valid requirement"):
        backend.submit_run(RunSpec(run_name="bad", tasks=(NotebookTask("main", "/Projects/p/UsesTiny", compute=Serverless("e")),),
                                   environments=(environment,)))


# -- over the emulator, with the real databricks-sdk --------------------------------------------------
@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory):
    with start_emulator(tmp_path_factory.mktemp("emulated") / "root", token=TOKEN) as handle:
        w = workspace_client(handle.url, TOKEN)
        w.workspace.mkdirs("/Projects/sdk")
        source = f"{HEADER}import bt_tinypkg\ndbutils.notebook.exit(bt_tinypkg.VALUE)\n"
        w.workspace.upload("/Projects/sdk/UsesTiny.py", source.encode(), format=ImportFormat.AUTO)
        yield handle


def test_sdk_submit_with_a_pypi_library_on_classic_compute(emulator, index):
    w = workspace_client(emulator.url, TOKEN)
    task = jobs.SubmitTask(
        task_key="main",
        notebook_task=jobs.NotebookTask(notebook_path="/Projects/sdk/UsesTiny"),
        existing_cluster_id=DEFAULT_CLUSTER_ID,
        libraries=[compute.Library(pypi=compute.PythonPyPiLibrary(package=f"{TINY}==1.0", repo=index.url))],
    )
    run = w.jobs.submit(run_name="sdk pypi", tasks=[task]).result(timeout=timedelta(seconds=120))
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    assert w.jobs.get_run_output(run.tasks[0].run_id).notebook_output.result == "tiny-1.0"
    assert run.tasks[0].libraries[0].pypi.package == f"{TINY}==1.0"


@pytest.mark.parametrize(("library", "message"), BAD_LIBRARIES)
def test_bad_libraries_are_a_400_over_the_emulator(emulator, library, message):
    body = {"run_name": "bad", "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": "/Projects/sdk/UsesTiny"},
                                          "existing_cluster_id": DEFAULT_CLUSTER_ID, "libraries": [library]}]}
    with raw_api(emulator.url, TOKEN) as call:
        answer = call("POST", "/api/2.2/jobs/runs/submit", json=body)
    assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert message in answer.json()["message"] and SECRET not in answer.text


def test_sdk_sees_a_failed_install_in_the_tasks_state(emulator, index):
    w = workspace_client(emulator.url, TOKEN)
    task = jobs.SubmitTask(
        task_key="main",
        notebook_task=jobs.NotebookTask(notebook_path="/Projects/sdk/UsesTiny"),
        existing_cluster_id=DEFAULT_CLUSTER_ID,
        libraries=[compute.Library(pypi=compute.PythonPyPiLibrary(package="bricktasks-nopkg==1.0", repo=index.url))],
    )
    run_id = w.jobs.submit(run_name="sdk missing", tasks=[task]).run_id
    run = wait_until(lambda: (run := w.jobs.get_run(run_id)).state.life_cycle_state in TERMINAL and run, timeout=120, interval=0.2)
    state = run.tasks[0].state
    assert (state.life_cycle_state, state.result_state) == (jobs.RunLifeCycleState.INTERNAL_ERROR, jobs.RunResultState.FAILED)
    assert "No matching distribution found for bricktasks-nopkg==1.0" in state.state_message
