"""The emulator's Unity Catalog endpoints on the wire: bad input, real error codes, paging, older roots."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from bricktasks.backends.local import LocalBackend
from bricktasks.testing.emulator import raw_api, start_emulator

TOKEN = "uc-token"
UC = "/api/2.1/unity-catalog"


@pytest.fixture
def emulator(tmp_path: Path):
    with start_emulator(tmp_path / "root", token=TOKEN, request_log=tmp_path / "requests.jsonl") as handle:
        yield handle


@pytest.fixture
def api(emulator):
    with raw_api(emulator.url, TOKEN) as call:
        yield call


def _disk(root: Path) -> set[str]:
    """Every path under the root's parent (the emulator must write nothing outside its root)."""
    return {str(path.relative_to(root.parent)) for path in root.parent.rglob("*") if not path.name.endswith(".jsonl")}


BAD_CREATES = [
    ("catalogs", {}, 400, "INVALID_PARAMETER_VALUE", "Missing required field: name"),
    ("catalogs", {"name": 7}, 400, "INVALID_PARAMETER_VALUE", "must be a string"),
    ("catalogs", {"name": "a b"}, 400, "INVALID_PARAMETER_VALUE", "is not a valid name"),
    ("catalogs", {"name": "a.b"}, 400, "INVALID_PARAMETER_VALUE", "is not a valid name"),
    ("catalogs", {"name": "../up"}, 400, "INVALID_PARAMETER_VALUE", "is not a valid name"),
    ("catalogs", {"name": "a\u0000b"}, 400, "INVALID_PARAMETER_VALUE", "is not a valid name"),
    ("catalogs", {"name": "tab\there"}, 400, "INVALID_PARAMETER_VALUE", "is not a valid name"),
    ("catalogs", {"name": "n" * 256}, 400, "INVALID_PARAMETER_VALUE", "is not a valid name"),
    ("catalogs", {"name": "main"}, 409, "CATALOG_ALREADY_EXISTS", "Catalog 'main' already exists."),
    ("catalogs", {"name": "ok", "comment": ["x"]}, 400, "INVALID_PARAMETER_VALUE", "comment must be a string"),
    ("schemas", {"name": "s"}, 400, "INVALID_PARAMETER_VALUE", "Missing required field: catalog_name"),
    ("schemas", {"name": "s", "catalog_name": "nope"}, 404, "CATALOG_DOES_NOT_EXIST", "Catalog 'nope' does not exist."),
    ("schemas", {"name": "default", "catalog_name": "main"}, 409, "SCHEMA_ALREADY_EXISTS", "Schema 'main.default' already exists."),
    ("schemas", {"name": "s", "catalog_name": "main", "properties": {"a": 1}}, 400, "INVALID_PARAMETER_VALUE", "properties"),
    ("volumes", {"catalog_name": "main", "schema_name": "default", "name": "v"}, 400, "INVALID_PARAMETER_VALUE",
     "Missing required field: volume_type"),
    ("volumes", {"catalog_name": "main", "schema_name": "default", "name": "v", "volume_type": "WEIRD"}, 400,
     "INVALID_PARAMETER_VALUE", "MANAGED or EXTERNAL"),
    ("volumes", {"catalog_name": "main", "schema_name": "default", "name": "v", "volume_type": "EXTERNAL",
                 "storage_location": "s3://b/x"}, 400, "INVALID_PARAMETER_VALUE", "external location"),
    ("volumes", {"catalog_name": "main", "schema_name": "default", "name": "v", "volume_type": "MANAGED",
                 "storage_location": "s3://b/x"}, 400, "INVALID_PARAMETER_VALUE", "CreateVolume storage_location can not be provided."),
    ("volumes", {"catalog_name": "main", "schema_name": "nope", "name": "v", "volume_type": "MANAGED"}, 404,
     "SCHEMA_DOES_NOT_EXIST", "Schema 'main.nope' does not exist."),
    ("volumes", {"catalog_name": "main", "schema_name": "..", "name": "v", "volume_type": "MANAGED"}, 400,
     "INVALID_PARAMETER_VALUE", "is not a valid name"),
]


@pytest.mark.parametrize(("kind", "body", "status", "code", "message"), BAD_CREATES)
def test_a_bad_create_answers_the_real_error_and_writes_nothing(api, emulator, kind, body, status, code, message):
    api("GET", f"{UC}/catalogs")  # main.default exist before the snapshot
    before = _disk(emulator.root)
    answer = api("POST", f"{UC}/{kind}", json=body)
    assert (answer.status_code, answer.json()["error_code"]) == (status, code), answer.text
    assert message in answer.json()["message"]
    assert _disk(emulator.root) == before


@pytest.mark.parametrize("body", [b"[1]", b"{not json", b'"text"'])
def test_a_body_that_is_no_json_object_is_a_400(api, body):
    answer = api("POST", f"{UC}/volumes", data=body)
    assert (answer.status_code, answer.json()["error_code"]) == (400, "MALFORMED_REQUEST")


@pytest.mark.parametrize("name", ["main.default.nope", "main.nope.v", "nope.default.v", "main.default", "a.b.c.d",
                                  "..%2F..%2Fetc.x.y", "%2e%2e.default.v", "main.default.%2e%2e", "main.default.a%00b"])
def test_reading_an_unknown_or_malformed_volume_is_a_404(api, emulator, name):
    api("GET", f"{UC}/catalogs")  # main.default exist before
    answer = api("GET", f"{UC}/volumes/{name}")
    assert answer.status_code in (400, 404), answer.text  # NUL: the server's 400 before any handler
    assert answer.json()["error_code"] in ("NOT_FOUND", "SCHEMA_DOES_NOT_EXIST", "CATALOG_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")
    assert api("DELETE", f"{UC}/volumes/{name}").status_code in (400, 404)
    assert (emulator.root / "volumes" / "main" / "default").is_dir()  # nothing was deleted


def test_unknown_ids_answer_each_kinds_code(api):
    assert api("GET", f"{UC}/catalogs/nope").json() == {"error_code": "CATALOG_DOES_NOT_EXIST", "message": "Catalog 'nope' does not exist."}
    assert api("GET", f"{UC}/schemas/main.nope").json()["error_code"] == "SCHEMA_DOES_NOT_EXIST"
    assert api("GET", f"{UC}/volumes/main.default.nope").json() == {
        "error_code": "NOT_FOUND", "message": "Volume 'main.default.nope' does not exist."}
    assert api("DELETE", f"{UC}/schemas/nope.x").status_code == 404
    assert api("GET", f"{UC}/schemas").json()["error_code"] == "INVALID_PARAMETER_VALUE"  # no catalog_name
    assert api("GET", f"{UC}/volumes", params={"catalog_name": "main"}).json()["message"] == "Missing required field: schema_name"
    assert api("GET", f"{UC}/schemas", params={"catalog_name": "nope"}).status_code == 404


def test_lists_page_and_omit_the_token_on_the_last_page(api):
    for name in ("b", "a", "c"):
        assert api("POST", f"{UC}/volumes", json={"catalog_name": "main", "schema_name": "default", "name": name,
                                                  "volume_type": "MANAGED"}).status_code == 200
    first = api("GET", f"{UC}/volumes", params={"catalog_name": "main", "schema_name": "default", "max_results": 2}).json()
    assert [v["name"] for v in first["volumes"]] == ["a", "b"]
    rest = api("GET", f"{UC}/volumes", params={"catalog_name": "main", "schema_name": "default", "max_results": 2,
                                               "page_token": first["next_page_token"]}).json()
    assert [v["name"] for v in rest["volumes"]] == ["c"] and "next_page_token" not in rest
    everything = api("GET", f"{UC}/volumes", params={"catalog_name": "main", "schema_name": "default", "max_results": 0}).json()
    assert [v["full_name"] for v in everything["volumes"]] == ["main.default.a", "main.default.b", "main.default.c"]
    for bad in ({"max_results": -1}, {"max_results": "x"}, {"page_token": "zz"}):
        answer = api("GET", f"{UC}/catalogs", params=bad)
        assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_the_files_api_refuses_paths_outside_created_volumes_and_the_volume_root(api, emulator):
    api("GET", f"{UC}/catalogs")  # main.default exist before the snapshot
    before = _disk(emulator.root)
    for method, path in (("PUT", "/api/2.0/fs/files/Volumes/main/default/nope/x.txt"),
                         ("PUT", "/api/2.0/fs/directories/Volumes/main/default/nope/d"),
                         ("GET", "/api/2.0/fs/directories/Volumes/main/default/nope"),
                         ("HEAD", "/api/2.0/fs/files/Volumes/main/default/nope/x.txt"),
                         ("PUT", "/api/2.0/fs/files/Volumes/main/default/%2e%2e/x.txt"),
                         ("PUT", "/api/2.0/fs/files/Volumes/main/%2e%2e/%2e%2e/x.txt")):
        answer = api(method, path, data=b"x")
        assert answer.status_code == 404, (method, path, answer.status_code)
    assert api("PUT", "/api/2.0/fs/files/Volumes/main/default/x.txt", data=b"x").status_code == 404  # no volume x.txt
    assert api("PUT", "/api/2.0/fs/directories/Volumes/main/default", data=b"x").status_code == 400  # names no volume
    assert _disk(emulator.root) == before

    api("POST", f"{UC}/volumes", json={"catalog_name": "main", "schema_name": "default", "name": "v", "volume_type": "MANAGED"})
    assert api("PUT", "/api/2.0/fs/files/Volumes/main/default/v/x.txt", data=b"x").status_code == 204
    assert api("PUT", "/api/2.0/fs/files/Volumes/main/default/v/a/%2e%2e/%2e%2e/escape", data=b"x").status_code == 400
    answer = api("DELETE", "/api/2.0/fs/directories/Volumes/main/default/v")
    assert answer.status_code == 400 and "delete the volume" in answer.json()["message"]
    assert api("GET", f"{UC}/volumes/main.default.v").status_code == 200
    log = [json.loads(line) for line in Path(emulator.root.parent / "requests.jsonl").read_text().splitlines()]
    assert log and all(entry["status"] != 500 for entry in log)


def test_an_older_roots_volume_folders_count_as_created_and_deleting_main_lasts(tmp_path):
    root = tmp_path / "root"
    LocalBackend(root).mkdirs_files("/Volumes/ml/forecasting/ci_sandbox/input")  # as local runs left it
    with start_emulator(root, token=TOKEN) as emulator:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        read = session.get(f"{emulator.url}{UC}/volumes/ml.forecasting.ci_sandbox", timeout=10).json()
        assert (read["full_name"], read["volume_type"], bool(read["volume_id"])) == ("ml.forecasting.ci_sandbox", "MANAGED", True)
        listed = session.get(f"{emulator.url}{UC}/catalogs", timeout=10).json()["catalogs"]
        assert [c["name"] for c in listed] == ["main", "ml"]
        listing = session.get(f"{emulator.url}/api/2.0/fs/directories/Volumes/ml/forecasting/ci_sandbox", timeout=10).json()
        assert [e["name"] for e in listing["contents"]] == ["input"]
        assert session.delete(f"{emulator.url}{UC}/catalogs/main", params={"force": "true"}, timeout=10).status_code == 200
    with start_emulator(root, token=TOKEN) as emulator:  # a restart does not bring main back
        names = [c["name"] for c in requests.get(f"{emulator.url}{UC}/catalogs", headers={"Authorization": f"Bearer {TOKEN}"},
                                                 timeout=10).json()["catalogs"]]
        assert names == ["ml"]


def test_what_a_client_creates_is_owned_by_the_emulators_user(tmp_path: Path):
    """created_by/owner and a saved job's creator name the token's user (--user), as on Databricks."""
    user = "ana.lyst@example.com"
    with start_emulator(tmp_path / "root", token=TOKEN, user=user) as handle, raw_api(handle.url, TOKEN) as call:
        volume = call("POST", f"{UC}/volumes", json={"catalog_name": "main", "schema_name": "default", "name": "v",
                                                      "volume_type": "MANAGED"})
        assert volume.status_code == 200, volume.text
        assert {volume.json()[key] for key in ("owner", "created_by", "updated_by")} == {user}
        schema = call("POST", f"{UC}/schemas", json={"catalog_name": "main", "name": "mine"}).json()
        assert schema["owner"] == user
    assert LocalBackend(tmp_path / "root").jobs.creator == "emulator@localhost"  # a local backend's own default
