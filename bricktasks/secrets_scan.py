"""Refuse to upload credentials: scan what would go up, and refuse a `.env` tracked by git.

A hit names the file and line, never the secret. A false positive is allowed by putting
`bricktasks: allow-secret` in a comment on the same line.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from bricktasks.errors import UserInputError

__all__ = ["ALLOW_MARKER", "find_credentials", "scan_for_credentials", "refuse_tracked_dotenv"]

ALLOW_MARKER = "bricktasks: allow-secret"
PATTERNS = [
    ("Databricks token", re.compile(r"\bdapi[0-9a-f]{32}\b")),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("Azure storage key", re.compile(r"AccountKey=[A-Za-z0-9+/]{40,}={0,2}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("private key", re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----")),
    (
        "password assignment",
        re.compile(r"""(?i)\b(?:password|passwd|pwd|secret|api_?key|access_?key|token)\b\s*[:=]\s*["'][^"'\s]{6,}["']"""),
    ),
]
HINT = f"keep it in a secret scope (dbutils.secrets.get) or, for a false positive, add '# {ALLOW_MARKER}' to that line"


def find_credentials(text: str) -> list[tuple[int, str]]:
    """(line number, kind) of each line that looks like it holds a credential."""
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        if ALLOW_MARKER in line:
            continue
        for kind, pattern in PATTERNS:
            if pattern.search(line):
                hits.append((number, kind))
                break
    return hits


def scan_for_credentials(source_dir: Path) -> None:
    """Raise UserInputError at the first file that would upload a credential."""
    from bricktasks.sync import collect_source  # the same file selection as the upload itself

    for item in collect_source(source_dir):
        text = item.content.decode("utf-8", errors="ignore")
        hits = find_credentials(text)
        if hits:
            number, kind = hits[0]
            raise UserInputError(f"{source_dir.name}/{item.local_rel} line {number} looks like a {kind}; nothing was uploaded", HINT)


def refuse_tracked_dotenv(project_dir: Path) -> None:
    try:
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", ".env"], cwd=project_dir, capture_output=True, check=False
        ).returncode == 0
    except OSError:
        return
    if tracked:
        raise UserInputError(
            ".env is tracked by git and may hold a token",
            "run git rm --cached .env, keep it in .gitignore, and rotate any token it held",
        )
