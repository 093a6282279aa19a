"""The Markdown summary where each CI system shows one, after `ci-results/summary.md` is written.

- GitHub Actions: `GITHUB_STEP_SUMMARY` names a file whose Markdown the job's summary page shows; the
  page text is appended (never truncated: other steps write there too). A file that cannot be written
  is a warning, not a failed build: the build's result is the run's.
- Azure Pipelines (`TF_BUILD=True`): the logging command `##vso[task.uploadsummary]<absolute path>`
  on our output makes the agent attach summary.md to the build's summary.
- GitLab CI, Jenkins and the others have no such hook: the file is there to keep as an artifact.

`write_ci_summary` is the one call `invoke ci` and `invoke run-job` make after their other reports.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from bricktasks.buildinfo import build_page_url, ci_system_of
from bricktasks.console.console import Console
from bricktasks.report.markdown_summary import MarkdownSummary, write_markdown_summary
from bricktasks.report.model import BuildReport

__all__ = ["STEP_SUMMARY_LIMIT", "append_step_summary", "azure_upload_line", "publish_summary", "write_ci_summary"]

# GitHub refuses a step summary above 1 MiB and then shows none of it
STEP_SUMMARY_LIMIT = 1024 * 1024


def append_step_summary(path_value: str, page_text: str, console: Console) -> bool:
    """Append `page_text` to the step summary file; a warning (and False) when it cannot be written."""
    data = page_text.encode("utf-8")
    if len(data) > STEP_SUMMARY_LIMIT - 1024:
        console.warn(f"the CI summary is {len(data)} bytes, over GitHub's step summary limit: not appended; "
                     "ci-results/summary.md has it")
        return False
    try:
        with open(path_value, "a", encoding="utf-8", newline="\n") as handle:
            handle.write(page_text if page_text.endswith("\n") else page_text + "\n")
    except OSError as exc:
        console.warn(f"could not append the CI summary to GITHUB_STEP_SUMMARY ({path_value}): {exc.strerror or exc}; "
                     "ci-results/summary.md has it")
        return False
    return True


def azure_upload_line(summary_path: Path) -> str:
    """The logging command attaching the file to an Azure Pipelines build (its message escaped as Azure documents)."""
    message = str(summary_path.resolve()).replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")
    return f"##vso[task.uploadsummary]{message}"


def publish_summary(summary: MarkdownSummary, environ: Mapping[str, str], console: Console) -> None:
    """Hand the summary to the CI system running us, where it has a place for one."""
    step_summary = (environ.get("GITHUB_STEP_SUMMARY") or "").strip()
    if step_summary:
        append_step_summary(step_summary, summary.page_text, console)
    if ci_system_of(environ) == "azure-pipelines":
        console.result(azure_upload_line(summary.path))


def write_ci_summary(
    report: BuildReport,
    results_dir: Path,
    *,
    secrets: Iterable[str],
    environ: Mapping[str, str],
    console: Console,
    run_url: str | None = None,
    quality_markdown: str | None = None,
) -> Path:
    """`summary.md` in `results_dir`, published where the CI system shows one; its path."""
    summary = write_markdown_summary(report, results_dir, secrets=secrets, run_url=run_url,
                                     build_url=build_page_url(environ), quality_markdown=quality_markdown)
    publish_summary(summary, environ, console)
    return summary.path
