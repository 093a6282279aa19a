"""Workspace path rules: the project root, branch and CI folders, library folders, and name checks.

Layout under the workspace root (from the article):
    master/                 the production copy (only `deploy` writes it)
    <branch>/               one folder per branch
    CI/<build>-<branch>/    one folder per CI build
Library folders under the library root:
    <library root>/                      master libraries
    <library root>/<branch>/             a branch's libraries
    <library root>/CI/<build>-<branch>/  a CI build's libraries

Branch names become folder names: each `/` of a git branch becomes `__`
(`feature/x` -> `feature__x`). So that the mapping stays one-to-one, a branch that
already contains `__` is refused.
"""
from __future__ import annotations

import posixpath
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bricktasks.errors import ConfigError, UserInputError

__all__ = [
    "SET_ENVIRONMENT",
    "INSTALL_LIBRARIES",
    "HELPER_NOTEBOOKS",
    "BRANCH_SEPARATOR",
    "PROTECTED_BRANCHES",
    "branch_folder",
    "validate_build_id",
    "is_build_name",
    "ProjectLayout",
    "join",
    "is_within",
    "check_workspace_root",
    "check_library_root",
    "check_local_root",
    "check_output_folder",
]

BRANCH_SEPARATOR = "__"
PROTECTED_BRANCHES = ("master", "main")
# the helper notebooks the tool writes into every folder it fills (bricktasks.workspace.helpers):
# run by the other notebooks, never run on their own
SET_ENVIRONMENT = "set_environment"
INSTALL_LIBRARIES = "install_libraries"
HELPER_NOTEBOOKS = frozenset({SET_ENVIRONMENT, INSTALL_LIBRARIES})
RESERVED_FOLDERS = ("ci", "libraries", "experiments")  # case-insensitive: CI builds, libraries, MLflow experiments
MAX_BRANCH_LENGTH = 100
_SEGMENT = re.compile(r"^[A-Za-z0-9._+-]+$")
_BUILD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HINT = "pass a simple branch name such as BI-5613 (letters, digits, . _ + - and /)"


def branch_folder(branch: str) -> str:
    """Map a git branch name to its workspace folder name, refusing anything unsafe."""
    if branch is None or branch.strip() == "":
        raise UserInputError("the branch name is empty", _HINT)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in branch):
        raise UserInputError("the branch name contains control characters", _HINT)
    if len(branch) > MAX_BRANCH_LENGTH:
        raise UserInputError(f"the branch name is longer than {MAX_BRANCH_LENGTH} characters", _HINT)
    if BRANCH_SEPARATOR in branch:
        raise UserInputError(
            f"the branch name {branch!r} contains '{BRANCH_SEPARATOR}', which is reserved for '/'", _HINT
        )
    segments = branch.split("/")
    for segment in segments:
        if segment in ("", ".", "..") or segment.startswith("."):
            # git forbids parts starting with '.', and folders starting with '.' are ours (e.g. .local-runs)
            raise UserInputError(f"the branch name {branch!r} has an empty part or one starting with '.'", _HINT)
        if not _SEGMENT.match(segment):
            raise UserInputError(f"the branch name {branch!r} has characters unsafe in workspace paths", _HINT)
    folder = BRANCH_SEPARATOR.join(segments)
    if folder.lower() in RESERVED_FOLDERS:
        raise UserInputError(f"the branch name {branch!r} is reserved for the project's {folder} folder", _HINT)
    return folder


def validate_build_id(build_id: str) -> str:
    if not build_id or not _BUILD_ID.match(build_id) or build_id in (".", ".."):
        raise UserInputError(
            f"the build id {build_id!r} is not a safe name", "use letters, digits, '.', '_' or '-' (at most 64)"
        )
    return build_id


def is_build_name(name: str) -> bool:
    """True when `name` is `<build id>-<branch folder>` for some valid build id and branch, i.e. a folder
    `invoke ci` may have made in CI/ (a build id may itself hold '-', so every split is tried)."""
    for cut in (index for index, ch in enumerate(name) if ch == "-"):
        build_id, folder = name[:cut], name[cut + 1:]
        if not _BUILD_ID.match(build_id) or build_id in (".", ".."):
            continue
        try:
            if branch_folder(folder.replace(BRANCH_SEPARATOR, "/")) == folder:
                return True
        except UserInputError:
            continue
    return False


def join(*parts: str) -> str:
    """Join workspace path parts with '/', keeping any scheme prefix such as dbfs:/."""
    head, *rest = parts
    return posixpath.join(head, *[part.strip("/") for part in rest if part]) if rest else head


def is_within(path: str, root: str) -> bool:
    """True when `path` is `root` or below it, after normalising '.' and '..'."""
    scheme, plain = _split_scheme(path)
    root_scheme, plain_root = _split_scheme(root)
    if scheme != root_scheme:
        return False
    normal, normal_root = posixpath.normpath(plain), posixpath.normpath(plain_root)
    return normal == normal_root or normal.startswith(normal_root.rstrip("/") + "/")


def _split_scheme(path: str) -> tuple[str, str]:
    if path.startswith("dbfs:"):
        return "dbfs:", path[len("dbfs:"):] or "/"
    return "", path


@dataclass(frozen=True)
class ProjectLayout:
    """Folder names for one project: workspace root and library root."""

    workspace_root: str
    library_root: str

    def __post_init__(self) -> None:
        for name, value in (("BRICKTASKS_WORKSPACE_ROOT", self.workspace_root), ("BRICKTASKS_LIBRARY_ROOT", self.library_root)):
            scheme, plain = _split_scheme(value)
            if ".." in plain.split("/") or "." in plain.split("/")[1:] or not plain.startswith("/"):
                raise UserInputError(f"{name}={value!r} is not an absolute, normalised path", "remove '.' and '..' parts")
        check_workspace_root(self.workspace_root)
        check_library_root(self.library_root, self.workspace_root)

    # workspace folders
    @property
    def master(self) -> str:
        return join(self.workspace_root, "master")

    @property
    def ci_root(self) -> str:
        return join(self.workspace_root, "CI")

    def branch(self, branch: str) -> str:
        return join(self.workspace_root, branch_folder(branch))

    def ci_build_name(self, build_id: str, branch: str) -> str:
        return f"{validate_build_id(build_id)}-{branch_folder(branch)}"

    def ci_build(self, build_id: str, branch: str) -> str:
        return join(self.ci_root, self.ci_build_name(build_id, branch))

    # library folders
    @property
    def master_libraries(self) -> str:
        return self.library_root

    @property
    def ci_libraries_root(self) -> str:
        return join(self.library_root, "CI")

    def branch_libraries(self, branch: str) -> str:
        return join(self.library_root, branch_folder(branch))

    def ci_libraries(self, build_id: str, branch: str) -> str:
        return join(self.ci_libraries_root, self.ci_build_name(build_id, branch))


# Top-level workspace folders that hold other people's things. A project root must be a folder of its own
# below them: checkout writes (and --prune deletes in) <root>/<any branch name>, so a root such as /Users or a
# home folder /Users/<someone> would let a branch called "Drafts" prune that user's Drafts folder.
_SHARED_TOP_FOLDERS = ("users", "shared")
# Git folders (Repos) are written by Databricks' own git sync: the tool's copies and prunes would fight it.
_GIT_FOLDERS = "repos"
# Not workspace folders at all: Unity Catalog volumes and the DBFS mount.
_NOT_WORKSPACE = ("volumes", "dbfs")
_ROOT_HINT = "use a project folder of its own such as /Projects/forecasting, /Shared/forecasting or /Users/<you>/forecasting"


def _unprintable(text: str) -> bool:
    """Control, format (zero-width, bidi) and line-separator characters: invisible in a path, never meant."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def _path_problem(plain: str) -> str | None:
    """Why `plain` (an absolute path, one trailing '/' allowed) is not a clean workspace path, or None."""
    if not plain.startswith("/"):
        return "is not absolute"
    if _unprintable(plain):
        return "contains control or invisible characters"
    if "\\" in plain:
        return "contains a backslash"
    body = plain[1:].removesuffix("/") if plain != "/" else ""
    parts = body.split("/") if body else []
    if any(part == "" for part in parts):
        return "has an empty part ('//')"
    if any(part in (".", "..") for part in parts):
        return "has a '.' or '..' part"
    if any(part != part.strip() for part in parts):
        return "has a part that starts or ends with whitespace"
    return None


def check_workspace_root(workspace_root: str) -> str:
    """The project folder in the workspace, without its trailing '/'; refused with exit 2 unless it is a
    clean absolute path to a folder the project owns (see _SHARED_TOP_FOLDERS and _GIT_FOLDERS for why)."""
    name = f"BRICKTASKS_WORKSPACE_ROOT={workspace_root!r}"
    if not isinstance(workspace_root, str) or not workspace_root.startswith("/"):
        raise ConfigError(f"{name} must be an absolute project folder", "use a folder such as /Projects/forecasting")
    problem = _path_problem(workspace_root)
    if problem:
        raise ConfigError(f"{name} {problem}", _ROOT_HINT)
    root = workspace_root.rstrip("/")
    parts = [part.lower() for part in root.split("/")[1:]]
    if parts[:1] == ["workspace"]:  # /Workspace/Users/x is /Users/x
        parts = parts[1:]
    if not parts:
        raise ConfigError(f"{name} is the workspace's root folder", _ROOT_HINT)
    if parts[0] == _GIT_FOLDERS:
        raise ConfigError(f"{name} is inside /Repos, whose git folders Databricks' git sync writes", _ROOT_HINT)
    if parts[0] in _NOT_WORKSPACE:
        raise ConfigError(f"{name} is not a workspace folder", _ROOT_HINT)
    if parts[0] in _SHARED_TOP_FOLDERS and (len(parts) == 1 or (parts[0] == "users" and len(parts) == 2)):
        what = "a user's home folder" if len(parts) == 2 else "a folder shared by the whole workspace"
        raise ConfigError(f"{name} is {what}", _ROOT_HINT)
    return root


def check_library_root(library_root: str, workspace_root: str) -> None:
    """A library root is the project's `libraries` folder (or below it), a dbfs:/ folder or a Volume folder.

    Inside the workspace root only `libraries/` is safe: every other folder there is master/, CI/ or a
    branch's folder (any name a branch may have), which checkout --prune, deploy and clean-ci rewrite or delete."""
    hint = "use <workspace root>/libraries, dbfs:/<folder> or /Volumes/<catalog>/<schema>/<volume>[/<folder>]"
    scheme, plain = _split_scheme(library_root)
    problem = _path_problem(plain)
    if problem:
        raise UserInputError(f"BRICKTASKS_LIBRARY_ROOT={library_root!r} {problem}", hint)
    if library_root.startswith("dbfs:/"):
        if library_root.rstrip("/") == "dbfs:":
            raise UserInputError("BRICKTASKS_LIBRARY_ROOT may not be the DBFS root", hint)
        return
    if library_root.startswith("/Volumes/"):
        if len([part for part in library_root.split("/") if part]) < 4:
            raise UserInputError(f"BRICKTASKS_LIBRARY_ROOT={library_root!r} does not name a volume", hint)
        return
    if not is_within(library_root, workspace_root) or library_root.rstrip("/") == workspace_root.rstrip("/"):
        raise UserInputError(f"BRICKTASKS_LIBRARY_ROOT={library_root!r} is outside the workspace root", hint)
    for folder in ("master", "CI"):
        if is_within(library_root.lower(), join(workspace_root, folder).lower()):
            raise UserInputError(f"BRICKTASKS_LIBRARY_ROOT={library_root!r} is inside {folder}/", hint)
    first = posixpath.normpath(library_root)[len(workspace_root.rstrip("/")) + 1:].split("/")[0]
    if first.lower() != "libraries":
        raise UserInputError(
            f"BRICKTASKS_LIBRARY_ROOT={library_root!r} is inside {first}/, a branch's folder (checkout --prune would delete it)",
            hint,
        )


def check_local_root(local_root: Path, *, project_dir: Path, source_dir: Path, libs_dir: Path) -> None:
    """The local backend's folder may be inside the project (the default .databricks-local is) but never the
    project folder or above it, nor inside the folders the tasks upload (source) or build (libs)."""
    name = f"BRICKTASKS_LOCAL_ROOT={str(local_root)!r}"
    hint = "use a folder of its own such as .databricks-local (the default)"
    if _unprintable(str(local_root)):
        raise ConfigError("BRICKTASKS_LOCAL_ROOT contains control or invisible characters", hint)
    root = local_root.resolve()
    project = project_dir.resolve()
    if root == project:
        raise ConfigError(f"{name} is the project folder", hint)
    if project.is_relative_to(root):
        raise ConfigError(f"{name} contains the project folder", hint)
    for setting, folder in (("BRICKTASKS_SOURCE_DIR", source_dir), ("BRICKTASKS_LIBS_DIR", libs_dir)):
        resolved = folder.resolve()
        if root.is_relative_to(resolved):
            raise ConfigError(f"{name} is inside {setting} ({folder.name}/), whose files are uploaded or built", hint)


def check_output_folder(setting: str, folder: Path, *, source_dir: Path) -> None:
    """dist/ and ci-results/ are written by the tasks: inside the source folder the next checkout, ci or
    deploy would upload the wheels and reports with the notebooks."""
    if folder.resolve().is_relative_to(source_dir.resolve()):
        raise ConfigError(
            f"{setting}={str(folder)!r} is inside BRICKTASKS_SOURCE_DIR, whose files are uploaded",
            "use a folder beside it, such as the default",
        )
