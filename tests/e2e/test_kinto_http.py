"""The official Python client, kinto-http, against a real ``kintogql serve`` on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kinto_http import Client, KintoException
from kinto_http.exceptions import BucketNotFound

from tests.e2e.server import running_server

pytestmark = [pytest.mark.slow]

SETTINGS = {
    "KINTOGQL_USERID_HMAC_SECRET": "kinto-http-secret",
    "KINTOGQL_PAGINATE_BY": "10",
    "KINTOGQL_INCLUDES": "kinto.plugins.flush",
}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = Path(tmp_path_factory.mktemp("server")) / "serve.log"
    with running_server("kintogql_kinto_http", SETTINGS, log) as url:
        yield url


@pytest.fixture
def alice(server_url: str) -> Client:
    client = Client(server_url=server_url, auth=("alice", "pw"))
    client.session.request("post", "/__flush__")
    return client


def test_client_creates_buckets_collections_and_records(alice: Client) -> None:
    alice.create_bucket(id="blog")
    alice.create_collection(id="articles", bucket="blog")
    created = alice.create_record(data={"title": "hello"}, bucket="blog", collection="articles")
    fetched = alice.get_record(id=created["data"]["id"], bucket="blog", collection="articles")
    assert fetched["data"]["title"] == "hello"
    assert [r["title"] for r in alice.get_records(bucket="blog", collection="articles")] == [
        "hello"
    ]


def test_client_grants_a_second_user_read(alice: Client, server_url: str) -> None:
    bob = Client(server_url=server_url, auth=("bob", "pw"))
    bob_id = bob.server_info()["user"]["id"]
    alice.create_bucket(id="shared")
    alice.create_collection(id="c", bucket="shared", permissions={"read": [bob_id]})
    alice.create_record(id="r1", data={"x": 1}, bucket="shared", collection="c")
    assert bob.get_record(id="r1", bucket="shared", collection="c")["data"]["x"] == 1
    with pytest.raises(KintoException) as denied:
        bob.update_record(id="r1", data={"x": 2}, bucket="shared", collection="c")
    assert denied.value.response.status_code == 403


def test_client_pages_through_a_thousand_records(alice: Client) -> None:
    alice.create_bucket(id="big")
    alice.create_collection(id="c", bucket="big")
    with alice.batch(bucket="big", collection="c") as batch:
        for i in range(1000):
            batch.create_record(data={"i": i})
    records = alice.get_records(bucket="big", collection="c")
    assert sorted(r["i"] for r in records) == list(range(1000))


def test_client_syncs_with_since(alice: Client) -> None:
    alice.create_bucket(id="sync")
    alice.create_collection(id="c", bucket="sync")
    alice.create_record(id="a", data={}, bucket="sync", collection="c")
    timestamp = alice.get_records_timestamp(bucket="sync", collection="c")
    alice.create_record(id="b", data={}, bucket="sync", collection="c")
    alice.delete_record(id="a", bucket="sync", collection="c")
    changes = alice.get_records(bucket="sync", collection="c", _since=timestamp)
    by_id = {r["id"]: r for r in changes}
    assert set(by_id) == {"a", "b"}
    assert by_id["a"]["deleted"] is True


def test_client_raises_its_own_exceptions(alice: Client, server_url: str) -> None:
    with pytest.raises(BucketNotFound):
        alice.get_bucket(id="missing")
    alice.create_bucket(id="pre")
    alice.create_collection(id="c", bucket="pre")
    record = alice.create_record(id="r", data={"v": 1}, bucket="pre", collection="c")
    with pytest.raises(KintoException) as failed:
        alice.update_record(
            id="r",
            data={"v": 2},
            bucket="pre",
            collection="c",
            if_match=record["data"]["last_modified"] - 1,
        )
    assert failed.value.response.status_code == 412
    stranger = Client(server_url=server_url, auth=("mallory", "pw"))
    with pytest.raises(KintoException) as forbidden:
        stranger.get_record(id="r", bucket="pre", collection="c")
    assert forbidden.value.response.status_code == 403


def test_paging_while_a_writer_commits_loses_nothing(alice: Client, server_url: str) -> None:
    """Issue 8: `get_records(_since=...)` pages while another client writes."""
    alice.create_bucket(id="paging")
    alice.create_collection(id="c", bucket="paging")
    with alice.batch(bucket="paging", collection="c") as batch:
        for i in range(60):
            batch.create_record(data={"i": i})
    writer = Client(server_url=server_url, auth=("alice", "pw"))
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set() and n < 50:
            writer.create_record(data={"late": n}, bucket="paging", collection="c")
            n += 1

    thread = threading.Thread(target=write)
    local: dict[str, dict[str, object]] = {}
    thread.start()
    try:
        for record in alice.get_records(bucket="paging", collection="c", _since=0):
            local[record["id"]] = record
        etag = alice.get_records_timestamp(bucket="paging", collection="c")
    finally:
        stop.set()
        thread.join()
    # The timestamp saved after the pull must not cover records the pull did not return.
    pulled_max = max(int(r["last_modified"]) for r in local.values())  # type: ignore[call-overload]
    for record in alice.get_records(bucket="paging", collection="c", _since=pulled_max):
        local[record["id"]] = record
    server = {r["id"] for r in alice.get_records(bucket="paging", collection="c")}
    assert server <= set(local)
    assert int(etag) >= pulled_max
