"""With PostgreSQL, data survives a server restart; the memory default answers `GET /v1/`."""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.server import running_server, serving

pytestmark = [pytest.mark.slow]

SETTINGS = {"KINTOGQL_USERID_HMAC_SECRET": "restart-secret"}
AUTH = "Basic " + base64.b64encode(b"alice:pw").decode()


def call(method: str, url: str, body: object = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", AUTH)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"{}")


def test_records_survive_a_restart_on_postgresql(tmp_path: Path) -> None:
    with running_server("kintogql_restart", SETTINGS, tmp_path / "first.log") as url:
        call("PUT", f"{url}/buckets/b")
        call("PUT", f"{url}/buckets/b/collections/c")
        status, created = call(
            "PUT", f"{url}/buckets/b/collections/c/records/r", {"data": {"x": 1}}
        )
        assert status in (200, 201)
    with running_server("kintogql_restart", SETTINGS, tmp_path / "second.log") as url:
        status, body = call("GET", f"{url}/buckets/b/collections/c/records/r")
    assert status == 200
    assert body["data"] == created["data"]


def test_the_memory_default_serves_the_root_document(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINTOGQL_")}
    with serving(env, tmp_path / "memory.log") as url:
        status, body = call("GET", f"{url}/")
    assert status == 200
    assert "basicauth" in body["capabilities"]  # type: ignore[operator]
    assert body["user"]["id"].startswith("basicauth:")  # type: ignore[index]
    assert "generated a random one" in (tmp_path / "memory.log").read_text()
