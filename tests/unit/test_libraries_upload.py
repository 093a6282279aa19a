"""Uploading built libraries into DBFS, a Unity Catalog volume or a workspace folder of a real local
backend; the newest upload per library; how a cluster names and attaches an upload."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bricktasks.errors import NotFound, UserInputError
from bricktasks.libraries.upload import (
    WORKSPACE_FILE_LIMIT,
    UploadedLibrary,
    cluster_path,
    library_spec,
    newest_libraries,
    require_volume,
    upload_libraries,
)


@pytest.fixture
def artifacts(tmp_path: Path) -> list[Path]:
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = dist / "tinylib-0.3.1.dev17+bi.7-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes " * 100)
    egg = dist / "otherlib-1.0-py3.11.egg"
    egg.write_bytes(b"egg bytes")
    return [wheel, egg]


@pytest.mark.parametrize(
    "destination",
    ["dbfs:/libraries/BI-7", "/Volumes/main/ml/libs/BI-7", "/Projects/forecasting/libraries/BI-7"],
)
def test_libraries_go_into_the_destination(backend, recording, artifacts, destination):
    uploaded = upload_libraries(backend, artifacts, destination, console=recording.console)
    wheel, egg = artifacts
    assert uploaded == [
        UploadedLibrary(wheel, f"{destination}/{wheel.name}", skipped=False),
        UploadedLibrary(egg, f"{destination}/{egg.name}", skipped=False),
    ]
    assert backend.read_file(f"{destination}/{wheel.name}") == wheel.read_bytes()
    assert backend.read_file(f"{destination}/{egg.name}") == b"egg bytes"
    assert sorted(info.path for info in backend.list_files(destination)) == sorted(library.remote for library in uploaded)
    assert recording.lines == [
        f"uploaded {wheel.name} (1,200 bytes) -> {destination}/{wheel.name}",
        f"uploaded {egg.name} (9 bytes) -> {destination}/{egg.name}",
    ]


def test_where_each_kind_of_path_lands_on_disk(backend, console, artifacts):
    wheel = artifacts[0]
    upload_libraries(backend, [wheel], "dbfs:/libraries/BI-7", console=console)
    upload_libraries(backend, [wheel], "/Volumes/main/ml/libs/BI-7", console=console)
    upload_libraries(backend, [wheel], "/Projects/forecasting/libraries/BI-7", console=console)
    root = backend.root
    assert (root / "dbfs" / "libraries" / "BI-7" / wheel.name).read_bytes() == wheel.read_bytes()
    assert (root / "volumes" / "main" / "ml" / "libs" / "BI-7" / wheel.name).is_file()
    assert (root / "workspace" / "Projects" / "forecasting" / "libraries" / "BI-7" / wheel.name).is_file()


def test_an_identical_library_is_skipped_and_a_changed_one_sent_again(backend, recording, artifacts):
    destination = "dbfs:/libraries/BI-7"
    wheel, egg = artifacts
    upload_libraries(backend, artifacts, destination, console=recording.console)
    remote = backend.paths.file_path(f"{destination}/{wheel.name}")
    os.utime(remote, (1_000_000, 1_000_000))  # the first upload's copy, marked
    egg.write_bytes(b"egg bytes, rebuilt")  # same name, other size: another build

    again = upload_libraries(backend, artifacts, destination, console=recording.console)

    assert [library.skipped for library in again] == [True, False]
    assert remote.stat().st_mtime == 1_000_000  # not rewritten
    assert backend.read_file(f"{destination}/{egg.name}") == b"egg bytes, rebuilt"
    assert recording.lines[2:] == [
        f"unchanged {destination}/{wheel.name}",
        f"uploaded {egg.name} (18 bytes) -> {destination}/{egg.name}",
    ]


def test_a_dry_run_sends_nothing(backend, recording, artifacts):
    wheel, egg = artifacts
    uploaded = upload_libraries(backend, artifacts, "dbfs:/libraries/BI-7", console=recording.console, dry_run=True)
    assert [library.skipped for library in uploaded] == [False, False]
    assert recording.lines == [
        f"would upload {wheel.name} (1,200 bytes) -> dbfs:/libraries/BI-7/{wheel.name}",
        f"would upload {egg.name} (9 bytes) -> dbfs:/libraries/BI-7/{egg.name}",
    ]
    with pytest.raises(NotFound):
        backend.list_files("dbfs:/libraries")


def test_a_library_over_10_mb_is_refused_for_a_workspace_folder_before_anything_is_sent(backend, recording, artifacts, tmp_path):
    big = tmp_path / "dist" / "biglib-1.0-py3-none-any.whl"
    with open(big, "wb") as handle:
        handle.truncate(WORKSPACE_FILE_LIMIT + 1)  # sparse: no 10 MB written
    destination = "/Projects/forecasting/libraries/BI-7"
    with pytest.raises(UserInputError) as refused:
        upload_libraries(backend, [*artifacts, big], destination, console=recording.console)
    assert str(refused.value) == (
        f"biglib-1.0-py3-none-any.whl is 10.0 MB and {destination} is a workspace folder, which takes files of at most 10 MB"
    )
    assert "/Volumes/<catalog>/<schema>/<volume>" in refused.value.hint
    with pytest.raises(NotFound):
        backend.list_files("/Projects/forecasting/libraries")  # not even the small ones listed first went up
    assert recording.lines == []


def test_exactly_10_mb_is_accepted_and_a_volume_takes_more(backend, console, tmp_path):
    limit = tmp_path / "limitlib-1.0-py3-none-any.whl"
    with open(limit, "wb") as handle:
        handle.truncate(WORKSPACE_FILE_LIMIT)
    [uploaded] = upload_libraries(backend, [limit], "/Projects/forecasting/libraries/BI-7", console=console)
    assert backend.file_status(uploaded.remote).size == WORKSPACE_FILE_LIMIT
    bigger = tmp_path / "biglib-1.0-py3-none-any.whl"
    with open(bigger, "wb") as handle:
        handle.truncate(WORKSPACE_FILE_LIMIT + 1)
    [on_volume] = upload_libraries(backend, [bigger], "/Volumes/main/ml/libs/BI-7", console=console)
    assert backend.file_status(on_volume.remote).size == WORKSPACE_FILE_LIMIT + 1


# ---- newest_libraries ---------------------------------------------------------------------


def test_the_newest_upload_of_each_library(backend, tmp_path):
    folder = "dbfs:/libraries/BI-7"
    assert newest_libraries(backend, folder) == []  # no folder yet
    source = tmp_path / "any"
    source.write_bytes(b"x")
    uploads = {
        "tinylib-0.3.1.dev0+b20260101t000000-py3-none-any.whl": 1_000,
        "tinylib-0.3.1.dev0+b20260301t000000-py3-none-any.whl": 3_000,  # the newest tinylib
        "tinylib-0.3.1.dev0+b20260201t000000-py3-none-any.whl": 2_000,
        "otherlib-1.0-py3.11.egg": 1_500,
        "README.txt": 9_000,  # not a library
    }
    for name, mtime in uploads.items():
        backend.upload_file(f"{folder}/{name}", source)
        os.utime(backend.paths.file_path(f"{folder}/{name}"), (mtime, mtime))
    backend.mkdirs_files(f"{folder}/zzz-9.whl")  # a folder with a library's name is none
    assert newest_libraries(backend, folder) == [
        f"{folder}/otherlib-1.0-py3.11.egg",
        f"{folder}/tinylib-0.3.1.dev0+b20260301t000000-py3-none-any.whl",
    ]


def test_no_library_in_an_existing_folder(backend, tmp_path):
    backend.mkdirs_files("/Volumes/main/ml/libs/BI-7")
    assert newest_libraries(backend, "/Volumes/main/ml/libs/BI-7") == []


# ---- cluster_path and library_spec --------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "on_cluster"),
    [
        ("/Projects/forecasting/libraries/a-1-py3-none-any.whl", "/Workspace/Projects/forecasting/libraries/a-1-py3-none-any.whl"),
        ("/Workspace/Projects/f/a-1-py3-none-any.whl", "/Workspace/Projects/f/a-1-py3-none-any.whl"),  # not doubled
        ("dbfs:/libraries/a-1-py3-none-any.whl", "dbfs:/libraries/a-1-py3-none-any.whl"),
        ("/Volumes/main/ml/libs/a-1-py3-none-any.whl", "/Volumes/main/ml/libs/a-1-py3-none-any.whl"),
    ],
)
def test_cluster_path(remote, on_cluster):
    assert cluster_path(remote) == on_cluster


def test_library_spec_by_kind():
    assert library_spec("/Projects/f/libraries/a-1-py3-none-any.whl") == {"whl": "/Workspace/Projects/f/libraries/a-1-py3-none-any.whl"}
    assert library_spec("dbfs:/libraries/b-2-py3.11.egg") == {"egg": "dbfs:/libraries/b-2-py3.11.egg"}
    assert library_spec("/Volumes/c/s/v/c-3.whl") == {"whl": "/Volumes/c/s/v/c-3.whl"}


def test_a_path_of_no_known_kind_is_an_error():
    with pytest.raises(ValueError, match="is not a dbfs:/, /Volumes/ or workspace path"):
        cluster_path("libraries/a-1.whl")


# -- a Volume that does not exist -------------------------------------------------------------
def test_a_missing_volume_is_one_line_exit_2_with_the_command_and_nothing_is_written(tmp_path, console, artifacts):
    from bricktasks.testing.emulator import databricks_backend, start_emulator

    with start_emulator(tmp_path / "emulated", token="upload-token") as emulator:
        backend = databricks_backend(emulator.url, "upload-token")
        emulator.backend.catalog.children()  # the fresh workspace's main.default exist before the snapshot
        before = sorted(str(path) for path in (emulator.root / "volumes").rglob("*"))
        with pytest.raises(UserInputError) as refused:
            upload_libraries(backend, artifacts, "/Volumes/main/ml/libs/BI-7", console=console)
        line = refused.value.one_line()
        assert refused.value.exit_code == 2 and "\n" not in line
        assert "is in the volume main.ml.libs, which does not exist" in line and "Schema 'main.ml' does not exist" in line
        assert "databricks volumes create main ml libs MANAGED" in line and "databricks schemas create ml main" in line
        assert sorted(str(path) for path in (emulator.root / "volumes").rglob("*")) == before

        emulator.backend.catalog.create("schema", ("main", "ml"), {})
        with pytest.raises(UserInputError, match=r"Volume 'main\.ml\.libs' does not exist"):
            require_volume(backend, "/Volumes/main/ml/libs/CI/7-main")
        emulator.backend.catalog.create("volume", ("main", "ml", "libs"), {})
        require_volume(backend, "/Volumes/main/ml/libs/CI/7-main")  # exists: nothing to say
        [wheel, _] = upload_libraries(backend, artifacts, "/Volumes/main/ml/libs/BI-7", console=console)
        assert emulator.backend.read_file(wheel.remote) == artifacts[0].read_bytes()


def test_the_local_backend_and_other_destinations_need_no_volume(backend):
    for destination in ("/Volumes/main/ml/libs/BI-7", "dbfs:/libraries", "/Projects/forecasting/libraries"):
        require_volume(backend, destination)  # a local root's volumes are folders its writes make
