"""RuntimeContext: path mapping, notebook lookup with overrides, the private JSON file."""
from __future__ import annotations

import dataclasses
import io
import stat
from pathlib import Path

import pytest

from bricktasks.runtime import RuntimeContext, RuntimePathError
from bricktasks.runtime.context import read_secrets
from bricktasks.runtime.paths import resolve_notebook_path


@pytest.fixture
def ctx(tmp_path: Path) -> RuntimeContext:
    return RuntimeContext(local_root=tmp_path / "root", run_dir=tmp_path / "run")


@pytest.mark.parametrize(
    "path, local",
    [
        ("dbfs:/x/y.csv", "dbfs/x/y.csv"),
        ("dbfs:/", "dbfs"),
        ("/dbfs/x/y.csv", "dbfs/x/y.csv"),
        ("/dbfs", "dbfs"),
        ("/Volumes/cat/schema/vol/x/y", "volumes/cat/schema/vol/x/y"),
    ],
)
def test_to_local_path_maps_dbfs_and_volumes(ctx: RuntimeContext, path: str, local: str) -> None:
    assert ctx.to_local_path(path) == ctx.local_root / local


@pytest.mark.parametrize("path", ["/Projects/x", "s3://bucket/x", "relative/x", "/tmp/x", "/Volumesx/a"])
def test_to_local_path_refuses_other_paths(ctx: RuntimeContext, path: str) -> None:
    with pytest.raises(RuntimePathError, match="not a DBFS or Volumes path") as caught:
        ctx.to_local_path(path)
    assert "/Volumes/<catalog>" in caught.value.one_line()  # says what would work


@pytest.mark.parametrize("path", ["dbfs:/a/../../etc/passwd", "/Volumes/c/s/v/./x", "/dbfs/.."])
def test_to_local_path_refuses_dot_parts(ctx: RuntimeContext, path: str) -> None:
    with pytest.raises(RuntimePathError, match=r"'\.' or '\.\.'"):
        ctx.to_local_path(path)


def test_workspace_files_with_and_without_the_workspace_prefix(ctx: RuntimeContext) -> None:
    expected = ctx.local_root / "workspace" / "Projects" / "x" / "lib.whl"
    assert ctx.workspace_file("/Projects/x/lib.whl") == expected
    assert ctx.workspace_file("/Workspace/Projects/x/lib.whl") == expected


@pytest.mark.parametrize(
    "current, target, resolved",
    [
        ("/Projects/f/BI-1/ModelTraining", "./set_environment", "/Projects/f/BI-1/set_environment"),
        ("/Projects/f/BI-1/set_environment", "./conf/ci_config", "/Projects/f/BI-1/conf/ci_config"),
        ("/Projects/f/BI-1/conf/ci_config", "./production_config", "/Projects/f/BI-1/conf/production_config"),
        ("/Projects/f/BI-1/conf/ci_config", "../set_environment", "/Projects/f/BI-1/set_environment"),
        ("/Projects/f/BI-1/ModelTraining", "PrepareData", "/Projects/f/BI-1/PrepareData"),
        ("/Projects/f/BI-1/ModelTraining", "/Projects/f/master/conf/x", "/Projects/f/master/conf/x"),
        ("/Projects/f/BI-1/ModelTraining", "/Workspace/Projects/f/x", "/Projects/f/x"),
        ("/Projects/f/BI-1/ModelTraining", '"./with space"', "/Projects/f/BI-1/with space"),
    ],
)
def test_notebook_paths_resolve_like_databricks(current: str, target: str, resolved: str) -> None:
    assert resolve_notebook_path(current, target) == resolved


def test_overrides_win_over_files_and_are_keyed_by_normal_paths(ctx: RuntimeContext, tmp_path: Path) -> None:
    file = ctx.local_root / "workspace" / "Projects" / "p" / "set_environment.py"
    file.parent.mkdir(parents=True)
    file.write_text("# Databricks notebook source\n# MAGIC %run ./conf/production_config\n")
    assert "production_config" in (ctx.notebook_source("/Projects/p/set_environment") or "")
    override = "# Databricks notebook source\n%run ./conf/ci_config\n"
    with_override = RuntimeContext(
        local_root=ctx.local_root, run_dir=ctx.run_dir, overrides={"/Workspace/Projects/p/set_environment": override}
    )
    assert with_override.notebook_source("/Projects/p/set_environment") == override
    assert with_override.notebook_source("/Projects/p/missing") is None


def test_json_round_trip_is_private_and_keeps_every_field_but_the_secrets(ctx: RuntimeContext, tmp_path: Path) -> None:
    full = RuntimeContext(
        local_root=ctx.local_root,
        run_dir=ctx.run_dir,
        parameters={"n": "3"},
        overrides={"/Projects/p/set_environment": "# Databricks notebook source\n"},
        libraries=["/tmp/a.whl"],
        secrets={"scope": {"key": "s3cr3t"}},
        spark_master="local[1]",
    )
    file = tmp_path / "context.json"
    full.to_json(file)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert RuntimeContext.from_json(file) == dataclasses.replace(full, secrets={})
    assert "s3cr3t" not in file.read_text()  # the secrets travel on the runtime's stdin, never in a file
    assert "s3cr3t" not in repr(full)


def test_secrets_written_into_a_context_file_by_hand_are_not_read(tmp_path: Path) -> None:
    file = tmp_path / "context.json"
    file.write_text('{"local_root": "/r", "run_dir": "/r/runs/2", "secrets": {"s": {"k": "v"}}}')
    assert RuntimeContext.from_json(file).secrets == {}


@pytest.mark.parametrize(
    "sent, expected",
    [(b'{"ml": {"api": "v", "k__2": "w"}}', {"ml": {"api": "v", "k__2": "w"}}), (b"{}", {})],
)
def test_read_secrets_takes_a_json_object_of_scopes(sent: bytes, expected: dict) -> None:
    assert read_secrets(io.BytesIO(sent)) == expected


@pytest.mark.parametrize("sent", [b"", b"{", b"null", b'{"ml": ["v"]}', b'{"ml": {"api": null}}', b"\xff"])
def test_read_secrets_refuses_what_did_not_arrive_whole(sent: bytes) -> None:
    with pytest.raises(ValueError):
        read_secrets(io.BytesIO(sent))


def test_the_supervisors_context_file_reads_with_defaults(tmp_path: Path) -> None:
    # what bricktasks.backends.local_supervisor writes: no spark_master
    file = tmp_path / "context.json"
    file.write_text('{"local_root": "/r", "run_dir": "/r/runs/2", "parameters": {}, "overrides": {}, "libraries": [], "secrets": {}}')
    ctx = RuntimeContext.from_json(file)
    assert ctx.spark_master == "local[2]" and ctx.run_dir == Path("/r/runs/2") and ctx.libraries == ()
