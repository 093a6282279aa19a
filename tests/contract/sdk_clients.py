"""The real SDK's WorkspaceClient for contract tests written against `w.<service>.*`: pointed at an
in-process emulator, or (marked `live`, skipped without DATABRICKS_HOST) at a real workspace.

    from sdk_clients import sdk_client      # a module-scoped fixture: (kind, WorkspaceClient)
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from databricks.sdk import WorkspaceClient

from bricktasks.testing.emulator import EmulatorHandle, start_emulator, workspace_client

__all__ = ["SdkPlace", "sdk_client"]

TOKEN = "contract-token"


@dataclass
class SdkPlace:
    """A client and what the test may rely on: the emulator behind it (None on a live workspace)."""

    kind: str
    w: WorkspaceClient
    emulator: EmulatorHandle | None = None


@pytest.fixture(scope="module", params=["emulator", pytest.param("live", marks=pytest.mark.live)])
def sdk_client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkPlace]:
    if request.param == "live":
        if not os.environ.get("DATABRICKS_HOST"):
            pytest.skip("live contract tests need DATABRICKS_HOST (and a token or profile)")
        yield SdkPlace("live", WorkspaceClient())
        return
    with start_emulator(tmp_path_factory.mktemp("sdk") / "root", token=TOKEN) as emulator:
        yield SdkPlace("emulator", workspace_client(emulator.url, TOKEN), emulator)
