"""Workspace layout: branch folder mapping, reserved names, library roots."""
from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bricktasks.errors import UserInputError
from bricktasks.layout import ProjectLayout, branch_folder, is_within, validate_build_id

LAYOUT = ProjectLayout("/Projects/forecasting", "/Projects/forecasting/libraries")


def test_article_layout():
    assert LAYOUT.master == "/Projects/forecasting/master"
    assert LAYOUT.branch("BI-5613") == "/Projects/forecasting/BI-5613"
    assert LAYOUT.ci_build("49", "master") == "/Projects/forecasting/CI/49-master"
    assert LAYOUT.master_libraries == "/Projects/forecasting/libraries"
    assert LAYOUT.branch_libraries("BI-5613") == "/Projects/forecasting/libraries/BI-5613"
    assert LAYOUT.ci_libraries("37", "BI-5613") == "/Projects/forecasting/libraries/CI/37-BI-5613"


def test_slash_maps_to_double_underscore():
    assert branch_folder("feature/x") == "feature__x"
    assert LAYOUT.branch("feature/new-model") == "/Projects/forecasting/feature__new-model"


@pytest.mark.parametrize(
    "name",
    ["", " ", "..", ".", "../master", "a/../b", "a//b", "a/", "/a", "x\ty", "x\x00y", "x\ny", "a" * 101,
     "with space", "semi;colon", "a__b", "CI", "ci", "libraries", "experiments", "Experiments", ".hidden", "a/.b", "ümlaut", "a:b", "a*b"],
)
def test_unsafe_branch_names_are_refused(name):
    with pytest.raises(UserInputError) as caught:
        branch_folder(name)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("build_id", ["", "..", "a/b", "x" * 65, "a b", "1;rm"])
def test_unsafe_build_ids_are_refused(build_id):
    with pytest.raises(UserInputError):
        validate_build_id(build_id)


@pytest.mark.parametrize(
    "library_root",
    ["dbfs:/libraries", "dbfs:/team/libs", "/Volumes/ml/forecasting/libs", "/Volumes/ml/forecasting/libs/x",
     "/Projects/forecasting/libraries", "/Projects/forecasting/libraries/team", "/Projects/forecasting/Libraries"],
)
def test_allowed_library_roots(library_root):
    assert ProjectLayout("/Projects/forecasting", library_root).library_root == library_root


@pytest.mark.parametrize(
    "library_root",
    ["dbfs:/", "/Volumes/ml/forecasting", "/Shared/libs", "/Projects/forecasting", "/Projects/forecasting/master/libs",
     "/Projects/forecasting/CI/libs", "/Projects/forecasting/../other", "relative/libs", "/Projects/forecastingX/libs",
     # every other folder of the project may be a branch's: checkout --prune there deletes the libraries
     "/Projects/forecasting/libs", "/Projects/forecasting/BI-1", "/Projects/forecasting/BI-1/libs",
     "/Projects/forecasting/ci/libs", "/Projects/forecasting/experiments", "/Projects/forecasting//libraries",
     "/Projects/forecasting/libraries\n", "dbfs:/x\x00y"],
)
def test_library_roots_outside_the_allowed_places_are_refused(library_root):
    with pytest.raises(UserInputError):
        ProjectLayout("/Projects/forecasting", library_root)


segment = st.text(alphabet=st.sampled_from("abcXYZ019._+-/_"), min_size=1, max_size=30)


@given(segment)
def test_branch_folder_never_escapes_the_root(name):
    try:
        folder = branch_folder(name)
    except UserInputError:
        return
    path = posixpath.normpath(f"/Projects/forecasting/{folder}")
    assert is_within(path, "/Projects/forecasting") and path != "/Projects/forecasting"
    assert "/" not in folder and folder not in ("master", "main", "CI")


@given(segment, segment)
def test_branch_folder_is_injective_on_valid_names(first, second):
    try:
        a, b = branch_folder(first), branch_folder(second)
    except UserInputError:
        return
    assert (a == b) == (first == second)
