"""Workspace objects behave the same on every backend: import rules, overwrite, errors, export, delete."""
from __future__ import annotations

import pytest

from bricktasks.backends.base import ObjectType
from bricktasks.errors import AlreadyExists, BackendError, Conflict, DirectoryNotEmpty, NotFound

HEADER = b"# Databricks notebook source\n"


def test_auto_py_with_header_is_a_notebook_without_extension(place, backend):
    backend.import_object(f"{place.workspace}/train.py", HEADER + b"print(1)\n")
    info = backend.get_status(f"{place.workspace}/train")
    assert (info.object_type, info.language) == (ObjectType.NOTEBOOK, "PYTHON")
    assert info.object_id
    with pytest.raises(NotFound):
        backend.get_status(f"{place.workspace}/train.py")


def test_auto_sql_with_its_header_is_a_sql_notebook(place, backend):
    backend.import_object(f"{place.workspace}/query.sql", b"-- Databricks notebook source\nselect 1\n")
    info = backend.get_status(f"{place.workspace}/query")
    assert (info.object_type, info.language) == (ObjectType.NOTEBOOK, "SQL")


@pytest.mark.parametrize("name, content", [("helper.py", b"print('no header')\n"), ("data.csv", b"a,b\n1,2\n")])
def test_auto_without_header_is_a_file_under_its_full_name(place, backend, name, content):
    backend.import_object(f"{place.workspace}/{name}", content)
    info = backend.get_status(f"{place.workspace}/{name}")
    assert info.object_type is ObjectType.FILE
    assert info.size == len(content)
    assert backend.export(f"{place.workspace}/{name}") == content


def test_source_import_keeps_the_path_as_given(place, backend):
    backend.import_object(f"{place.workspace}/plain", HEADER + b"x = 1\n", format="SOURCE", language="PYTHON")
    assert backend.get_status(f"{place.workspace}/plain").object_type is ObjectType.NOTEBOOK


@pytest.mark.parametrize("name, first, second", [
    ("nb.py", HEADER + b"v = 1\n", HEADER + b"v = 2\n"),
    ("data.csv", b"v,1\n", b"v,2\n"),
])
def test_overwrite_replaces_and_its_absence_refuses(place, backend, name, first, second):
    path = f"{place.workspace}/{name}"
    backend.import_object(path, first)
    with pytest.raises(AlreadyExists):
        backend.import_object(path, second)
    backend.import_object(path, second, overwrite=True)
    exported_path = path[:-3] if name.endswith(".py") else path
    assert backend.export(exported_path).replace(b"\r\n", b"\n").rstrip() == second.rstrip()


def test_import_into_a_missing_folder_is_not_found(place, backend):
    with pytest.raises(NotFound):
        backend.import_object(f"{place.workspace}/missing/deeper/data.csv", b"x")


def test_import_onto_a_folder_refuses(place, backend):
    backend.mkdirs(f"{place.workspace}/folder.csv")
    with pytest.raises(AlreadyExists):
        backend.import_object(f"{place.workspace}/folder.csv", b"x", overwrite=True)


def test_mkdirs_makes_parents_and_is_idempotent(place, backend):
    backend.mkdirs(f"{place.workspace}/a/b/c")
    backend.mkdirs(f"{place.workspace}/a/b/c")
    for path in ("a", "a/b", "a/b/c"):
        assert backend.get_status(f"{place.workspace}/{path}").object_type is ObjectType.DIRECTORY


def test_mkdirs_through_a_file_refuses(place, backend):
    backend.import_object(f"{place.workspace}/blocker.txt", b"x")
    with pytest.raises((AlreadyExists, Conflict)):
        backend.mkdirs(f"{place.workspace}/blocker.txt/below")


def test_export_round_trips_notebooks_and_binary_files(place, backend):
    source = HEADER + b"print('caf\xc3\xa9')\n\n# COMMAND ----------\n\nx = 2\n"
    binary = bytes(range(256)) * 64
    backend.import_object(f"{place.workspace}/roundtrip.py", source)
    backend.import_object(f"{place.workspace}/blob.bin", binary)
    assert backend.export(f"{place.workspace}/roundtrip").replace(b"\r\n", b"\n").rstrip() == source.rstrip()
    assert backend.export(f"{place.workspace}/blob.bin") == binary


def test_export_of_a_missing_object_is_not_found(place, backend):
    with pytest.raises(NotFound):
        backend.export(f"{place.workspace}/nothing.csv")


def test_list_names_direct_children_with_their_kinds(place, backend):
    folder = f"{place.workspace}/listing"
    backend.mkdirs(f"{folder}/sub/deeper")
    backend.import_object(f"{folder}/nb.py", HEADER + b"1\n")
    backend.import_object(f"{folder}/conf.json", b"{}")
    kinds = {info.path: info.object_type for info in backend.list(folder)}
    assert kinds == {f"{folder}/sub": ObjectType.DIRECTORY, f"{folder}/nb": ObjectType.NOTEBOOK, f"{folder}/conf.json": ObjectType.FILE}
    assert backend.list(f"{folder}/sub/deeper") == []


def test_list_and_get_status_of_missing_paths_are_not_found(place, backend):
    with pytest.raises(NotFound):
        backend.list(f"{place.workspace}/absent")
    with pytest.raises(NotFound):
        backend.get_status(f"{place.workspace}/absent")


def test_delete_objects_and_folders(place, backend):
    folder = f"{place.workspace}/trash"
    backend.mkdirs(f"{folder}/inner")
    backend.import_object(f"{folder}/inner/nb.py", HEADER + b"1\n")
    backend.import_object(f"{folder}/file.txt", b"x")
    backend.delete(f"{folder}/file.txt")
    with pytest.raises(NotFound):
        backend.get_status(f"{folder}/file.txt")
    with pytest.raises(DirectoryNotEmpty):
        backend.delete(folder)
    backend.delete(folder, recursive=True)
    with pytest.raises(NotFound):
        backend.get_status(folder)
    with pytest.raises(NotFound):
        backend.delete(folder)


def test_an_empty_folder_deletes_without_recursive(place, backend):
    backend.mkdirs(f"{place.workspace}/empty")
    backend.delete(f"{place.workspace}/empty")
    with pytest.raises(NotFound):
        backend.get_status(f"{place.workspace}/empty")


def test_errors_are_the_projects_types(place, backend):
    with pytest.raises(BackendError):
        backend.delete(f"{place.workspace}/never/there")
