"""The docs site: `mkdocs build --strict` passes (real mkdocs, in a subprocess), its task reference
says what the tasks' own help says, a broken link, anchor, nav entry or marker fails the build, and
every relative link of README.md and of the docs pages resolves, on GitHub and on the site.
"""
from __future__ import annotations

import html
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import markdown
import pytest
from invoke.parser import ParserContext

from bricktasks.cli.guard import task_arguments
from bricktasks.tasks import namespace

REPO = Path(__file__).resolve().parents[2]
# what `mkdocs build` reads: the config, the pages (with the hooks), the home page, the tasks
SITE_SOURCES = ("mkdocs.yml", "README.md", "docs", "bricktasks")
TASKS_MARKER = "<!-- task-reference: generated from bricktasks.tasks.namespace by docs/hooks/task_reference.py -->"


def _build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def _text(page: Path, between_tags: str = " ") -> str:
    """A built page as its reader sees it: tags gone, entities decoded, whitespace collapsed.
    In code blocks the highlighter wraps each token in a tag: there, tags join with nothing."""
    without_tags = re.sub(r"<[^>]+>", between_tags, page.read_text(encoding="utf-8"))
    return " ".join(html.unescape(without_tags).split())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    built = _build(REPO, site)
    assert built.returncode == 0, built.stdout + built.stderr
    return site


def test_the_strict_build_writes_every_page_of_the_nav(site: Path) -> None:
    pages = sorted(path.relative_to(REPO / "docs").with_suffix("").as_posix()
                   for path in (REPO / "docs").glob("*.md"))
    for page in pages:
        built = site / ("index.html" if page == "index" else f"{page}/index.html")
        assert built.is_file(), f"docs/{page}.md was not built"
    assert not (site / "hooks").exists(), "the hooks are code, not pages"
    assert "fonts.googleapis.com" not in (site / "index.html").read_text(encoding="utf-8")


def test_the_home_page_is_the_readme(site: Path) -> None:
    home = _text(site / "index.html", between_tags="")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_command = readme.split("```bash\n", 1)[1].splitlines()[0]
    assert " ".join(first_command.split()) in home
    assert "bricktasks init --name churn --source notebooks --ci github" in home


def test_the_task_reference_is_every_task_and_flag_as_invoke_help_prints_them(site: Path) -> None:
    built = (site / "tasks" / "index.html").read_text(encoding="utf-8")
    page = _text(site / "tasks" / "index.html")
    assert TASKS_MARKER not in built
    assert namespace.tasks, "no tasks to document"
    for name, task in namespace.tasks.items():
        assert f'id="{name}"' in built, f"no section for {name}"
        assert " ".join(inspect.cleandoc(task.__doc__ or "").split()) in page, f"{name}'s docstring"
        context = ParserContext(name=name, aliases=list(task.aliases), args=task_arguments(task))
        for flags, help_text in context.help_tuples():
            assert help_text, f"{name}: {flags} has no help; add it to the task's help={{...}}"
            assert f"{flags} {' '.join(help_text.split())}" in page, f"{name}: {flags}"
        for alias in task.aliases:
            assert f"Aliases: {alias}" in page or f", {alias}" in page, f"{name}'s alias {alias}"


def _copy_sources(into: Path) -> Path:
    into.mkdir()
    for name in SITE_SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, into / name)
    return into


def _break_a_link(root: Path) -> None:
    page = root / "docs" / "jobs.md"
    page.write_text(page.read_text() + "\nSee [the plan](no-such-page.md).\n")


def _break_an_anchor(root: Path) -> None:
    page = root / "docs" / "jobs.md"
    page.write_text(page.read_text() + "\nSee [the plan](settings.md#no-such-heading).\n")


def _leave_a_page_out_of_the_nav(root: Path) -> None:
    (root / "docs" / "orphan.md").write_text("# A page nobody can reach\n")


def _lose_the_reference_marker(root: Path) -> None:
    page = root / "docs" / "tasks.md"
    page.write_text(page.read_text().replace(TASKS_MARKER, ""))


def _link_the_readme_outside_the_site(root: Path) -> None:
    readme = root / "README.md"
    readme.write_text(readme.read_text() + "\nThe templates: [GitHub Actions](.github/workflows/ci.yml).\n")


@pytest.mark.parametrize("breakage, expected", [
    (_break_a_link, "no-such-page.md"),
    (_break_an_anchor, "no-such-heading"),
    (_leave_a_page_out_of_the_nav, "orphan.md"),
    (_lose_the_reference_marker, "marker"),
    (_link_the_readme_outside_the_site, "ci.yml"),
])
def test_the_strict_build_fails_on(breakage, expected: str, tmp_path: Path) -> None:
    root = _copy_sources(tmp_path / "repo")
    breakage(root)
    built = _build(root, tmp_path / "site")
    assert built.returncode != 0, f"{breakage.__name__}: the strict build passed"
    assert expected in built.stdout + built.stderr


# --- README.md's relative links --------------------------------------------------------------

_LINK = re.compile(r"!?\[(?:[^\]`]|`[^`]*`)*\]\(([^)\s]+)\)")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def _prose(text: str) -> str:
    """Markdown without fenced blocks and inline code, where a bracket is not a link."""
    text = re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def _github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _anchors(page: Path) -> tuple[set[str], set[str]]:
    """(mkdocs' anchors: Python-Markdown's toc ids, GitHub's anchors) of a Markdown page's headings."""
    md = markdown.Markdown(extensions=["toc", "tables", "fenced_code"])
    md.convert(page.read_text(encoding="utf-8"))
    mkdocs_ids: set[str] = set()
    github_ids: set[str] = set()
    tokens = list(md.toc_tokens)
    while tokens:
        token = tokens.pop()
        mkdocs_ids.add(token["id"])
        github_ids.add(_github_slug(html.unescape(token["name"])))
        tokens.extend(token["children"])
    return mkdocs_ids, github_ids


def _relative_links(page: Path) -> list[str]:
    return [target for target in _LINK.findall(_prose(page.read_text(encoding="utf-8")))
            if not _EXTERNAL.match(target)]


def _link_problems(readme: Path, repo: Path) -> list[str]:
    """What is wrong with each relative link of a README: it leaves the repository, its file is
    missing, or its anchor is no heading of the target page by mkdocs' rule or by GitHub's."""
    problems = []
    for link in _relative_links(readme):
        path_part, _, anchor = link.partition("#")
        target = (readme.parent / path_part).resolve() if path_part else readme
        if not target.is_relative_to(repo):
            problems.append(f"{link}: leaves the repository")
        elif not target.exists():
            problems.append(f"{link}: {target.relative_to(repo)} does not exist")
        elif anchor and target.suffix != ".md":
            problems.append(f"{link}: an anchor into a file that is not Markdown")
        elif anchor:
            mkdocs_ids, github_ids = _anchors(target)
            if anchor not in mkdocs_ids:
                problems.append(f"{link}: no heading of {target.name} has the anchor {anchor!r} on the site")
            if anchor not in github_ids:
                problems.append(f"{link}: no heading of {target.name} has the anchor {anchor!r} on GitHub")
    return problems


def test_every_relative_link_of_the_readme_resolves_on_github_and_on_the_site() -> None:
    readme = REPO / "README.md"
    assert sum(link.startswith("docs/") for link in _relative_links(readme)) >= 10, "README links into the docs"
    assert _link_problems(readme, REPO) == []



@pytest.mark.parametrize("page", sorted(path.name for path in (REPO / "docs").glob("*.md")))
def test_every_relative_link_of_a_docs_page_resolves_on_github_too(page: str) -> None:
    # the strict build checks them by mkdocs' rule; GitHub shows docs/ as well, by its own rule
    assert _link_problems(REPO / "docs" / page, REPO) == []

def test_the_link_check_finds_each_kind_of_broken_link(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "page.md").write_text("# The page\n\n## Output: terminal, CI log, `--quiet`\n")
    (repo / "data.csv").write_text("a\n")
    (tmp_path / "outside.md").write_text("# Outside\n")
    (repo / "README.md").write_text(
        "# Top\n\n[ok](docs/page.md#the-page) [self](#top) [gone](docs/gone.md) `[not a link](docs/x.md)`\n\n"
        "```\n[also not](docs/y.md)\n```\n[slugs differ](docs/page.md#output-terminal-ci-log-quiet)\n"
        "[csv](data.csv#row) [up](../outside.md) [web](https://example.com/x.md#nope) [no](#nowhere)\n")
    assert _link_problems(repo / "README.md", repo) == [
        "docs/gone.md: docs/gone.md does not exist",
        "docs/page.md#output-terminal-ci-log-quiet: no heading of page.md has the anchor "
        "'output-terminal-ci-log-quiet' on GitHub",  # GitHub keeps a hyphen per dropped character
        "data.csv#row: an anchor into a file that is not Markdown",
        "../outside.md: leaves the repository",
        "#nowhere: no heading of README.md has the anchor 'nowhere' on the site",
        "#nowhere: no heading of README.md has the anchor 'nowhere' on GitHub",
    ]
