"""Unity Catalog volumes with the real SDK's high-level calls: catalogs, schemas, volumes, and the Files API in them.

Against the emulator always; against a real workspace (`-m live`) when DATABRICKS_HOST is set and
BRICKTASKS_CONTRACT_SCHEMA names a `catalog.schema` the tests may create (and delete) volumes in.
What only a fresh workspace shows (main.default, catalog create/delete) runs on the emulator only.
"""
from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import BadRequest, NotFound, ResourceConflict
from databricks.sdk.service.catalog import VolumeType

from bricktasks.testing.emulator import start_emulator, workspace_client

TOKEN = "volumes-token"


@dataclass
class Place:
    w: WorkspaceClient
    catalog: str
    schema: str
    emulated: bool


@pytest.fixture(params=["emulator", pytest.param("live", marks=pytest.mark.live)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    if request.param == "live":
        if not os.environ.get("DATABRICKS_HOST") or not os.environ.get("BRICKTASKS_CONTRACT_SCHEMA"):
            pytest.skip("live volume tests need DATABRICKS_HOST and BRICKTASKS_CONTRACT_SCHEMA=<catalog>.<schema>")
        catalog, schema = os.environ["BRICKTASKS_CONTRACT_SCHEMA"].split(".", 1)
        yield Place(WorkspaceClient(), catalog, schema, emulated=False)
        return
    with start_emulator(tmp_path / "root", token=TOKEN) as emulator:
        yield Place(workspace_client(emulator.url, TOKEN), "main", "default", emulated=True)


def test_a_fresh_workspace_has_the_catalog_main_with_the_schema_default(place):
    if not place.emulated:
        pytest.skip("a real workspace is not fresh")
    w = place.w
    assert [c.name for c in w.catalogs.list()] == ["main"]
    assert [(s.name, s.full_name, s.catalog_name) for s in w.schemas.list(catalog_name="main")] == [("default", "main.default", "main")]
    assert list(w.volumes.list(catalog_name="main", schema_name="default")) == []
    assert w.catalogs.get("main").catalog_type.value == "MANAGED_CATALOG"


def test_a_volume_holds_files_only_once_created_and_its_files_go_with_it(place):
    w, name = place.w, f"contract_{uuid.uuid4().hex[:8]}"
    full, root = f"{place.catalog}.{place.schema}.{name}", f"/Volumes/{place.catalog}/{place.schema}/{name}"
    with pytest.raises(NotFound, match="does not exist"):
        w.files.upload(f"{root}/data.csv", io.BytesIO(b"a,b\n"))
    with pytest.raises(NotFound):
        w.files.download(f"{root}/data.csv")
    with pytest.raises(NotFound):
        w.volumes.read(full)

    created = w.volumes.create(place.catalog, place.schema, name.upper(), VolumeType.MANAGED, comment="contract")
    try:
        assert (created.full_name, created.name, created.volume_type, created.comment) == (full, name, VolumeType.MANAGED, "contract")
        assert created.volume_id and created.owner and created.storage_location
        assert w.volumes.read(full).volume_id == created.volume_id
        assert full in [v.full_name for v in w.volumes.list(catalog_name=place.catalog, schema_name=place.schema)]
        with pytest.raises(ResourceConflict):
            w.volumes.create(place.catalog, place.schema, name, VolumeType.MANAGED)

        w.files.upload(f"{root}/in/data.csv", io.BytesIO(b"a,b\n1,2\n"))
        assert w.files.download(f"{root}/in/data.csv").contents.read() == b"a,b\n1,2\n"
        assert [(e.path, e.is_directory) for e in w.files.list_directory_contents(root)] == [(f"{root}/in", True)]
        w.files.delete(f"{root}/in/data.csv")
        with pytest.raises(NotFound):
            w.files.download(f"{root}/in/data.csv")
        w.files.upload(f"{root}/kept.txt", io.BytesIO(b"x"))
    finally:
        w.volumes.delete(full)
    with pytest.raises(NotFound, match=f"Volume '{full}' does not exist"):
        w.volumes.read(full)
    with pytest.raises(NotFound):
        w.files.download(f"{root}/kept.txt")  # a managed volume's files are deleted with it


def test_catalogs_and_schemas_create_refuse_to_delete_when_not_empty_and_force(place):
    if not place.emulated:
        pytest.skip("creating catalogs needs metastore rights a contract workspace may not grant")
    w = place.w
    assert w.catalogs.create("Sales", comment="team").name == "sales"  # stored in lower case, as Unity Catalog does
    schema = w.schemas.create("raw", "sales")
    assert (schema.full_name, schema.catalog_name) == ("sales.raw", "sales")
    w.volumes.create("sales", "raw", "landing", VolumeType.MANAGED)
    with pytest.raises(BadRequest, match="not empty"):
        w.schemas.delete("sales.raw")
    with pytest.raises(BadRequest, match="not empty"):
        w.catalogs.delete("sales")
    with pytest.raises(ResourceConflict):
        w.schemas.create("raw", "sales")
    with pytest.raises(NotFound, match="Catalog 'nope' does not exist"):
        w.schemas.create("raw", "nope")
    w.catalogs.delete("sales", force=True)
    assert [c.name for c in w.catalogs.list()] == ["main"]
    with pytest.raises(NotFound, match="Catalog 'sales' does not exist"):
        w.volumes.read("sales.raw.landing")
    with pytest.raises(NotFound, match="Schema 'main.nope' does not exist"):
        list(w.volumes.list(catalog_name="main", schema_name="nope"))
