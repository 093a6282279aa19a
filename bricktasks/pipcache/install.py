"""pip installs into the per-requirement cache: `<cache root>/<key>/site-packages`, made once.

The key is a SHA-256 of the requirements still missing from this environment, the index (the
request's, else PIP_INDEX_URL / PIP_EXTRA_INDEX_URL), the Python implementation and version, and
the platform: a folder holds what pip resolved for exactly that. It is built in a temporary folder
beside it and renamed into place, under an flock per key, so two runs asking at once install once
and a run killed half-way leaves no half folder under the key (only a temporary one, never read).
pip gets an argv list, never a shell, `--retries 0` and a short `--timeout`: an index that does not
answer fails the install within seconds, with a message naming it.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bricktasks.pipcache.requests import PipInstallFailed, PipRequest, redact_urls, unsatisfied

__all__ = ["INSTALL_TIMEOUT_S", "CachedInstall", "install_cached", "cache_key"]

INSTALL_TIMEOUT_S = 10  # pip's --timeout: seconds a connection to the index may take before pip gives up
PYPI = "https://pypi.org/simple"
MAX_ERROR_LINES = 4


@dataclass(frozen=True)
class CachedInstall:
    """What a request needed: the cache folder to put on the path (None when this environment
    satisfies every requirement), notes for the cell output, and whether the folder was reused."""

    site_dir: Path | None
    notes: list[str] = field(default_factory=list)
    reused: bool = False


def install_cached(cache_root: Path, request: PipRequest, environ: Mapping[str, str]) -> CachedInstall:
    """The cache folder holding `request`'s missing requirements, installed by pip if no run did yet;
    PipInstallFailed with pip's own error lines (credentials redacted) when pip cannot."""
    missing, notes = unsatisfied(request.requirements)
    if not missing:
        return CachedInstall(None, notes)
    wanted = PipRequest(missing, request.index_url, request.extra_index_urls)
    key = cache_key(wanted, environ)
    final = Path(cache_root) / key
    site_dir = final / "site-packages"
    if site_dir.is_dir():
        return CachedInstall(site_dir, notes + [f"Using {' '.join(missing)} from the pip cache"], reused=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _key_lock(final.parent / f"{key}.lock"):
        if site_dir.is_dir():  # another run installed it while this one waited for the lock
            return CachedInstall(site_dir, notes + [f"Using {' '.join(missing)} from the pip cache"], reused=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
        try:
            _pip_install(wanted, temporary / "site-packages", environ)
            description = {"requirements": list(missing), "index": redact_urls(_index_of(wanted, environ))}
            (temporary / "request.json").write_text(json.dumps(description, indent=1), encoding="utf-8")
            os.rename(temporary, final)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    return CachedInstall(site_dir, notes + [f"Installed {' '.join(missing)} into the pip cache"])


def cache_key(request: PipRequest, environ: Mapping[str, str]) -> str:
    """The cache folder's name for `request` on this interpreter and platform."""
    fields = {
        "requirements": sorted(request.requirements),
        "index": request.index_url or environ.get("PIP_INDEX_URL", ""),
        "extra": list(request.extra_index_urls) or environ.get("PIP_EXTRA_INDEX_URL", "").split(),
        "python": f"{sys.implementation.cache_tag}-{sys.version_info[0]}.{sys.version_info[1]}",
        "platform": sysconfig.get_platform(),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]


@contextlib.contextmanager
def _key_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _pip_install(request: PipRequest, target: Path, environ: Mapping[str, str]) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--target", str(target), "--no-input", "--disable-pip-version-check",
        "--no-warn-script-location", "--progress-bar", "off", "--retries", "0", "--timeout", str(INSTALL_TIMEOUT_S),
    ]
    if request.index_url:
        command += ["--index-url", request.index_url]
    for extra in request.extra_index_urls:
        command += ["--extra-index-url", extra]
    command += list(request.requirements)  # each checked as a PEP 508 requirement: none starts with '-'
    done = subprocess.run(
        command, env=dict(environ), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace",
    )
    if done.returncode != 0:
        raise PipInstallFailed(*_failure(request, done.stdout, done.returncode, environ))


def _failure(request: PipRequest, output: str, code: int, environ: Mapping[str, str]) -> tuple[str, str]:
    """The message and hint for a failed install: an unreachable index said so, else pip's last error lines."""
    output = redact_urls(output)
    requirements = " ".join(request.requirements)
    index = redact_urls(_index_of(request, environ))
    reason = _unreachable(_index_of(request, environ))
    if reason is not None:
        return (
            f"could not install {requirements}: the package index {index} is not reachable ({reason})",
            "check the repo URL and this machine's network (PIP_INDEX_URL names another index), "
            "or install the package into this Python environment to use it offline",
        )
    lines = [line.strip() for line in output.splitlines() if line.strip() and "[notice]" not in line]
    errors = [line for line in lines if line.startswith("ERROR:")] or lines
    detail = " | ".join(errors[-MAX_ERROR_LINES:]) or f"pip exited with code {code}"
    return (
        f"pip could not install {requirements} from {index}: {detail}",
        "check the package name and version on that index",
    )


def _index_of(request: PipRequest, environ: Mapping[str, str]) -> str:
    return request.index_url or environ.get("PIP_INDEX_URL") or PYPI


def _unreachable(index: str) -> str | None:
    """Why the index does not answer at all (refused, unknown host, timed out), or None when it
    answers anything, an HTTP error included. Asked only after pip failed: with --retries 0 pip
    reports an unreachable index just as an index without the package ("from versions: none")."""
    parts = urlsplit(index)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host + (f":{parts.port}" if parts.port else "")  # no credentials: never sent to a probe
    probe = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/", "", ""))
    try:
        with urllib.request.urlopen(probe, timeout=INSTALL_TIMEOUT_S):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return redact_urls(str(reason)) or type(exc).__name__
