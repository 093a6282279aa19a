"""What one pip install asks for, and the checks every caller shares: is a requirement valid,
is an index an http(s) URL, does this environment already satisfy a requirement, and credentials
in an index URL never shown."""
from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement

from bricktasks.errors import BricktasksError

__all__ = [
    "PipRequest", "PipInstallFailed", "pip_request_json", "pip_request_from_json", "requirement_problem", "index_problem",
    "unsatisfied", "redact_urls", "INDEX_OPTIONS", "EXTRA_INDEX_OPTIONS",
]

# pip's options naming where requirements come from: the two the cache key captures, read alike
# from a requirements file's lines and from a %pip install cell (runtime/magics)
INDEX_OPTIONS = ("-i", "--index-url")
EXTRA_INDEX_OPTIONS = ("--extra-index-url",)

# user:password@ (or a token@) in any URL of a message: what pip, our messages and logs must never show
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


class PipInstallFailed(BricktasksError):
    """pip could not install a run's requirements (its own error lines in the message)."""


@dataclass(frozen=True)
class PipRequest:
    """Requirements installed together, and where from: `index_url` None is pip's own configuration
    (PIP_INDEX_URL, pip.conf, else PyPI)."""

    requirements: tuple[str, ...]
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()

    def describe(self) -> str:
        """The requirements and their index, credentials redacted: for messages and logs."""
        where = redact_urls(self.index_url) if self.index_url else "pip's configured index"
        return f"{' '.join(self.requirements)} from {where}"


def pip_request_json(request: PipRequest) -> dict[str, Any]:
    """A request as JSON (the runtime's context file, owner-only: an index URL may hold a token)."""
    return {
        "requirements": list(request.requirements),
        "index_url": request.index_url,
        "extra_index_urls": list(request.extra_index_urls),
    }


def pip_request_from_json(data: Mapping[str, Any]) -> PipRequest:
    return PipRequest(
        tuple(str(text) for text in data["requirements"]),
        data.get("index_url") or None,
        tuple(str(url) for url in data.get("extra_index_urls") or ()),
    )


def requirement_problem(text: object) -> str | None:
    """Why `text` is not a PEP 508 requirement pip may be given (None when it is one)."""
    if not isinstance(text, str) or not text.strip():
        return "the package is empty; give a requirement such as 'requests==2.32.3'"
    if text != text.strip() or "\n" in text or "\x00" in text:
        return f"{redact_urls(text)!r} has surrounding blanks or control characters; give one requirement per entry"
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        reason = redact_urls(str(exc)).splitlines()[0]
        return f"{redact_urls(text)!r} is not a valid requirement ({reason}); give one such as 'requests==2.32.3'"
    return None


def index_problem(url: object, name: str = "repo") -> str | None:
    """Why `url` (given as `name`) is not a package index pip may use (None when it is an http(s)
    URL with a host)."""
    if not isinstance(url, str) or not url:
        return f"the {name} is empty; give the index URL, e.g. https://pypi.org/simple, or leave {name} out"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c in url for c in " \n\x00"):
        return f"{name} {redact_urls(url)!r} is not an http(s) index URL; give one such as https://pypi.org/simple"
    return None


def unsatisfied(requirements: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """The requirements this Python environment does not satisfy, and a note for each one it does
    (its installed version matches the specifier and its marker, if any, applies)."""
    missing: list[str] = []
    notes: list[str] = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            notes.append(f"{text} does not apply to this Python; skipped")
            continue
        version = None if requirement.url else _installed_version(requirement.name)
        if version is not None and requirement.specifier.contains(version, prereleases=True):
            notes.append(f"{requirement.name} {version} is already installed")
        else:
            missing.append(text)
    return tuple(missing), notes


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def redact_urls(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by `***`."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
