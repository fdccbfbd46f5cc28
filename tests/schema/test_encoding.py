"""GraphQL HTTP responses are encoded with orjson, with the standard library as fallback."""

from __future__ import annotations

import json

import httpx

from kintogql.schema.encoding import encode_response
from tests.conftest import ALICE
from tests.schema.conftest import GRAPHQL


def test_a_response_is_compact_utf8_json():
    body = encode_response({"data": {"title": "café ☕", "n": [1, 2.5, None, True]}})
    assert body == '{"data":{"title":"café ☕","n":[1,2.5,null,true]}}'.encode()


def test_integers_beyond_64_bits_stay_exact():
    big = 2**70 + 1
    assert json.loads(encode_response({"data": {"n": big}})) == {"data": {"n": big}}


async def test_a_graphql_answer_round_trips_non_ascii_data(client: httpx.AsyncClient, bucket: str):
    data = {"id": "r1", "title": "Zürich - 東京", "nested": {"emoji": "🚀"}}
    await client.put("/v1/buckets/b/collections/c/records/r1", json={"data": data}, headers=ALICE)
    query = '{ record(bucket: "b", collection: "c", id: "r1") { data } }'
    response = await client.post(GRAPHQL, json={"query": query}, headers=ALICE)
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"]["record"]["data"]["nested"] == {"emoji": "🚀"}
    assert "Zürich - 東京".encode() in response.content
