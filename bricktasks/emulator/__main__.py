"""`python -m bricktasks.emulator --root DIR --port N`: serve a local root as the Databricks REST API.

Prints exactly one line, `bricktasks emulator listening on http://HOST:PORT`, once it accepts
connections, and exits 0 on SIGINT or SIGTERM.

It needs a token (`$BRICKTASKS_EMULATOR_TOKEN`, or `--token`) and answers 401 without it; it
refuses to start with neither (exit 2, one line), so an emulator is never open by accident:
`--no-auth` opens it on purpose. The token leaves the process environment once read, so the
runs it starts (notebook subprocesses) never inherit it.

Compute as a workspace offers it: `--no-serverless` answers as a workspace without serverless
jobs (a task naming no cluster is refused with the real API's 400); `--cluster-start-s N` keeps a
task on a new job cluster PENDING ("Waiting for cluster") N seconds before it starts, as a classic
cluster's start-up does (serverless tasks and existing clusters start at once).

`--run-schedules` fires saved jobs' UNPAUSED quartz schedules at their times (in the schedule's
timezone) as run-now with trigger PERIODIC; PAUSED schedules never fire; max_concurrent_runs applies.
Expressions using L, W or # are not fired (logged once on stderr).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from bricktasks.emulator.faults import DEFAULT_FAULT_KINDS, parse_fault_kinds
from bricktasks.emulator.routing import QUIRKS
from bricktasks.emulator.server import EmulatorHandle, EmulatorOptions, EmulatorServer

TOKEN_ENV = "BRICKTASKS_EMULATOR_TOKEN"  # keeps the token out of argv (ps shows argv)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bricktasks.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path, help="local backend root to serve (created if missing)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"require 'Authorization: Bearer TOKEN' (default: ${TOKEN_ENV}; prefer it: ps shows argv)",
    )
    parser.add_argument(
        "--no-auth", action="store_true", help="accept every request, with or without a token (only on purpose)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added before every request is handled")
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second; beyond it 429 + Retry-After")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability that an API request gets a fault")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault stream (same seed, same faults)")
    parser.add_argument(
        "--fault-kinds", default=",".join(DEFAULT_FAULT_KINDS), help="comma-separated: 503, drop, drop-after"
    )
    parser.add_argument("--request-log", type=Path, default=None, help="append one JSON line per request here")
    parser.add_argument(
        "--quirk", action="append", default=[], choices=QUIRKS, help="reproduce a real-API misbehaviour (repeatable)"
    )
    parser.add_argument(
        "--no-serverless", action="store_true",
        help="answer as a workspace without serverless jobs: a task naming no cluster is refused (400)",
    )
    parser.add_argument(
        "--cluster-start-s", type=float, default=0.0, metavar="N",
        help="a task on a new job cluster stays PENDING N seconds before it starts (serverless and existing clusters: at once)",
    )
    parser.add_argument(
        "--run-schedules", action="store_true",
        help="fire saved jobs' UNPAUSED quartz schedules at their times, in their timezone, as PERIODIC runs "
             "(PAUSED never fires; L, W, # are not emulated)",
    )
    args = parser.parse_args(argv)
    if args.cluster_start_s < 0:
        parser.error("--cluster-start-s is a number of seconds, 0 or more")
    try:
        args.fault_kinds = parse_fault_kinds(args.fault_kinds)
    except ValueError as exc:
        parser.error(str(exc))
    if not 0.0 <= args.fault_rate <= 1.0:
        parser.error("--fault-rate is a probability between 0 and 1")
    if args.rate_limit is not None and args.rate_limit <= 0:
        parser.error("--rate-limit must be positive")
    return args


def auth_problem(token: str | None, no_auth: bool) -> str | None:
    """Why the emulator must not start with this auth configuration, or None."""
    if no_auth and token:
        return f"error: both a token and --no-auth were given; unset {TOKEN_ENV} (and --token) or drop --no-auth"
    if not no_auth and not token:
        return (
            f"error: the emulator needs a token; set {TOKEN_ENV} (or pass --token), "
            "or pass --no-auth to accept unauthenticated requests on purpose"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    token = (args.token or "").strip() or None
    os.environ.pop(TOKEN_ENV, None)  # read once: the runs this process starts must not inherit it
    problem = auth_problem(token, args.no_auth)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    options = EmulatorOptions(
        host=args.host, port=args.port, token=token, no_auth=args.no_auth, latency_ms=args.latency_ms,
        rate_limit=args.rate_limit, fault_rate=args.fault_rate, seed=args.seed, fault_kinds=args.fault_kinds,
        request_log=args.request_log, quirks=tuple(args.quirk), serverless=not args.no_serverless,
        cluster_start_s=args.cluster_start_s, run_schedules=args.run_schedules,
    )
    args.root.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    # the handlers only set a flag: shutting the server down from inside a signal handler
    # running on the serving thread would deadlock
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        server = EmulatorServer(args.root, options)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    handle = EmulatorHandle(server)
    print(f"bricktasks emulator listening on {handle.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
