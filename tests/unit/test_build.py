"""Tests for bricktasks.libraries.build: real wheel and egg builds of a throwaway library, version stamping, egg refusals."""
from __future__ import annotations

import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from bricktasks.buildinfo import BuildInfo
from bricktasks.errors import BricktasksError, ConfigError, UserInputError
from bricktasks.libraries.build import (
    LIB_VERSION_ENV,
    Artifact,
    BuildError,
    build_egg,
    build_eggs,
    build_wheel,
    build_wheels,
    check_egg_python,
    check_egg_supported,
    clean_build_leftovers,
    find_libraries,
    library_base_version,
    runtime_major,
    stamp_version,
    version_env_var,
)

SHA = "abc1234def5678abc1234def5678abc1234def56"
RUNNING_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
STAMPED = "0.4.0.dev12+bi.5613.gabc1234"

# The convention every library under libs/ follows: the version comes from the environment.
SETUP_PY = """\
import os
from setuptools import setup

setup(
    name="toy-lib",
    version=os.environ.get("TOY_LIB_VERSION") or os.environ.get("BRICKTASKS_LIB_VERSION") or "0.4.0",
    packages=["toy_lib"],
)
"""


def make_library(libs: Path, name: str = "toy_lib", setup_py: str = SETUP_PY) -> Path:
    """A tiny library with one module, built the way libs/regimecast is."""
    library = libs / name
    (library / "toy_lib").mkdir(parents=True)
    (library / "toy_lib" / "__init__.py").write_text("ANSWER = 42\n")
    (library / "setup.py").write_text(setup_py)
    return library


@pytest.fixture
def libs(tmp_path: Path) -> Path:
    path = tmp_path / "libs"
    make_library(path)
    return path


def build(build_id: str = "12", branch: str = "BI-5613", commit: str | None = SHA) -> BuildInfo:
    return BuildInfo(build_id=build_id, branch=branch, commit=commit, ci_system="azure-pipelines")


# ---- finding libraries --------------------------------------------------------------------


def test_find_libraries(tmp_path: Path) -> None:
    libs = tmp_path / "libs"
    make_library(libs, "zeta")
    (libs / "alpha").mkdir()
    (libs / "alpha" / "pyproject.toml").write_text("[project]\nname = 'alpha'\n")
    (libs / "notes").mkdir()  # no packaging file: not a library
    (libs / ".cache").mkdir()
    (libs / ".cache" / "setup.py").write_text("")
    (libs / "setup.py").write_text("")  # a file, not a folder
    assert find_libraries(libs) == [libs / "alpha", libs / "zeta"]
    assert find_libraries(libs / "notes") == []


def test_find_libraries_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        find_libraries(tmp_path / "nope")
    assert "BRICKTASKS_LIBS_DIR" in (info.value.hint or "")


def test_version_env_var() -> None:
    assert version_env_var("regimecast") == "REGIMECAST_VERSION"
    assert version_env_var("toy-lib.v2") == "TOY_LIB_V2_VERSION"


# ---- version stamping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "info, release, expected",
    [
        (build("12"), False, "0.4.0.dev12+bi.5613.gabc1234"),
        (build("12", "feature/BI-5613"), False, "0.4.0.dev12+feature.bi.5613.gabc1234"),
        (build("123-2", "main"), False, "0.4.0.dev0+123.2.main.gabc1234"),
        (build("local-20261128t163000", "feature/x"), False, "0.4.0.dev0+local.20261128t163000.feature.x.gabc1234"),
        (build("12", commit=None), False, "0.4.0.dev12+bi.5613"),
        (build("12", "release/007"), False, "0.4.0.dev12+release.7.gabc1234"),
        (build("12", "master"), True, "0.4.0+gabc1234"),
        (build("12", "master", commit=None), True, "0.4.0"),
    ],
)
def test_stamp_version_examples(info: BuildInfo, release: bool, expected: str) -> None:
    assert stamp_version("0.4.0", info, release=release) == expected


def test_lossy_build_ids_get_a_hash_so_they_stay_distinct() -> None:
    upper = stamp_version("0.4.0", build("Build_1"))
    lower = stamp_version("0.4.0", build("build-1"))
    assert lower == "0.4.0.dev0+build.1.bi.5613.gabc1234"
    assert upper.startswith("0.4.0.dev0+build.1.x") and upper != lower


def test_stamp_version_normalises_the_base() -> None:
    assert stamp_version("0.4", build("5")) == "0.4.dev5+bi.5613.gabc1234"
    assert stamp_version("1.0rc1", build("5")) == "1.0rc1.dev5+bi.5613.gabc1234"


@pytest.mark.parametrize("base", ["not a version", "0.4.0.dev3", "0.4.0+local", ""])
def test_stamp_version_refuses_bad_bases(base: str) -> None:
    with pytest.raises(ConfigError):
        stamp_version(base, build())


def test_stamp_version_refuses_a_commit_that_is_not_a_sha() -> None:
    with pytest.raises(UserInputError, match="not a git SHA"):
        stamp_version("0.4.0", build(commit="HEAD"))


build_ids = st.from_regex(r"\A[A-Za-z0-9._-]{1,64}\Z").filter(lambda value: value not in (".", ".."))
branches = st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), min_size=1, max_size=100)
commits = st.none() | st.from_regex(r"\A[0-9a-f]{40}\Z")


@settings(max_examples=300, deadline=None)
@given(build_id=build_ids, branch=branches, commit=commits, release=st.booleans())
def test_any_valid_build_gives_a_valid_normal_version(build_id: str, branch: str, commit: str | None, release: bool) -> None:
    version = stamp_version("0.4.0", BuildInfo(build_id, branch, commit, None), release=release)
    assert str(Version(version)) == version  # valid and already normal: the file name will carry it unchanged
    if commit is not None:
        assert version.endswith(f"g{commit[:7]}")  # the commit can be read back
    if not release and build_id.isdigit() and not build_id.startswith("0"):
        assert Version(version).dev == int(build_id)


@settings(max_examples=300, deadline=None)
@given(first=build_ids, second=build_ids, branch=branches, commit=commits)
def test_distinct_build_ids_on_a_branch_give_distinct_versions(first: str, second: str, branch: str, commit: str | None) -> None:
    if first != second:
        assert stamp_version("0.4.0", BuildInfo(first, branch, commit, None)) != stamp_version(
            "0.4.0", BuildInfo(second, branch, commit, None)
        )


@settings(max_examples=200, deadline=None)
@given(first=st.integers(0, 10**12), second=st.integers(0, 10**12), branches=st.tuples(branches, branches))
def test_distinct_numeric_ids_give_distinct_versions_on_any_branches(first: int, second: int, branches: tuple[str, str]) -> None:
    if first != second:
        assert stamp_version("0.4.0", BuildInfo(str(first), branches[0], SHA, None)) != stamp_version(
            "0.4.0", BuildInfo(str(second), branches[1], SHA, None)
        )


# ---- real builds --------------------------------------------------------------------------


def test_build_wheels_builds_a_stamped_wheel(libs: Path, tmp_path: Path) -> None:
    library = libs / "toy_lib"
    stale = library / "build" / "lib" / "toy_lib" / "removed_module.py"  # what setuptools would otherwise reuse
    stale.parent.mkdir(parents=True)
    stale.write_text("OLD = True\n")
    (library / "toy_lib.egg-info").mkdir()

    artifacts = build_wheels(libs, tmp_path / "dist", STAMPED)

    assert [(a.library, a.version, a.kind) for a in artifacts] == [("toy_lib", STAMPED, "wheel")]
    wheel = artifacts[0].path
    assert wheel == tmp_path / "dist" / f"toy_lib-{STAMPED}-py3-none-any.whl"
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == [wheel.name]  # no scratch folder left
    with zipfile.ZipFile(artifacts[0]) as archive:  # the artifact is path-like
        names = archive.namelist()
        metadata = archive.read(f"toy_lib-{STAMPED}.dist-info/METADATA").decode()
    assert "toy_lib/__init__.py" in names and "toy_lib/removed_module.py" not in names
    assert f"Version: {STAMPED}" in metadata
    assert not (library / "build").exists() and not list(library.glob("*.egg-info"))
    assert artifacts[0].describe(relative_to=tmp_path) == f"built toy_lib {STAMPED} → dist/{wheel.name}"


def test_build_egg_builds_a_stamped_egg_for_the_running_python(libs: Path, tmp_path: Path) -> None:
    artifacts = build_eggs(
        libs, tmp_path / "dist", STAMPED, target_python=RUNNING_PYTHON, runtime_version="13.3 LTS"
    )
    assert [(a.library, a.version, a.kind) for a in artifacts] == [("toy_lib", STAMPED, "egg")]
    assert artifacts[0].path.name == f"toy_lib-{STAMPED}-py{RUNNING_PYTHON}.egg"
    with zipfile.ZipFile(artifacts[0].path) as archive:
        assert "toy_lib/__init__.py" in archive.namelist()
        assert f"Version: {STAMPED}" in archive.read("EGG-INFO/PKG-INFO").decode()
    assert not list((libs / "toy_lib").glob("*.egg-info"))


def test_library_base_version_ignores_stamped_versions_in_the_environment(libs: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", LIB_VERSION_ENV: "9.9.9", "TOY_LIB_VERSION": "9.9.9"}
    assert library_base_version(libs / "toy_lib", env=env) == "0.4.0"


def test_a_library_that_ignores_the_version_variable_is_caught(tmp_path: Path) -> None:
    ignores_the_variable = SETUP_PY.replace('os.environ.get("TOY_LIB_VERSION") or os.environ.get("BRICKTASKS_LIB_VERSION") or ', "")
    library = make_library(tmp_path / "libs", setup_py=ignores_the_variable)
    with pytest.raises(BuildError, match="built version 0.4.0, not the stamped") as info:
        build_egg(library, tmp_path / "dist", STAMPED)
    assert "TOY_LIB_VERSION" in (info.value.hint or "")


def test_a_failing_build_reports_the_end_of_its_output(tmp_path: Path) -> None:
    library = make_library(tmp_path / "libs", setup_py='raise SystemExit("toy_lib: missing CHANGELOG, cannot build")\n')
    with pytest.raises(BuildError, match="missing CHANGELOG") as info:
        build_wheel(library, tmp_path / "dist", STAMPED)
    assert isinstance(info.value, BricktasksError) and "toy_lib" in info.value.message


def test_build_with_a_missing_interpreter_is_a_build_error(libs: Path, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="cannot run"):
        build_wheel(libs / "toy_lib", tmp_path / "dist", STAMPED, python=str(tmp_path / "no-python"))


def test_build_refuses_an_invalid_version(libs: Path, tmp_path: Path) -> None:
    with pytest.raises(UserInputError):
        build_wheel(libs / "toy_lib", tmp_path / "dist", "not-a-version!")


def test_clean_build_leftovers_only_touches_build_outputs(tmp_path: Path) -> None:
    library = make_library(tmp_path)
    for leftover in ("build/lib", "toy_lib.egg-info", "src/toy_lib.egg-info"):
        (library / leftover).mkdir(parents=True)
    clean_build_leftovers(library)
    assert sorted(p.name for p in library.iterdir()) == ["setup.py", "src", "toy_lib"]


def test_artifact_is_path_like(tmp_path: Path) -> None:
    artifact = Artifact("toy_lib", "1.0", "wheel", tmp_path / "toy_lib-1.0-py3-none-any.whl")
    assert Path(artifact) == artifact.path and artifact.name == "toy_lib-1.0-py3-none-any.whl"
    assert artifact.describe() == f"built toy_lib 1.0 → {artifact.path}"


# ---- egg refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "runtime, major",
    [("15.4", 15), ("13.3", 13), ("15.4.x-scala2.12", 15), ("14.3 LTS", 14), ("12.2.x-cpu-ml-scala2.12", 12),
     ("5.3.x-scala2.11", 5), (" 13.3 LTS (includes Apache Spark 3.4.1, Scala 2.12)", 13), ("16", 16)],
)
def test_runtime_major(runtime: str, major: int) -> None:
    assert runtime_major(runtime) == major


@pytest.mark.parametrize("runtime", ["", "latest", "LTS 14", "x.4", "15,4", "15.4LTS", "custom:my-image"])
def test_malformed_runtime_is_a_config_error(runtime: str) -> None:
    with pytest.raises(ConfigError, match="not a Databricks Runtime version") as info:
        check_egg_supported(runtime)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("runtime", ["14.3 LTS", "15.4", "15.4.x-scala2.12", "16.0"])
def test_eggs_are_refused_on_runtime_14_and_later(runtime: str) -> None:
    with pytest.raises(ConfigError, match="eggs are not supported") as info:
        check_egg_supported(runtime)
    assert "invoke build-wheel" in (info.value.hint or "")


@pytest.mark.parametrize("runtime", ["13.3 LTS", "12.2.x-scala2.12", "7.3"])
def test_eggs_are_allowed_before_runtime_14(runtime: str) -> None:
    check_egg_supported(runtime)


def test_egg_for_another_python_is_refused_and_nothing_is_built(libs: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"runs Python 3.7 but the egg would be built with Python {RUNNING_PYTHON}") as info:
        build_eggs(libs, tmp_path / "dist", STAMPED, target_python="3.7", runtime_version="7.3.x-scala2.12")
    assert "python3.7" in (info.value.hint or "")
    assert not (tmp_path / "dist").exists()


def test_egg_on_a_new_runtime_is_refused_before_building(libs: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Runtime 15"):
        build_eggs(libs, tmp_path / "dist", STAMPED, target_python=RUNNING_PYTHON, runtime_version="15.4")
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize("target", ["three", "", "3", "3.11.x"])
def test_malformed_target_python_is_a_config_error(target: str) -> None:
    with pytest.raises(ConfigError, match="not a Python version"):
        check_egg_python(target)


def test_target_python_accepts_a_patch_level() -> None:
    check_egg_python(f"{RUNNING_PYTHON}.4")


def test_target_python_is_compared_with_the_given_interpreter(tmp_path: Path) -> None:
    check_egg_python(RUNNING_PYTHON, python=sys.executable + "")  # the same interpreter, asked directly
    with pytest.raises(ConfigError, match="cannot run the Python interpreter"):
        check_egg_python(RUNNING_PYTHON, python=str(tmp_path / "no-python"))
