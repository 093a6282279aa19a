"""Files on DBFS, Volumes and the workspace behave the same on every backend."""
from __future__ import annotations

import os
import uuid

import pytest

from bricktasks.errors import AlreadyExists, DirectoryNotEmpty, NotFound

BIG = 2 * 1024 * 1024 + 12345  # more than one DBFS block and one read


@pytest.fixture(params=["dbfs", "volumes", "workspace"])
def folder(request, place) -> str:
    """A fresh folder path (not yet created) on one of the file systems."""
    return f"{place.root_of(request.param)}/files-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def local_file(tmp_path):
    def make(content: bytes, name: str = "payload.bin"):
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return make


def test_upload_read_and_status(backend, folder, local_file):
    backend.upload_file(f"{folder}/small.txt", local_file(b"hello\n"))  # parents are created
    assert backend.read_file(f"{folder}/small.txt") == b"hello\n"
    status = backend.file_status(f"{folder}/small.txt")
    assert (status.is_dir, status.size) == (False, 6)
    assert backend.file_status(folder).is_dir


def test_a_file_larger_than_one_megabyte_round_trips(backend, folder, local_file):
    content = os.urandom(BIG)
    backend.upload_file(f"{folder}/big.bin", local_file(content))
    assert backend.file_status(f"{folder}/big.bin").size == BIG
    assert backend.read_file(f"{folder}/big.bin") == content


def test_upload_refuses_an_existing_file_unless_overwrite(backend, folder, local_file):
    backend.upload_file(f"{folder}/lib.whl", local_file(b"one"))
    with pytest.raises(AlreadyExists):
        backend.upload_file(f"{folder}/lib.whl", local_file(b"two"))
    assert backend.read_file(f"{folder}/lib.whl") == b"one"
    backend.upload_file(f"{folder}/lib.whl", local_file(b"three"), overwrite=True)
    assert backend.read_file(f"{folder}/lib.whl") == b"three"


def test_missing_files_are_not_found(backend, folder):
    for action in (backend.read_file, backend.file_status, backend.list_files, backend.delete_file):
        with pytest.raises(NotFound):
            action(f"{folder}/absent.bin")


def test_list_names_children_and_a_file_lists_itself(backend, folder, local_file):
    backend.upload_file(f"{folder}/a.txt", local_file(b"a"))
    backend.upload_file(f"{folder}/sub/b.txt", local_file(b"bb"))
    listed = {(info.path, info.is_dir) for info in backend.list_files(folder)}
    assert listed == {(f"{folder}/a.txt", False), (f"{folder}/sub", True)}
    [itself] = backend.list_files(f"{folder}/a.txt")
    assert (itself.path, itself.size) == (f"{folder}/a.txt", 1)


def test_mkdirs_makes_parents(backend, folder):
    backend.mkdirs_files(f"{folder}/x/y")
    backend.mkdirs_files(f"{folder}/x/y")
    assert backend.file_status(f"{folder}/x/y").is_dir
    assert backend.list_files(f"{folder}/x/y") == []


def test_move_publishes_under_the_final_name(backend, folder, local_file):
    backend.upload_file(f"{folder}/lib.whl.partial", local_file(b"wheel"))
    backend.move_file(f"{folder}/lib.whl.partial", f"{folder}/lib.whl")
    assert backend.read_file(f"{folder}/lib.whl") == b"wheel"
    with pytest.raises(NotFound):
        backend.file_status(f"{folder}/lib.whl.partial")


def test_move_refuses_an_existing_destination_unless_overwrite(backend, folder, local_file):
    backend.upload_file(f"{folder}/new", local_file(b"new"))
    backend.upload_file(f"{folder}/old", local_file(b"old"))
    with pytest.raises(AlreadyExists):
        backend.move_file(f"{folder}/new", f"{folder}/old")
    backend.move_file(f"{folder}/new", f"{folder}/old", overwrite=True)
    assert backend.read_file(f"{folder}/old") == b"new"
    with pytest.raises(NotFound):
        backend.move_file(f"{folder}/new", f"{folder}/elsewhere")


def test_delete_files_and_folders(backend, folder, local_file):
    backend.upload_file(f"{folder}/keep/inner.txt", local_file(b"x"))
    backend.upload_file(f"{folder}/gone.txt", local_file(b"x"))
    backend.delete_file(f"{folder}/gone.txt")
    with pytest.raises(NotFound):
        backend.file_status(f"{folder}/gone.txt")
    with pytest.raises(DirectoryNotEmpty):
        backend.delete_file(f"{folder}/keep")
    backend.delete_file(folder, recursive=True)
    with pytest.raises(NotFound):
        backend.file_status(folder)


def test_an_empty_folder_deletes_without_recursive(backend, folder):
    backend.mkdirs_files(f"{folder}/empty")
    backend.delete_file(f"{folder}/empty")
    with pytest.raises(NotFound):
        backend.file_status(f"{folder}/empty")
