"""The pip cache on its own: what is checked, what is redacted, what a requirements file may say,
and a cache folder made once however many processes ask at the same time. Real pip, real wheels,
an index on loopback."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bricktasks.pipcache import (
    PipInstallFailed,
    PipRequest,
    index_problem,
    install_cached,
    parse_requirements_text,
    pip_request_from_json,
    pip_request_json,
    redact_urls,
    requirement_problem,
    unsatisfied,
)
from bricktasks.pipcache.install import cache_key
from bricktasks.testing.package_index import PackageIndex, build_wheel, closed_index_url

PACKAGE = "bricktasks-cachepkg"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    wheel = build_wheel(tmp_path_factory.mktemp("wheels"), PACKAGE, "3.1", {"bt_cachepkg": "VALUE = 31\n"})
    with PackageIndex([wheel]) as served:
        yield served


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("requests==2.32.3", None),
        ("pkg[extra]>=1,<2; python_version >= '3.8'", None),
        ("pkg @ https://example.com/pkg-1.0-py3-none-any.whl", None),
        ("", "the package is empty"),
        (None, "the package is empty"),
        (" requests", "surrounding blanks"),
        ("requests\n--index-url http://evil", "surrounding blanks or control characters"),
        ("--index-url=http://x", "is not a valid requirement"),
        ("pkg==", "is not a valid requirement"),
    ],
)
def test_requirement_problem(text, problem):
    found = requirement_problem(text)
    assert found is None if problem is None else problem in (found or "")


@pytest.mark.parametrize(
    ("url", "ok"),
    [("https://pypi.org/simple", True), ("http://u:p@127.0.0.1:8080/simple", True), ("ftp://x/simple", False),
     ("file:///opt/pypi/simple", False), ("https:///simple", False), ("", False), (3, False), ("https://x y/simple", False)],
)
def test_index_problem(url, ok):
    assert (index_problem(url) is None) == ok


def test_credentials_in_urls_are_redacted():
    text = "Looking in indexes: https://me:tok3n@pypi.example.com/simple, http://tok3n@other/simple and https://plain/simple"
    assert redact_urls(text) == "Looking in indexes: https://***@pypi.example.com/simple, http://***@other/simple and https://plain/simple"
    request = PipRequest(("x==1",), "https://me:tok3n@pypi.example.com/simple")
    assert "tok3n" not in request.describe() and pip_request_from_json(pip_request_json(request)) == request


def test_a_requirements_file_parses_to_one_request():
    text = "# comment\n\n-i https://idx.example.com/simple\n--extra-index-url=https://more.example.com/simple\nfoo==1  # why\nbar>=2\n"
    assert parse_requirements_text(text, "/Volumes/c/s/v/r.txt") == PipRequest(
        ("foo==1", "bar>=2"), "https://idx.example.com/simple", ("https://more.example.com/simple",)
    )
    bad_files = [
        ("-e .\n", "line 1: option -e is not supported"),
        ("ok==1\nnot valid!\n", "line 2: 'not valid!'"),
        ("--index-url ftp://x\n", "line 1: --index-url 'ftp://x' is not an http(s) index URL"),
        ("# nothing\n", "names no requirement"),
    ]
    for bad, message in bad_files:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_requirements_text(bad, "r.txt")


def test_what_the_environment_satisfies_is_not_installed(tmp_path):
    missing, notes = unsatisfied(("packaging>=20", "packaging<1", "surely-absent-pkg", "pytest; python_version < '3'"))
    assert missing == ("packaging<1", "surely-absent-pkg")
    assert notes[0].startswith("packaging ") and notes[1].endswith("does not apply to this Python; skipped")
    done = install_cached(tmp_path / "cache", PipRequest(("packaging>=20",), closed_index_url()), {})
    assert done.site_dir is None and not (tmp_path / "cache").exists()


def test_the_key_changes_with_requirements_and_index():
    one = cache_key(PipRequest(("a==1", "b==2")), {})
    assert one == cache_key(PipRequest(("b==2", "a==1")), {})  # the set, not the order
    assert one != cache_key(PipRequest(("a==1",)), {})
    assert one != cache_key(PipRequest(("a==1", "b==2"), "https://other/simple"), {})
    assert one != cache_key(PipRequest(("a==1", "b==2")), {"PIP_INDEX_URL": "https://other/simple"})


def test_processes_asking_at_once_install_once(index, tmp_path):
    script = textwrap.dedent(
        f"""
        import json, os, sys
        from pathlib import Path
        from bricktasks.pipcache import PipRequest, install_cached
        done = install_cached(Path({str(tmp_path / "cache")!r}), PipRequest(({PACKAGE + "==3.1"!r},), {index.url!r}), os.environ)
        print(json.dumps([str(done.site_dir), done.reused]))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    answers = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]
    assert len({site for site, _ in answers}) == 1
    assert sorted(reused for _, reused in answers) == [False, True, True]
    assert len([path for path in index.requests() if path.startswith("/files/")]) == 1
    folders = [path.name for path in (tmp_path / "cache").iterdir() if not path.name.endswith(".lock")]
    assert folders == [Path(answers[0][0]).parent.name]  # no temporary folder left behind
    assert (Path(answers[0][0]) / "bt_cachepkg.py").is_file()


def test_a_failed_install_leaves_nothing_under_its_key(index, tmp_path):
    with pytest.raises(PipInstallFailed, match="No matching distribution found for bricktasks-cachepkg==9") as failed:
        install_cached(tmp_path / "cache", PipRequest((f"{PACKAGE}==9",), index.url), os.environ)
    assert failed.value.hint == "check the package name and version on that index"
    assert [path.name for path in (tmp_path / "cache").iterdir() if not path.name.endswith(".lock")] == []
