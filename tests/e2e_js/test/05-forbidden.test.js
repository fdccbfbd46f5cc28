// Scenario 5: a user who may read but not write the collection tries to push;
// the 403 reaches the client and its local data stays intact.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Kinto, makeUser, setupCollection, makeDevice, localRecords, localRecordsWithTombstones,
  serverRecords, sorted, summary, apiOk,
} from "./helpers.js";

const MANUAL = Kinto.syncStrategy.MANUAL;

/** Run a sync and return either its result or the error it threw. */
async function syncCatching(coll) {
  try {
    return { result: await coll.sync({ strategy: MANUAL }) };
  } catch (error) {
    return { error };
  }
}

test("403 on push is surfaced and local data is kept", async (t) => {
  const alice = makeUser("alice");
  const bob = makeUser("bob");
  // Bob needs to be known as a principal: his userid is what the server derives
  // from his credentials; ask the server.
  const hello = await apiOk("GET", "/", { user: bob }, [200]);
  const bobId = hello.json.user.id;
  assert.ok(bobId, "server must report the authenticated user id");

  const { bucket, collection, recordsPath } = await setupCollection(alice, {
    collectionPermissions: { read: [bobId] },
  });
  const existing = await apiOk("POST", recordsPath, { user: alice, body: { data: { title: "by alice" } } });
  const aliceRec = existing.json.data;

  const B = makeDevice({ bucket, collection, user: bob, label: "bob" });
  // Reading works.
  let res = await B.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.deepEqual([...(await localRecords(B)).keys()], [aliceRec.id]);

  // Bob creates one record, edits alice's, and tries to push.
  const mine = (await B.coll.create({ title: "by bob" })).data;
  await B.coll.update({ ...(await B.coll.get(aliceRec.id)).data, title: "edited by bob" });

  const { result, error } = await syncCatching(B.coll);
  let statuses;
  if (error) {
    statuses = [error.response?.status ?? error.data?.code];
  } else {
    assert.equal(result.ok, false, summary(result));
    assert.equal(result.published.length, 0, summary(result));
    assert.ok(result.errors.length >= 1, summary(result));
    statuses = result.errors.map((e) => e.error?.code);
    for (const e of result.errors) assert.equal(e.type, "outgoing");
  }
  assert.ok(statuses.length > 0 && statuses.every((s) => s === 403), `expected 403s, got ${JSON.stringify(statuses)}`);
  t.diagnostic(`403 surfaced as ${error ? "a thrown error" : `${statuses.length} outgoing error(s) in the sync result`}`);

  // Server unchanged.
  const onServer = await serverRecords(alice, recordsPath);
  assert.deepEqual(onServer.map((r) => [r.id, r.title]), [[aliceRec.id, "by alice"]]);
  assert.equal(onServer[0].last_modified, aliceRec.last_modified);

  // Local data intact, still pending.
  const local = await localRecordsWithTombstones(B);
  assert.deepEqual(sorted(local.keys()), sorted([aliceRec.id, mine.id]));
  assert.equal(local.get(mine.id).title, "by bob");
  assert.equal(local.get(mine.id)._status, "created");
  assert.equal(local.get(aliceRec.id).title, "edited by bob");
  assert.equal(local.get(aliceRec.id)._status, "updated");
  // The collection timestamp was not advanced past the failed sync's pull.
  assert.equal(await B.coll.db.getLastModified(), aliceRec.last_modified);

  // Retrying does not lose anything either.
  const again = await syncCatching(B.coll);
  assert.ok(again.error || again.result.ok === false);
  const local2 = await localRecordsWithTombstones(B);
  assert.equal(local2.get(mine.id)._status, "created");
  assert.equal(local2.get(aliceRec.id).title, "edited by bob");

  // Once alice grants write, the very same pending changes go through.
  await apiOk("PATCH", `/buckets/${bucket}/collections/${collection}`, {
    user: alice, body: { permissions: { write: [bobId] } },
  }, [200]);
  res = await B.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.deepEqual(sorted(res.published.map((r) => r.id)), sorted([aliceRec.id, mine.id]));
  const finalServer = await serverRecords(alice, recordsPath);
  assert.deepEqual(
    Object.fromEntries(finalServer.map((r) => [r.id, r.title])),
    { [aliceRec.id]: "edited by bob", [mine.id]: "by bob" },
  );
});
