"""A mutation of one field selecting only leaves runs as a REST write does: its resolver's
own transaction, which may commit with its statement. Anything more runs in one operation
transaction. Both are all-or-nothing."""

from __future__ import annotations

import httpx
import pytest

from kintogql.resolvers.context import RequestContext
from tests.conftest import ALICE
from tests.schema.conftest import error_code, gql


@pytest.fixture
def commits_with_write(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What ``may_commit_with_write`` answered to each write, in order."""
    answers: list[bool] = []
    original = RequestContext.may_commit_with_write

    def recording(self: RequestContext) -> bool:
        answers.append(original(self))
        return answers[-1]

    monkeypatch.setattr(RequestContext, "may_commit_with_write", recording)
    return answers


@pytest.mark.parametrize(
    "selection",
    ["id lastModified", "id data permissions deleted __typename", "lastModified"],
)
async def test_a_single_field_selecting_leaves_commits_with_its_write(
    client: httpx.AsyncClient, bucket: str, commits_with_write: list[bool], selection: str
):
    body = await gql(
        client,
        f'mutation {{ createRecord(bucket: "b", collection: "c", data: {{id: "r"}}) '
        f"{{ {selection} }} }}",
    )
    assert "errors" not in body
    assert commits_with_write == [True]
    response = await client.get("/v1/buckets/b/collections/c/records/r", headers=ALICE)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "mutation",
    [
        'a: createRecord(bucket: "b", collection: "c", data: {}) { id } '
        'b: createRecord(bucket: "b", collection: "c", data: {}) { id }',
        'createCollection(bucket: "b", data: {id: "d"}) { id records { totalCount } }',
        'createRecord(bucket: "b", collection: "c", data: {}) { ... on Record { id } }',
    ],
)
async def test_anything_more_runs_in_the_operation_transaction(
    client: httpx.AsyncClient, bucket: str, commits_with_write: list[bool], mutation: str
):
    body = await gql(client, f"mutation {{ {mutation} }}")
    assert "errors" not in body
    assert commits_with_write
    assert not any(commits_with_write)


async def test_a_failing_single_field_is_rolled_back_and_stores_nothing(
    client: httpx.AsyncClient, bucket: str
):
    record = "/v1/buckets/b/collections/c/records/r"
    await client.put(record, json={"data": {"a": 1}}, headers=ALICE)
    body = await gql(
        client,
        'mutation { replaceRecord(bucket: "b", collection: "c", id: "r", data: {a: 2}, '
        'ifMatch: "1") { id lastModified } }',
    )
    assert body["data"] is None
    assert body["extensions"]["rolledBack"] is True
    assert error_code(body) == "PRECONDITION_FAILED"
    response = await client.get(record, headers=ALICE)
    assert response.json()["data"]["a"] == 1


async def test_a_refused_single_field_is_rolled_back(client: httpx.AsyncClient, bucket: str):
    body = await gql(
        client, 'mutation { createRecord(bucket: "b", collection: "c", data: {id: "a b"}) { id } }'
    )
    assert body["data"] is None
    assert body["extensions"]["rolledBack"] is True
    assert error_code(body) == "INVALID_INPUT"
