"""--quiet and --json on every task: the shared flags, the JSON summary and its redaction."""
from __future__ import annotations

import io
import json

import pytest

from bricktasks.cli.guard import COMMON_HELP, task_arguments
from bricktasks.cli.invocation import TaskOutput
from bricktasks.tasks import namespace

SECRET = "dapi" + "5ec2e7" * 5


def test_every_task_takes_quiet_and_json_and_documents_every_flag():
    for name in namespace.task_names:
        task = namespace[name]
        arguments = {argument.name: argument for argument in task_arguments(task)}
        assert {"quiet", "json"} <= set(arguments), name
        assert "out" not in arguments, name  # the body's TaskOutput is not a flag
        for argument_name, argument in arguments.items():
            assert argument.help, f"{name} --{argument_name} has no help"
        assert task.__doc__ and task.__doc__.strip(), name


def test_a_tasks_flag_help_survives_being_asked_twice():
    # invoke's get_arguments() pops the help it uses; asked twice, the second answer had none
    # (another test module asking first, in the same worker, made the check above fail)
    first = {argument.name: argument.help for argument in task_arguments(namespace["run"])}
    second = {argument.name: argument.help for argument in task_arguments(namespace["run"])}
    assert first == second
    assert second["notebook"]


def test_builds_is_an_ordinary_task():
    assert "builds" in namespace.task_names
    assert {argument.name for argument in task_arguments(namespace["builds"])} == {"branch", "quiet", "json"}


def test_json_mode_keeps_stdout_for_the_one_object():
    stdout, stderr = io.StringIO(), io.StringIO()
    out = TaskOutput("checkout", json_summary=True, stdout=stdout, stderr=stderr)
    console = out.console([SECRET])
    console.info("checking out")
    console.result("uploaded 2")
    out.record(uploaded=2, folder=f"/Projects/{SECRET}", nested={"list": [SECRET], SECRET: 1})
    out.finish(0)
    data = json.loads(stdout.getvalue())
    assert stdout.getvalue().count("\n") == 1
    assert data["task"] == "checkout" and data["ok"] is True and data["exit_code"] == 0 and data["uploaded"] == 2
    assert data["folder"] == "/Projects/[REDACTED]"
    assert data["nested"] == {"list": ["[REDACTED]"], "[REDACTED]": 1}
    assert SECRET not in stdout.getvalue() + stderr.getvalue()
    assert "checking out" in stderr.getvalue() and "uploaded 2" in stderr.getvalue()


@pytest.mark.parametrize("secret", [SECRET, 'to"ken\\with-quotes'])
def test_the_summary_is_redacted_before_it_is_serialised(secret):
    """A secret with a quote or backslash would be escaped in JSON text and slip past a text redaction."""
    stdout = io.StringIO()
    out = TaskOutput("ci", json_summary=True, stdout=stdout, stderr=io.StringIO())
    out.console([secret])
    out.finish(2, f"bad value {secret}")
    data = json.loads(stdout.getvalue())
    assert data == {"task": "ci", "ok": False, "exit_code": 2, "error": "bad value [REDACTED]"}
    assert json.dumps(secret)[1:-1] not in stdout.getvalue()


def test_without_json_nothing_extra_is_printed():
    stdout, stderr = io.StringIO(), io.StringIO()
    out = TaskOutput("builds", stdout=stdout, stderr=stderr)
    out.console().result("no CI builds")
    out.record(builds=[])
    out.fail("something")
    out.finish(2, "something")
    assert stdout.getvalue() == "no CI builds\n"
    assert stderr.getvalue() == "error: something\n"


def test_common_help_names_the_flags():
    assert set(COMMON_HELP) == {"quiet", "json"}
