"""Build the libraries under libs/ as wheels or eggs, each with a version stamped by the build.

A library is a direct subfolder of libs/ with a pyproject.toml or setup.py. Its setup.py
takes the version from the environment, so one source tree yields a distinct, traceable
version per build:

    setup(version=os.environ.get("REGIMECAST_VERSION") or os.environ.get("BRICKTASKS_LIB_VERSION") or "0.4.0")

The per-library name is `<FOLDER NAME, upper case, non-alphanumerics as _>_VERSION`
(libs/regimecast -> REGIMECAST_VERSION); BRICKTASKS_LIB_VERSION is set too, for a setup.py
that does not want to know its own name. Both are set only in the build's subprocess.
A build that ignores them is caught: the artifact's version must be the stamped one.

Version scheme (PEP 440, normalised, so the printed version is the one in the file name):

    branch / CI build, numeric id    <base>.dev<id>+<branch>.g<commit7>     0.4.0.dev12+bi.5613.gabc1234
    any other build id               <base>.dev0+<id>.<branch>.g<commit7>   0.4.0.dev0+local.20261128t163000.feature.x.gabc1234
    release (deploy of master)       <base>+g<commit7>                      0.4.0+gabc1234

<branch> is the branch lower-cased with every run of other characters turned into `.`
(`feature/BI-5613` -> `feature.bi.5613`): it is there to be read, not parsed back exactly.
g<commit7> is always the last part (`g` as in `git describe`, and so that an all-digit
hash is not read as a number); it is left out when the commit is unknown.
Every CI system's ids are plain numbers, so the id is the dev number. Any other id is put
in the label, losslessly when it is lower-case letters and digits joined by `-` (GitHub's
`123-2`, the local `local-20261128t163000`), else followed by `x<8 hex of its sha256>` so
ids that differ only in case or separators (`Build_1`, `build-1`) still get distinct
versions. So two builds with different ids get different versions whenever their ids are
numbers or they are on the same branch. A release rebuilt from the same commit gets the
same version: it is the same code, and deploy replaces the master libraries in place.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from bricktasks.buildinfo import BuildInfo
from bricktasks.errors import BricktasksError, ConfigError, UserInputError
from bricktasks.source.files import refuse_linked_folder, select_files
from bricktasks.source.secrets_scan import HINT as SCAN_HINT
from bricktasks.source.secrets_scan import scan_archive, scan_bytes

__all__ = [
    "LIB_VERSION_ENV",
    "BuildError",
    "Artifact",
    "find_libraries",
    "named_libraries",
    "check_library_source",
    "version_env_var",
    "stamp_version",
    "library_base_version",
    "build_wheel",
    "build_wheels",
    "build_egg",
    "build_eggs",
    "check_egg_supported",
    "check_egg_python",
    "runtime_major",
    "clean_build_leftovers",
]

LIB_VERSION_ENV = "BRICKTASKS_LIB_VERSION"
FIRST_RUNTIME_WITHOUT_EGGS = 14
BUILD_TIMEOUT_SECONDS = 900
OUTPUT_TAIL_LINES = 15
_PLAIN_NUMBER = re.compile(r"^(0|[1-9][0-9]*)$")
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")
_RUNTIME = re.compile(r"^\s*(\d{1,3})(?:\.(?:\d+|x))*(?:[\s-].*)?$")
_PYTHON = re.compile(r"^\s*(\d+)\.(\d+)(?:\.\d+)?\s*$")
_SETUPTOOLS_SHIM = "from setuptools import setup; setup()"  # bdist_egg for a library with only a pyproject.toml


class BuildError(BricktasksError):
    """A library build failed; the message ends with the last lines of the build's output."""


@dataclass(frozen=True)
class Artifact:
    """One built file. It is path-like, so it can be given to open(), shutil or Path()."""

    library: str
    version: str
    kind: str  # "wheel" or "egg"
    path: Path

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        """The file name, as on a Path: what an upload names the remote copy."""
        return self.path.name

    def describe(self, relative_to: Path | None = None) -> str:
        """The line a task prints: `built regimecast 0.4.0.dev12+bi.5613.gabc1234 → dist/regimecast-...whl`."""
        shown = self.path
        if relative_to is not None and self.path.is_relative_to(relative_to):
            shown = self.path.relative_to(relative_to)
        return f"built {self.library} {self.version} → {shown}"


# ---- libraries and versions ---------------------------------------------------------------


def find_libraries(libs_dir: Path) -> list[Path]:
    """Every direct subfolder of `libs_dir` with a pyproject.toml or setup.py, sorted by name."""
    if not libs_dir.is_dir():
        raise ConfigError(f"the libraries folder {libs_dir} does not exist", "set BRICKTASKS_LIBS_DIR to the folder holding your libraries")
    refuse_linked_folder(libs_dir)
    libraries = sorted(
        child for child in libs_dir.iterdir()
        if child.is_dir() and not child.name.startswith(".")
        and ((child / "pyproject.toml").is_file() or (child / "setup.py").is_file())
    )
    for library in libraries:
        check_library_source(library)
    return libraries


def named_libraries(folders: Sequence[Path], project_dir: Path) -> list[Path]:
    """The libraries BRICKTASKS_LIBS names, each a folder inside the project with a pyproject.toml or setup.py
    (`.`, the project itself, when its pyproject.toml builds a src/ package)."""
    hint = "set BRICKTASKS_LIBS to project folders holding a pyproject.toml or setup.py (comma-separated), or none"
    libraries = []
    for folder in folders:
        resolved = folder.resolve()
        if not resolved.is_relative_to(project_dir.resolve()):
            raise ConfigError(f"the library folder {folder} is outside the project", hint)
        if not ((resolved / "pyproject.toml").is_file() or (resolved / "setup.py").is_file()):
            raise ConfigError(f"the library folder {folder} has no pyproject.toml or setup.py", hint)
        refuse_linked_folder(folder)
        check_library_source(resolved)
        libraries.append(resolved)
    return libraries


def check_library_source(library_dir: Path) -> None:
    """Refuse a library that holds a symbolic link, before anything of it runs: setuptools follows
    links, so a link to /etc/hostname or ../.env would be packed into the wheel (the same rule
    as the notebooks', bricktasks.source.files). Files git ignores are not looked at; hidden ones are."""
    label = f"{library_dir.parent.name}/{library_dir.name}"
    select_files(library_dir, keep=lambda rel: "__pycache__" not in rel.split("/") and not rel.endswith(".pyc"), label=label)


def version_env_var(library: str) -> str:
    """The variable a library's setup.py reads its version from: regimecast -> REGIMECAST_VERSION."""
    return re.sub(r"[^A-Za-z0-9]", "_", library).upper() + "_VERSION"


def stamp_version(base: str, build: BuildInfo, *, release: bool = False) -> str:
    """A PEP 440 version for `build` of a library whose own version is `base` (scheme: module docstring)."""
    try:
        parsed = Version(base)
    except InvalidVersion as exc:
        raise ConfigError(f"the library version {base!r} is not a PEP 440 version", "use a version such as 0.4.0") from exc
    if parsed.dev is not None or parsed.local is not None:
        raise ConfigError(f"the library version {base!r} already has a dev or local part", "use a plain version such as 0.4.0")
    commit = _commit_label(build.commit)
    if release:
        dev, parts = "", [commit]
    elif _PLAIN_NUMBER.match(build.build_id):
        dev, parts = f".dev{build.build_id}", [_readable(build.branch), commit]
    else:
        dev, parts = ".dev0", [_id_label(build.build_id), _readable(build.branch), commit]
    local = ".".join(part for part in parts if part)
    return str(Version(f"{parsed}{dev}" + (f"+{local}" if local else "")))


def _readable(text: str) -> str:
    """Lower-case alphanumeric runs joined by '.', numbers without leading zeros: already PEP 440 normal."""
    runs = re.split(r"[^a-z0-9]+", text.lower())
    return ".".join(str(int(run)) if run.isdigit() else run for run in runs if run)


def _id_label(build_id: str) -> str:
    readable = _readable(build_id)
    if readable.replace(".", "-") == build_id:
        return readable  # lossless: the id can be read back by turning '.' into '-'
    digest = hashlib.sha256(build_id.encode()).hexdigest()[:8]
    return ".".join(part for part in (readable, f"x{digest}") if part)


def _commit_label(commit: str | None) -> str | None:
    if commit is None:
        return None
    if not _COMMIT.match(commit):
        raise UserInputError(f"the commit {commit!r} is not a git SHA")
    return "g" + commit[:7].lower()


def library_base_version(library_dir: Path, *, python: str = sys.executable, env: Mapping[str, str] | None = None) -> str:
    """The library's own version: what its setup.py says when no stamped version is set."""
    clean_env = {k: v for k, v in _base_env(env).items() if k not in (LIB_VERSION_ENV, version_env_var(library_dir.name))}
    output = _run([*_setup_command(library_dir, python), "--version"], library_dir, clean_env, library_dir.name, "read the version of")
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    try:
        return str(Version(lines[-1]))
    except (IndexError, InvalidVersion) as exc:
        raise BuildError(f"could not read the version of {library_dir.name}: {_tail(output)}") from exc


# ---- wheels -------------------------------------------------------------------------------


def build_wheel(
    library_dir: Path, dist_dir: Path, version: str, *,
    python: str = sys.executable, env: Mapping[str, str] | None = None, timeout: float = BUILD_TIMEOUT_SECONDS,
) -> Artifact:
    """Build one library's wheel with `python -m build` (no isolation: it must work offline)."""
    command = [python, "-m", "build", "--wheel", "--no-isolation", "--outdir"]
    return _build(library_dir, dist_dir, version, "wheel", command, python=python, env=env, timeout=timeout)


def build_wheels(
    libs_dir: Path, dist_dir: Path, version: str, *,
    python: str = sys.executable, env: Mapping[str, str] | None = None, timeout: float = BUILD_TIMEOUT_SECONDS,
) -> list[Artifact]:
    """Build a wheel of every library under `libs_dir` into `dist_dir`, all with `version`."""
    return [build_wheel(lib, dist_dir, version, python=python, env=env, timeout=timeout) for lib in find_libraries(libs_dir)]


# ---- eggs ---------------------------------------------------------------------------------


def runtime_major(runtime_version: str) -> int:
    """The major version of a Databricks Runtime: `15.4`, `14.3 LTS`, `13.3.x-scala2.12` -> 15, 14, 13."""
    match = _RUNTIME.match(runtime_version or "")
    if match is None:
        raise ConfigError(
            f"BRICKTASKS_RUNTIME_VERSION={runtime_version!r} is not a Databricks Runtime version",
            "use a version such as 15.4, 13.3 LTS or 13.3.x-scala2.12",
        )
    return int(match.group(1))


def check_egg_supported(runtime_version: str) -> None:
    """Refuse eggs for Databricks Runtime 14 and later, which cannot install them."""
    major = runtime_major(runtime_version)
    if major >= FIRST_RUNTIME_WITHOUT_EGGS:
        raise ConfigError(
            f"eggs are not supported on Databricks Runtime {major} ({runtime_version.strip()}); only Runtime 13 and earlier install them",
            "use `invoke build-wheel` instead",
        )


def check_egg_python(target_python: str, python: str = sys.executable) -> None:
    """Refuse to build an egg with a Python other than the cluster's: an egg only loads on its own Python."""
    wanted = _PYTHON.match(target_python or "")
    if wanted is None:
        raise ConfigError(f"BRICKTASKS_TARGET_PYTHON={target_python!r} is not a Python version", "use major.minor, e.g. 3.11")
    target = f"{wanted.group(1)}.{wanted.group(2)}"
    actual = _interpreter_version(python)
    if actual != target:
        raise ConfigError(
            f"the target runtime runs Python {target} but the egg would be built with Python {actual} ({python})",
            f"run the build with Python {target} (e.g. python{target} -m invoke build-egg), "
            "or set BRICKTASKS_TARGET_PYTHON to the cluster's Python",
        )


def build_egg(
    library_dir: Path, dist_dir: Path, version: str, *,
    python: str = sys.executable, env: Mapping[str, str] | None = None, timeout: float = BUILD_TIMEOUT_SECONDS,
) -> Artifact:
    """Build one library's egg with `setup.py bdist_egg` (callers check the runtime and Python first)."""
    command = [*_setup_command(library_dir, python), "bdist_egg", "--dist-dir"]
    return _build(library_dir, dist_dir, version, "egg", command, python=python, env=env, timeout=timeout)


def build_eggs(
    libs_dir: Path, dist_dir: Path, version: str, *, target_python: str, runtime_version: str,
    python: str = sys.executable, env: Mapping[str, str] | None = None, timeout: float = BUILD_TIMEOUT_SECONDS,
) -> list[Artifact]:
    """Build an egg of every library under `libs_dir`, after checking the runtime takes eggs and the Python matches."""
    check_egg_supported(runtime_version)
    check_egg_python(target_python, python)
    return [build_egg(lib, dist_dir, version, python=python, env=env, timeout=timeout) for lib in find_libraries(libs_dir)]


# ---- running a build ----------------------------------------------------------------------


_SETUPTOOLS_BUILD_PREFIXES = ("lib.", "bdist.", "temp.", "scripts-")  # and "lib" itself


def _setuptools_build_folder(folder: Path) -> bool:
    """True when `folder` holds nothing but what setuptools puts in build/: a library that is the whole
    repository (BRICKTASKS_LIBS=.) may have a build/ folder of its own, which must never be deleted."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    return all(child.name == "lib" or child.name.startswith(_SETUPTOOLS_BUILD_PREFIXES) for child in folder.iterdir())


def clean_build_leftovers(library_dir: Path) -> None:
    """Remove build/ and *.egg-info from a library: setuptools reuses them, so files deleted from the source would ship."""
    if _setuptools_build_folder(library_dir / "build"):
        shutil.rmtree(library_dir / "build", ignore_errors=True)
    for folder in (library_dir, library_dir / "src"):
        for info in folder.glob("*.egg-info"):
            if info.is_dir():
                shutil.rmtree(info, ignore_errors=True)


def _build(
    library_dir: Path, dist_dir: Path, version: str, kind: str, command: Sequence[str], *,
    python: str, env: Mapping[str, str] | None, timeout: float,
) -> Artifact:
    library = library_dir.name
    try:
        version = str(Version(version))  # normal form: it is what the file name will carry
    except InvalidVersion as exc:
        raise UserInputError(f"{version!r} is not a PEP 440 version") from exc
    build_env = {**_base_env(env), version_env_var(library): version, LIB_VERSION_ENV: version}
    dist_dir.mkdir(parents=True, exist_ok=True)
    clean_build_leftovers(library_dir)
    # a private output folder per build, so the artifact is exactly what this build produced
    with tempfile.TemporaryDirectory(prefix=".bricktasks-build-", dir=dist_dir) as scratch:
        try:
            output = _run([*command, scratch], library_dir, build_env, library, f"build the {kind} of", timeout)
        finally:
            clean_build_leftovers(library_dir)
        built = sorted(Path(scratch).glob("*.whl" if kind == "wheel" else "*.egg"))
        if len(built) != 1:
            raise BuildError(f"building {library} made {len(built)} {kind} files instead of one: {_tail(output)}")
        _check_artifact_version(built[0], kind, version, library)
        _refuse_credentials(built[0], library_dir)  # before it reaches dist/, so no copy of it is left
        target = dist_dir / built[0].name
        os.replace(built[0], target)
    return Artifact(library=library, version=version, kind=kind, path=target)


def _refuse_credentials(artifact: Path, library_dir: Path) -> None:
    """Scan every member of the built wheel or egg: what is uploaded is what is scanned. A hit is
    named by the library's own file (and its line) when the member comes from one."""
    hit = scan_archive(artifact)
    if hit is None:
        return
    member = hit.where.split("!", 1)[1] if "!" in hit.where else hit.where
    shown = f"{library_dir.parent.name}/{library_dir.name}"
    where, line, kind = f"{shown}: {hit.where}", hit.line, hit.kind
    for candidate in dict.fromkeys([member, member.removesuffix("c") if member.endswith(".pyc") else member]):
        for source in (library_dir / candidate, library_dir / "src" / candidate):
            found = scan_bytes(source.read_bytes(), "") if source.is_file() and not source.is_symlink() else None
            if found:
                where, line, kind = f"{shown}/{source.relative_to(library_dir).as_posix()}", found.line, found.kind
                break
        else:
            continue
        break
    raise UserInputError(f"{where} line {line} looks like a {kind} (packed into {artifact.name}); nothing was uploaded", SCAN_HINT)


def _check_artifact_version(path: Path, kind: str, version: str, library: str) -> None:
    try:
        found = str(parse_wheel_filename(path.name)[1]) if kind == "wheel" else str(Version(path.name.split("-")[1]))
    except (InvalidWheelFilename, InvalidVersion, IndexError):
        found = path.name
    if found != version:
        raise BuildError(
            f"{library} built version {found}, not the stamped {version}",
            f"make its setup.py read the version from {version_env_var(library)} or {LIB_VERSION_ENV}",
        )


def _run(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], library: str, action: str,
    timeout: float = BUILD_TIMEOUT_SECONDS,
) -> str:
    """Run a build command; its combined output, or a BuildError ending with the output's last lines."""
    try:
        result = _run_in_own_group(list(command), cwd, dict(env), timeout)
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"could not {action} {library}: no result after {timeout:g} s") from exc
    except OSError as exc:
        raise BuildError(f"could not {action} {library}: cannot run {command[0]}: {exc.strerror}") from exc
    if result.returncode != 0:
        hint = None
        if "No module named build" in result.stdout:
            hint = f"install the 'build' package into {command[0]}"
        raise BuildError(f"could not {action} {library} (exit {result.returncode}): {_tail(result.stdout)}", hint)
    return result.stdout


def _run_in_own_group(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """subprocess.run in a process group of its own, killed whole on a timeout or a signal: `python -m
    build` runs the build backend in a child of its own, which killing the parent alone would leave."""
    with subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    ) as process:
        try:
            stdout, _ = process.communicate(timeout=timeout)
        except BaseException:  # the timeout, SIGINT/SIGTERM (bricktasks.interrupts.Interrupted)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout)


def _tail(output: str) -> str:
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    return "\n".join(lines[-OUTPUT_TAIL_LINES:]) or "(no output)"


def _setup_command(library_dir: Path, python: str) -> list[str]:
    if (library_dir / "setup.py").is_file():
        return [python, "setup.py"]
    return [python, "-c", _SETUPTOOLS_SHIM]


def _base_env(env: Mapping[str, str] | None) -> dict[str, str]:
    # the build subprocess needs PATH, HOME and the like: the caller's environment unless one is given
    return dict(os.environ if env is None else env)


def _interpreter_version(python: str) -> str:
    if python == sys.executable:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, check=True, timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"cannot run the Python interpreter {python!r}", "give the path of a working python") from exc
    return result.stdout.strip()
