"""The `bricktasks` command: `--version`, `init` (the workflow scaffolded into a repository) and
`emulator` (the same as `python -m bricktasks.emulator`, its arguments passed through).

The tasks themselves are `invoke`'s (the repository's tasks.py); this command is what comes before them.
Bad input: one line on stderr, exit 2, nothing written.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bricktasks import __version__
from bricktasks.errors import BricktasksError
from bricktasks.settings import NO_LIBRARIES

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bricktasks", description="Invoke tasks for a Git-based Databricks ML workflow.")
    parser.add_argument("--version", action="version", version=f"bricktasks {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{init,emulator}")
    init = commands.add_parser(
        "init", help="scaffold the workflow into a repository",
        description="Write tasks.py, .env.example, conf/ configs, the helper notebooks, jobs/, a CI template and "
        ".gitignore entries into a repository. With no flags it detects what it can and proposes defaults "
        "(asking only on a terminal). Never overwrites a file without --force.",
    )
    init.add_argument("--target", default=".", help="the repository's folder (default: the current one)")
    init.add_argument("--name", help="project name: the workspace folder /Projects/<name>, the production job (default: detected)")
    init.add_argument("--source", help="folder of the notebooks, relative to the target (default: detected, else notebooks)")
    init.add_argument(
        "--libs", help=f"comma-separated library folders (pyproject.toml or setup.py; '.' = the repository), or {NO_LIBRARIES} "
        "(default: detected)",
    )
    init.add_argument("--workspace-root", help="project folder in the workspace (default: /Projects/<name>)")
    init.add_argument("--ci", help="github | azure | gitlab | jenkins: the CI template to write (default: detected, else github)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist and differ")
    init.add_argument(
        "--wire-notebooks", action="store_true",
        help="add %%run ./install_libraries and ./set_environment cells to the notebooks lacking them",
    )
    init.add_argument("--dry-run", action="store_true", help="print what would be written; write nothing")
    commands.add_parser("emulator", help="serve a local root as the Databricks REST API (python -m bricktasks.emulator)", add_help=False)
    return parser


def _init(args: argparse.Namespace) -> int:
    from bricktasks.scaffold.detect import detect
    from bricktasks.scaffold.init import scaffold
    from bricktasks.scaffold.options import check_options, check_target

    target = check_target(Path(args.target))
    found = detect(target)
    proposed = {
        "name": args.name or found.name,
        "source": args.source or found.source,
        "libs": args.libs or (",".join(found.libs) if found.libs else NO_LIBRARIES),
    }
    proposed["workspace_root"] = args.workspace_root or f"/Projects/{proposed['name']}"
    proposed["ci"] = args.ci or found.ci
    given = any(getattr(args, key) for key in ("name", "source", "libs", "workspace_root", "ci"))
    if not given:
        if sys.stdin.isatty():
            for key, value in list(proposed.items()):
                if key == "workspace_root":  # follows the name just answered
                    value = f"/Projects/{proposed['name']}"
                answer = input(f"{key.replace('_', ' ')} [{value}]: ").strip()
                proposed[key] = answer or value
        else:
            print("using the detected defaults: " + ", ".join(f"--{key.replace('_', '-')} {value}" for key, value in proposed.items()))
    named = [part.strip() for part in proposed["libs"].split(",") if part.strip()]
    libs = [] if [part.lower() for part in named] == [NO_LIBRARIES] else named
    options = check_options(
        target, name=proposed["name"], source=proposed["source"], libs=libs, workspace_root=proposed["workspace_root"], ci=proposed["ci"],
    )
    scaffold(target, options, force=args.force, wire=args.wire_notebooks, dry_run=args.dry_run, say=print)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["emulator"]:
        from bricktasks.emulator.__main__ import main as emulator_main

        return emulator_main(arguments[1:])
    args = _parser().parse_args(arguments)
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        return _init(args)
    except BricktasksError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
