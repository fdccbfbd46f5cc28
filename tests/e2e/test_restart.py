"""With PostgreSQL, data survives a server restart; the memory default answers `GET /v1/`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.server import HOST, KINTOGQL, REPO_ROOT, free_port, running_server

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
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINTOGQL_")}
    log = (tmp_path / "memory.log").open("wb")
    proc = subprocess.Popen(
        [str(KINTOGQL), "serve", "--host", HOST, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = call("GET", f"http://{HOST}:{port}/v1/")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    assert status == 200
    assert "basicauth" in body["capabilities"]  # type: ignore[operator]
    assert body["user"]["id"].startswith("basicauth:")  # type: ignore[index]
    assert "generated a random one" in (tmp_path / "memory.log").read_text()
