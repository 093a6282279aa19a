"""Library uploads stream (issue 5): a 200 MB wheel goes to DBFS in blocks of at most 1 MB and to a
Volume in one streamed PUT, and the uploading process's peak memory stays under 150 MB; the same
wheel again costs one metadata request and no bytes. A workspace folder, which takes files of at
most 10 MB, refuses it before anything is sent.

The upload runs in a child process (the function `invoke upload-lib` calls) so its peak RSS is its
own, not pytest's."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from databricks.sdk.service.catalog import VolumeType
from e2e_helpers import SENTINEL_TOKEN, is_write

from bricktasks.console.console import Console
from bricktasks.errors import UserInputError
from bricktasks.libraries.upload import upload_libraries
from bricktasks.testing.emulator import EmulatorProcess, databricks_backend, workspace_client

MB = 2**20
WHEEL_SIZE_MB = 200
PEAK_RSS_LIMIT_MB = 150
# an add-block body: the 1 MB block in base64 plus the JSON around it
ADD_BLOCK_LIMIT = 4 * MB // 3 + 4096

# The peak is the process's VmHWM: getrusage's ru_maxrss survives exec, so a child of a big pytest
# process would report pytest's size.
UPLOADER = """
import json, sys
from pathlib import Path
from bricktasks.testing.emulator import databricks_backend
from bricktasks.libraries.upload import upload_libraries
from bricktasks.console.console import Console

url, token, destination, wheel = sys.argv[1:]
[uploaded] = upload_libraries(databricks_backend(url, token), [Path(wheel)], destination, console=Console(quiet=True))
[peak_kb] = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(json.dumps({"skipped": uploaded.skipped, "remote": uploaded.remote, "peak_mb": int(peak_kb) / 1024}))
"""


@pytest.fixture(scope="module")
def big_wheel(tmp_path_factory) -> Path:
    """A real (zip) wheel of about 200 MB: random bytes, stored uncompressed, as model weights would be."""
    path = tmp_path_factory.mktemp("wheels") / "bigmodel-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as wheel:
        wheel.writestr("bigmodel/__init__.py", "")
        with wheel.open("bigmodel/weights.bin", "w", force_zip64=True) as weights:
            for _ in range(WHEEL_SIZE_MB):
                weights.write(os.urandom(MB))
    return path


@pytest.fixture
def emulator(tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as running:
        yield running


def upload(emulator, destination: str, wheel: Path) -> tuple[dict, list[dict]]:
    """Upload `wheel` in a child process; what it reported and the API requests it made."""
    before = len(emulator.requests())
    result = subprocess.run(
        [sys.executable, "-c", UPLOADER, emulator.url, SENTINEL_TOKEN, destination, str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    requests = [r for r in emulator.requests()[before:] if not r["path"].startswith("/.well-known/")]
    return json.loads(result.stdout.splitlines()[-1]), requests


@pytest.mark.parametrize("destination", ["dbfs:/FileStore/forecasting/libraries/BI-1", "/Volumes/main/default/libs/BI-1"])
def test_a_200_mb_library_streams_and_an_identical_one_costs_one_metadata_request(emulator, big_wheel, destination, end_checks):
    end_checks.library_roots.append(destination.rsplit("/", 1)[0])  # BI-1 is a branch folder below it
    if destination.startswith("/Volumes/"):  # as on a workspace, a volume takes files once created
        workspace_client(emulator.url, SENTINEL_TOKEN).volumes.create("main", "default", "libs", VolumeType.MANAGED)
    size = big_wheel.stat().st_size
    first, requests = upload(emulator, destination, big_wheel)
    assert not first["skipped"]
    assert first["peak_mb"] < PEAK_RSS_LIMIT_MB, f"peak RSS {first['peak_mb']:.0f} MB while uploading {size // MB} MB"
    sent = [r for r in requests if r["bytes_in"]]
    if destination.startswith("dbfs:"):
        blocks = [r for r in sent if r["path"].endswith("/dbfs/add-block")]
        assert len(blocks) == -(-size // MB)  # every byte once, in 1 MB blocks
        assert max(r["bytes_in"] for r in blocks) <= ADD_BLOCK_LIMIT
    else:
        [put] = [r for r in sent if r["method"] == "PUT"]
        assert put["bytes_in"] == size
    stored = databricks_backend(emulator.url, SENTINEL_TOKEN).read_file(first["remote"])
    assert hashlib.sha256(stored).digest() == hashlib.sha256(big_wheel.read_bytes()).digest()

    again, requests = upload(emulator, destination, big_wheel)
    assert again["skipped"] and again["remote"] == first["remote"]
    assert len(requests) == 1 and not is_write(requests[0]) and not requests[0]["bytes_in"], requests


def test_a_workspace_folder_refuses_a_library_over_10_mb_before_sending_anything(emulator, big_wheel):
    backend = databricks_backend(emulator.url, SENTINEL_TOKEN)
    before = len(emulator.requests())
    with pytest.raises(UserInputError, match=r"bigmodel-0\.1\.0-py3-none-any\.whl is 200\.\d MB .* at most 10 MB") as refusal:
        upload_libraries(backend, [big_wheel], "/Projects/forecasting/libraries/BI-1", console=Console(quiet=True))
    assert "/Volumes/" in refusal.value.one_line()
    assert emulator.requests()[before:] == []
