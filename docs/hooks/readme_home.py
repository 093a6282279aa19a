"""mkdocs hook: the site's home page is README.md, so the front page of the repository and of the
site are one text.

docs/index.md holds only the marker; at build time it is replaced by README.md with its links into
the site (`docs/<page>.md`) made relative to docs/. Any other relative link of README.md has no page
on the site, and the strict build fails on it (validation in mkdocs.yml).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

__all__ = ["MARKER", "PAGE", "on_page_markdown", "readme_for_site"]

PAGE = "index.md"
MARKER = "<!-- home: README.md, inserted by docs/hooks/readme_home.py -->"

_DOCS_LINK = re.compile(r"\]\(docs/")


def readme_for_site(readme: str) -> str:
    return _DOCS_LINK.sub("](", readme)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"docs/{PAGE} lost its marker line {MARKER}; put it back")
    readme = Path(config.config_file_path).resolve().parent / "README.md"
    return markdown.replace(MARKER, readme_for_site(readme.read_text(encoding="utf-8")))
