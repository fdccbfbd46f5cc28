// Scenario 1: two devices push and pull creations, updates and deletions.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Kinto, makeUser, setupCollection, makeDevice, localRecords, serverRecords, sorted, summary, api,
} from "./helpers.js";

const MANUAL = Kinto.syncStrategy.MANUAL;

function titles(map) {
  return Object.fromEntries([...map.values()].map((r) => [r.id, r.title]));
}

test("two devices exchange creates, updates and deletions (tombstones propagate)", async () => {
  const alice = makeUser("alice");
  const { bucket, collection, recordsPath } = await setupCollection(alice);
  const A = makeDevice({ bucket, collection, user: alice, label: "A" });
  const B = makeDevice({ bucket, collection, user: alice, label: "B" });

  // A creates three records and pushes them.
  const r1 = (await A.coll.create({ title: "one", n: 1 })).data;
  const r2 = (await A.coll.create({ title: "two", n: 2 })).data;
  const r3 = (await A.coll.create({ title: "three", n: 3 })).data;
  let res = await A.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.deepEqual(sorted(res.published.map((r) => r.id)), sorted([r1.id, r2.id, r3.id]));

  // Server has exactly those.
  let onServer = await serverRecords(alice, recordsPath);
  assert.deepEqual(
    Object.fromEntries(onServer.map((r) => [r.id, r.title])),
    { [r1.id]: "one", [r2.id]: "two", [r3.id]: "three" },
  );

  // B pulls them.
  res = await B.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  const tsBeforeB = res.lastModified;
  assert.equal(res.created.length, 3);
  let b = await localRecords(B);
  assert.deepEqual(titles(b), { [r1.id]: "one", [r2.id]: "two", [r3.id]: "three" });
  for (const r of b.values()) assert.equal(r._status, "synced");

  // B updates r1, deletes r2, creates r4; pushes.
  await B.coll.update({ ...b.get(r1.id), title: "one (edited on B)" });
  await B.coll.delete(r2.id);
  const r4 = (await B.coll.create({ title: "four", n: 4 })).data;
  res = await B.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.deepEqual(sorted(res.published.map((r) => r.id)), sorted([r1.id, r2.id, r4.id]));
  const deletedPublished = res.published.find((r) => r.id === r2.id);
  assert.equal(deletedPublished.deleted, true);

  // The server's _since feed carries a tombstone for r2.
  const since = await api("GET", `${recordsPath}?_since=${tsBeforeB}`, { user: alice });
  assert.equal(since.status, 200);
  const tomb = since.json.data.find((r) => r.id === r2.id);
  assert.ok(tomb, `no tombstone for ${r2.id} in ${JSON.stringify(since.json.data)}`);
  assert.equal(tomb.deleted, true);

  onServer = await serverRecords(alice, recordsPath);
  assert.deepEqual(
    Object.fromEntries(onServer.map((r) => [r.id, r.title])),
    { [r1.id]: "one (edited on B)", [r3.id]: "three", [r4.id]: "four" },
  );

  // A pulls: gets the update, the creation and the deletion.
  res = await A.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.deepEqual(res.created.map((r) => r.id), [r4.id]);
  assert.deepEqual(res.updated.map((u) => u.new.id), [r1.id]);
  assert.deepEqual(res.deleted.map((r) => r.id), [r2.id]);
  let a = await localRecords(A);
  assert.deepEqual(titles(a), { [r1.id]: "one (edited on B)", [r3.id]: "three", [r4.id]: "four" });
  assert.equal(a.get(r4.id).n, 4);
  // The deleted record is gone locally, not merely hidden.
  const gone = await A.coll.getAny(r2.id);
  assert.equal(gone.data, undefined);

  // Second round: A deletes r3 and edits r4; B pulls.
  await A.coll.delete(r3.id);
  await A.coll.update({ ...a.get(r4.id), title: "four (edited on A)", extra: [1, 2, 3] });
  res = await A.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));

  res = await B.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.deepEqual(res.deleted.map((r) => r.id), [r3.id]);
  b = await localRecords(B);
  assert.deepEqual(titles(b), { [r1.id]: "one (edited on B)", [r4.id]: "four (edited on A)" });
  assert.deepEqual(b.get(r4.id).extra, [1, 2, 3]);
  a = await localRecords(A);
  assert.deepEqual(titles(a), titles(b));
  // last_modified agree between both devices and the server.
  onServer = await serverRecords(alice, recordsPath);
  for (const r of onServer) {
    assert.equal(a.get(r.id).last_modified, r.last_modified);
    assert.equal(b.get(r.id).last_modified, r.last_modified);
  }
});
