"""kinto-http against a real ``kintogql serve`` process configured like Kinto's kinto-http
test server (accounts, ``paginate_by = 5``, flush, permissions endpoint, schema validation,
attachments), on PostgreSQL database ``kintogql_features_e2e``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

kinto_http = pytest.importorskip("kinto_http")

pytestmark = pytest.mark.slow

PG_ADMIN = os.environ.get("KINTOGQL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
E2E_URL = PG_ADMIN.rsplit("/", 1)[0] + "/kintogql_features_e2e"
KINTOGQL = [sys.executable, "-m", "kintogql.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _create_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if (
            conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'kintogql_features_e2e'"
            ).fetchone()
            is None
        ):
            conn.execute(
                "CREATE DATABASE kintogql_features_e2e TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _create_database()
    port = _free_port()
    files = tmp_path_factory.mktemp("attachments")
    env = {
        **os.environ,
        "KINTOGQL_STORAGE_URL": E2E_URL,
        "KINTOGQL_USERID_HMAC_SECRET": "e2e-secret",
        "KINTOGQL_INCLUDES": "kinto.plugins.accounts kinto.plugins.history kinto.plugins.flush "
        "kinto.plugins.default_bucket kinto_attachment",
        "KINTOGQL_MULTIAUTH_POLICIES": "account",
        "KINTOGQL_ACCOUNT_CREATE_PRINCIPALS": "system.Everyone",
        "KINTOGQL_ACCOUNT_WRITE_PRINCIPALS": "account:user",
        "KINTOGQL_ACCOUNT_READ_PRINCIPALS": "account:user",
        "KINTOGQL_BUCKET_CREATE_PRINCIPALS": "account:user",
        "KINTOGQL_PAGINATE_BY": "5",
        "KINTOGQL_EXPERIMENTAL_PERMISSIONS_ENDPOINT": "true",
        "KINTOGQL_EXPERIMENTAL_COLLECTION_SCHEMA_VALIDATION": "true",
        "KINTOGQL_ATTACHMENT_BASE_PATH": str(files),
        "KINTOGQL_ATTACHMENT_BASE_URL": f"http://127.0.0.1:{port}/attachments/",
    }
    subprocess.run([*KINTOGQL, "migrate"], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [*KINTOGQL, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/__heartbeat__", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not start: {process.stderr.read() if process.stderr else ''}"
                )
            time.sleep(0.2)
        httpx.post(f"{url}/__flush__")
        user = kinto_http.Client(server_url=url)
        user.session.request("put", "/accounts/user", data={"password": "pass"})
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def client(server: str) -> kinto_http.Client:
    c = kinto_http.Client(server_url=server, auth=("user", "pass"), bucket="b", collection="c")
    c.create_bucket(if_not_exists=True)
    c.create_collection(if_not_exists=True)
    return c


def test_accounts_create_login_and_password_change(server: str) -> None:
    """K-ACC-2, K-ACC-5, K-ACC-3."""
    anonymous = kinto_http.Client(server_url=server)
    anonymous.session.request("put", "/accounts/alice", data={"password": "one"})
    alice = kinto_http.Client(server_url=server, auth=("alice", "one"))
    assert alice.server_info()["user"]["id"] == "account:alice"
    alice.session.request("patch", "/accounts/alice", data={"password": "two"})
    assert "user" not in kinto_http.Client(server_url=server, auth=("alice", "one")).server_info()
    alice2 = kinto_http.Client(server_url=server, auth=("alice", "two"))
    assert alice2.server_info()["user"]["id"] == "account:alice"
    caps = alice2.server_info()["capabilities"]
    assert {
        "accounts",
        "history",
        "flush_endpoint",
        "permissions_endpoint",
        "schema",
        "attachments",
    } <= set(caps)


def test_batch(client: kinto_http.Client) -> None:
    """K-BAT-1..5."""
    with client.batch() as batch:
        for i in range(7):
            batch.create_record(data={"n": i})
    results = batch.results()
    assert len(results) == 7
    records = client.get_records()  # paginated by 5, followed by the client
    assert sorted(r["n"] for r in records if "n" in r)[-7:] == list(range(7))


def test_history(client: kinto_http.Client) -> None:
    """K-HIST-1, K-HIST-2."""
    client.create_record(id="h1", data={"x": 1}, if_not_exists=True)
    client.update_record(id="h1", data={"x": 2})
    history = client.get_history(bucket="b")
    actions = [(e["action"], e["uri"]) for e in history if e["uri"].endswith("/records/h1")]
    assert actions[:2] == [
        ("update", "/buckets/b/collections/c/records/h1"),
        ("create", "/buckets/b/collections/c/records/h1"),
    ]
    # Plural DELETE is paginated like GET (paginate_by = 5, K-MTH-4): purge page by page.
    for _ in range(20):
        if not client.get_history(bucket="b"):
            break
        client.purge_history(bucket="b")
    assert client.get_history(bucket="b") == []


def test_attachments(client: kinto_http.Client, tmp_path: Path) -> None:
    """K-ATT-1, K-ATT-3."""
    source = tmp_path / "notes.txt"
    source.write_bytes(b"attached!")
    client.create_record(id="att", data={"t": 1}, if_not_exists=True)
    client.add_attachment(id="att", filepath=str(source))
    record = client.get_record(id="att")["data"]
    location = record["attachment"]["location"]
    served = httpx.get(location)
    assert served.content == b"attached!"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    client.remove_attachment(id="att")
    assert client.get_record(id="att")["data"]["attachment"] is None
    assert httpx.get(location).status_code == 404


def test_permissions_endpoint(client: kinto_http.Client) -> None:
    """K-PRM-9."""
    # kinto-http reads one page only (paginate_by = 5): leave the many records out.
    uris = {p["uri"] for p in client.get_permissions(exclude_resource_names=["record"])}
    assert {"/buckets/b", "/buckets/b/collections/c"} <= uris
