"""End-to-end fixtures; the helpers they use live in e2e_helpers.

Every end-to-end test ends with two checks (issue 6), in `checked_at_the_end`:
- the sentinel token every project copy keeps in its .env shows nowhere: not in what any invoke
  printed, nor in any file below the test's tmp_path (the copy with its results, dist and local
  backend root, the emulators' roots and request logs), nor in the files and folders a test adds;
- every emulator's request log (a `*.requests.jsonl` below tmp_path, or one a test adds) shows no
  write outside the workspace root and the library roots, nor into master/ unless the test deploys.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from e2e_helpers import REPO, SENTINEL_TOKEN, ProjectCopy, confinement_breaches, secret_leaks

from bricktasks.emulator.requestlog import read_request_log


@dataclass
class EndChecks:
    """What the end-of-test checks look at beyond the test's tmp_path and its project copy."""

    paths: list[Path] = field(default_factory=list)  # more files and folders to search for the sentinel (module-wide emulators)
    request_logs: list[Path] = field(default_factory=list)  # request logs of emulators outside tmp_path
    library_roots: list[str] = field(default_factory=list)  # library roots besides <workspace root>/libraries
    master_allowed: bool = False  # a deploy test writes into master/


@pytest.fixture
def project(tmp_path: Path) -> ProjectCopy:
    copy = ProjectCopy.create(tmp_path / "project", repo=REPO)
    # a developer's .env (gitignored): on the local backend the token is unused, and must stay unseen
    (copy.root / ".env").write_text(f"DATABRICKS_TOKEN={SENTINEL_TOKEN}\n")
    return copy


@pytest.fixture
def end_checks() -> EndChecks:
    return EndChecks()


@pytest.fixture(autouse=True)
def checked_at_the_end(request: pytest.FixtureRequest, tmp_path: Path, end_checks: EndChecks):
    copy: ProjectCopy | None = request.getfixturevalue("project") if "project" in request.fixturenames else None
    yield
    leaks = secret_leaks(
        SENTINEL_TOKEN,
        outputs=copy.all_outputs() if copy else [],
        paths=[tmp_path, *end_checks.paths],
        allowed=copy.dotenv_files() if copy else [],
    )
    assert not leaks, f"the sentinel token from .env leaked into: {leaks}"
    for log in [*sorted(tmp_path.rglob("*.requests.jsonl")), *end_checks.request_logs]:
        breaches = confinement_breaches(
            read_request_log(log), library_roots=end_checks.library_roots, master_allowed=end_checks.master_allowed
        )
        assert not breaches, f"{log.name}: writes outside the project's folders: {breaches}"
