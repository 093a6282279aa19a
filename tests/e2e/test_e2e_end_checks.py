"""The checks every end-to-end test ends with (conftest) must fail when what they look for happens:
a planted sentinel token, a write outside the project's folders."""
from __future__ import annotations

import textwrap
import zipfile

from e2e_helpers import REPO, SENTINEL_TOKEN, WORKSPACE_ROOT, confinement_breaches, secret_leaks

from bricktasks.testing.emulator import databricks_backend, start_emulator

pytest_plugins = ["pytester"]


def test_secret_leaks_finds_the_token_in_outputs_files_and_wheels_but_not_in_dotenv(tmp_path_factory):
    planted = tmp_path_factory.mktemp("planted")  # outside tmp_path, which this test's own end check searches
    project = planted / "project"
    (project / "ci-results").mkdir(parents=True)
    (project / ".env").write_text(f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\n")  # where it belongs
    (project / "ci-results" / "report.html").write_text(f"<p>token {SENTINEL_TOKEN}</p>")
    (project / "ci-results" / "clean.xml").write_text("<testsuite/>")
    with zipfile.ZipFile(project / "lib-1.0-py3-none-any.whl", "w", zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr("lib/settings.py", f"TOKEN = {SENTINEL_TOKEN!r}\n")  # compressed: a plain grep misses it
        wheel.writestr("lib/__init__.py", "")
    (project / "link").symlink_to(project / ".env")  # not followed: the .env itself is allowed
    log = planted / "emulated.requests.jsonl"
    log.write_text('{"path": "/api/2.0/workspace/list"}\n')

    leaks = secret_leaks(
        SENTINEL_TOKEN,
        outputs=["uploaded 8", f"error: bad token {SENTINEL_TOKEN}"],
        paths=[project, log],
        allowed=[project / ".env"],
    )
    assert leaks == [
        "output 1",
        str(project / "ci-results" / "report.html"),
        f"{project / 'lib-1.0-py3-none-any.whl'}!lib/settings.py",
    ]
    assert secret_leaks(SENTINEL_TOKEN, outputs=["fine"], paths=[project / "ci-results" / "clean.xml"]) == []


def test_confinement_breaches_name_writes_outside_the_project_and_into_master(tmp_path):
    (tmp_path / "payload.whl").write_bytes(b"wheel")
    with start_emulator(tmp_path / "emulated") as emulator:
        backend = databricks_backend(emulator.url)
        backend.mkdirs(f"{WORKSPACE_ROOT}/BI-1")  # fine
        backend.upload_file(f"{WORKSPACE_ROOT}/libraries/BI-1/lib-1.whl", tmp_path / "payload.whl")  # fine
        backend.list("/")  # a read, anywhere: fine
        backend.mkdirs("/Shared/elsewhere")
        backend.mkdirs(f"{WORKSPACE_ROOT}/master")
        backend.upload_file(f"{WORKSPACE_ROOT}/libraries/lib-1.whl", tmp_path / "payload.whl")  # a master library
        backend.upload_file("dbfs:/FileStore/libraries/BI-1/lib-1.whl", tmp_path / "payload.whl")
        requests = emulator.requests

    outside = {"/Shared/elsewhere", f"{WORKSPACE_ROOT}/master", f"{WORKSPACE_ROOT}/libraries/lib-1.whl"}
    dbfs = "dbfs:/FileStore/libraries/BI-1/lib-1.whl"  # and the hidden temporary it streamed into first
    named = _targets(confinement_breaches(requests, library_roots=[], master_allowed=False))
    assert outside | {dbfs} <= named, named
    assert all(target in outside | {dbfs} or target.startswith("dbfs:/FileStore/libraries/BI-1/.lib-1.whl.") for target in named)

    # a deploy may write master/, and a declared DBFS library root is the project's
    allowed = confinement_breaches(requests, library_roots=["dbfs:/FileStore/libraries"], master_allowed=True)
    assert _targets(allowed) == {"/Shared/elsewhere"}


def _targets(breaches: list[str]) -> set[str]:
    return {breach.split(" <- ")[0] for breach in breaches}


def test_a_test_that_leaks_the_token_fails_its_end_check(pytester):
    """The autouse check itself, in a pytest run of its own over the real conftest."""
    e2e = REPO / "tests" / "e2e"
    pytester.makeconftest(
        f"""
        import importlib.util, sys
        sys.path.insert(0, {str(e2e)!r})
        spec = importlib.util.spec_from_file_location("e2e_conftest", {str(e2e / "conftest.py")!r})
        e2e_conftest = sys.modules["e2e_conftest"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(e2e_conftest)
        project, end_checks, checked_at_the_end = e2e_conftest.project, e2e_conftest.end_checks, e2e_conftest.checked_at_the_end
        """
    )
    pytester.makepyfile(
        textwrap.dedent(
            """
            from e2e_helpers import SENTINEL_TOKEN

            def test_clean(project):
                assert (project.root / ".env").read_text() == f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\\n"

            def test_leaks_into_results(project):
                (project.root / "ci-results").mkdir()
                (project.root / "ci-results" / "report.html").write_text(f"token {SENTINEL_TOKEN}")

            def test_leaks_into_output(project):
                project.outputs.append(f"Traceback ... Authorization: Bearer {SENTINEL_TOKEN}")
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_into_results*",
            "*the sentinel token from .env leaked into:*ci-results/report.html*",
            "*ERROR at teardown of test_leaks_into_output*",
            "*the sentinel token from .env leaked into: ?'output 0'?",
        ]
    )
