"""Permissions: inheritance, list visibility, 401/403/404 rules (§6)."""

from __future__ import annotations

import pytest

from tests.conftest import ALICE, BOB, CAROL

pytestmark = pytest.mark.asyncio

RECORDS = "/v1/buckets/b/collections/c/records"


async def user_id(client, headers) -> str:
    return (await client.get("/v1/", headers=headers)).json()["user"]["id"]


@pytest.fixture
async def shared(client):
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    bob = await user_id(client, BOB)
    await client.put(f"{RECORDS}/private", json={"data": {}}, headers=ALICE)
    await client.put(
        f"{RECORDS}/shared", json={"data": {}, "permissions": {"read": [bob]}}, headers=ALICE
    )
    return client


async def test_anonymous_denial_is_401_with_a_challenge(shared) -> None:
    """K-PRM-7, K-AUTH-6."""
    response = await shared.get(f"{RECORDS}/private")
    assert response.status_code == 401
    assert response.json()["errno"] == 104
    assert response.headers["WWW-Authenticate"].startswith("Basic")


async def test_authenticated_denial_is_403(shared) -> None:
    """K-PRM-7."""
    response = await shared.get(f"{RECORDS}/private", headers=CAROL)
    assert response.status_code == 403
    assert response.json()["errno"] == 121


async def test_outsiders_get_403_not_404_for_missing_objects(shared) -> None:
    """K-PRM-7: existence is hidden."""
    assert (await shared.get(f"{RECORDS}/missing", headers=CAROL)).status_code == 403
    assert (await shared.get(f"{RECORDS}/missing", headers=ALICE)).status_code == 404


async def test_a_record_grant_shows_only_that_record_in_the_list(shared) -> None:
    """K-PRM-5 case 2."""
    response = await shared.get(RECORDS, headers=BOB)
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["data"]] == ["shared"]
    everything = await shared.get(RECORDS, headers=ALICE)
    assert response.headers["ETag"] == everything.headers["ETag"]


async def test_strangers_cannot_list_records(shared) -> None:
    """K-PRM-5 case 4."""
    assert (await shared.get(RECORDS, headers=CAROL)).status_code == 403
    assert (await shared.get(RECORDS)).status_code == 401


async def test_any_authenticated_user_can_list_buckets_and_sees_only_granted_ones(shared) -> None:
    """K-PRM-5 consequence of bucket_create_principals."""
    response = await shared.get("/v1/buckets", headers=CAROL)
    assert response.status_code == 200
    assert response.json()["data"] == []


async def test_bucket_read_grants_records_read_by_inheritance(shared) -> None:
    """K-PRM-3."""
    carol = await user_id(shared, CAROL)
    await shared.patch("/v1/buckets/b", json={"permissions": {"read": [carol]}}, headers=ALICE)
    assert (await shared.get(f"{RECORDS}/private", headers=CAROL)).status_code == 200
    assert (
        await shared.put(f"{RECORDS}/private", json={"data": {}}, headers=CAROL)
    ).status_code == 403


async def test_group_membership_grants_permissions(shared) -> None:
    """K-PRM-1, K-MTH-12."""
    carol = await user_id(shared, CAROL)
    await shared.put(
        "/v1/buckets/b/groups/readers", json={"data": {"members": [carol]}}, headers=ALICE
    )
    await shared.patch(
        "/v1/buckets/b/collections/c",
        json={"permissions": {"read": ["/buckets/b/groups/readers"]}},
        headers=ALICE,
    )
    response = await shared.get(RECORDS, headers=CAROL)
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2


async def test_record_create_permission_allows_posting(shared) -> None:
    """K-PRM-3, K-PRM-4."""
    carol = await user_id(shared, CAROL)
    await shared.patch(
        "/v1/buckets/b/collections/c",
        json={"permissions": {"record:create": [carol]}},
        headers=ALICE,
    )
    created = await shared.post(RECORDS, json={"data": {"x": 1}}, headers=CAROL)
    assert created.status_code == 201
    # Carol can create, so listing falls back to an empty list plus her own record.
    listed = await shared.get(RECORDS, headers=CAROL)
    assert [r["id"] for r in listed.json()["data"]] == [created.json()["data"]["id"]]


async def test_permissions_are_shown_only_to_explicit_writers(shared) -> None:
    """K-OBJ-10."""
    bob_view = await shared.get(f"{RECORDS}/shared", headers=BOB)
    assert bob_view.json()["permissions"] == {}
    alice_view = await shared.get(f"{RECORDS}/shared", headers=ALICE)
    assert set(alice_view.json()["permissions"]) == {"read", "write"}


async def test_put_permissions_replace_the_acl_but_keep_the_writer(shared) -> None:
    """K-MTH-7, K-PRM-6."""
    alice = await user_id(shared, ALICE)
    response = await shared.put(
        f"{RECORDS}/shared", json={"permissions": {"read": ["x"]}}, headers=ALICE
    )
    assert response.json()["permissions"] == {"read": ["x"], "write": [alice]}


async def test_settings_grant_permissions_everywhere(make_client) -> None:
    """K-PRM-10."""
    client = await make_client(bucket_read_principals="system.Everyone")
    await client.put("/v1/buckets/open", headers=ALICE)
    assert (await client.get("/v1/buckets/open")).status_code == 200


async def test_bucket_create_principals_restricts_creation(make_client) -> None:
    """K-PRM-10."""
    client = await make_client(bucket_create_principals="nobody")
    assert (await client.put("/v1/buckets/x", headers=ALICE)).status_code == 403


async def test_patch_on_a_missing_object_is_404_only_for_list_readers(shared) -> None:
    """K-PRM-7 [DOC≠SRC]."""
    assert (
        await shared.patch(f"{RECORDS}/missing", json={"data": {}}, headers=ALICE)
    ).status_code == 404
    assert (
        await shared.patch(f"{RECORDS}/missing", json={"data": {}}, headers=CAROL)
    ).status_code == 403


async def test_safe_creation_needs_create_permission(shared) -> None:
    """K-CC-6: PUT with If-None-Match: * is authorized as a creation."""
    response = await shared.put(
        f"{RECORDS}/private", json={"data": {}}, headers={**ALICE, "If-None-Match": "*"}
    )
    assert response.status_code == 412
    bob = await shared.put(
        f"{RECORDS}/shared", json={"data": {}}, headers={**BOB, "If-None-Match": "*"}
    )
    assert bob.status_code == 403
