"""A local root served as the Databricks REST API subset the tools use (workspace, DBFS, Files, runs, saved jobs).

    BRICKTASKS_EMULATOR_TOKEN=t python -m bricktasks.emulator --root DIR   # a process; needs a token or --no-auth
    start_emulator(root, token="t")                                        # a thread, for tests
    bricktasks.testing.emulator.EmulatorProcess(root, token="t")           # a subprocess, for tests and benchmarks

All state lives in a `LocalBackend` over the root, so what the local backend wrote is what
the emulator serves, and back.
"""
from __future__ import annotations

from bricktasks.emulator.server import EmulatorHandle, EmulatorOptions, start_emulator

__all__ = ["EmulatorHandle", "EmulatorOptions", "start_emulator"]
