// Scenario 3: conflicting edits of one record from two devices, resolved with
// the MANUAL, SERVER_WINS and CLIENT_WINS strategies.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Kinto, makeUser, setupCollection, makeDevice, localRecords, serverRecords, summary, apiOk,
} from "./helpers.js";

const { MANUAL, SERVER_WINS, CLIENT_WINS } = Kinto.syncStrategy;

/** Two devices that both hold record `rec` {title: "base"} in sync state, then edit it differently. */
async function conflictingEdits() {
  const alice = makeUser("alice");
  const { bucket, collection, recordsPath } = await setupCollection(alice);
  const A = makeDevice({ bucket, collection, user: alice, label: "A" });
  const B = makeDevice({ bucket, collection, user: alice, label: "B" });

  const rec = (await A.coll.create({ title: "base", tags: ["x"] })).data;
  const other = (await A.coll.create({ title: "untouched" })).data;
  let res = await A.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  res = await B.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.equal((await localRecords(B)).get(rec.id).title, "base");

  // A edits and wins the race to the server.
  const aRec = (await A.coll.get(rec.id)).data;
  await A.coll.update({ ...aRec, title: "from A" });
  res = await A.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  const serverAfterA = (await apiOk("GET", `${recordsPath}/${rec.id}`, { user: alice }, [200])).json.data;
  assert.equal(serverAfterA.title, "from A");

  // B edits the same record from the stale version.
  const bRec = (await B.coll.get(rec.id)).data;
  await B.coll.update({ ...bRec, title: "from B", tags: ["x", "b"] });
  return { alice, recordsPath, A, B, rec, other, serverAfterA };
}

async function serverTitles(user, recordsPath) {
  return Object.fromEntries((await serverRecords(user, recordsPath)).map((r) => [r.id, r.title]));
}

describe("conflicts", () => {
  test("MANUAL: conflict is reported, nothing is overwritten, then resolved by the app", async () => {
    const { alice, recordsPath, A, B, rec, other, serverAfterA } = await conflictingEdits();

    const res = await B.coll.sync({ strategy: MANUAL });
    assert.equal(res.ok, false);
    assert.equal(res.conflicts.length, 1, summary(res));
    const [conflict] = res.conflicts;
    assert.equal(conflict.local.id, rec.id);
    assert.equal(conflict.local.title, "from B");
    assert.equal(conflict.remote.title, "from A");
    assert.equal(conflict.remote.last_modified, serverAfterA.last_modified);
    assert.equal(res.published.length, 0);

    // Nothing was overwritten anywhere.
    assert.deepEqual(await serverTitles(alice, recordsPath), { [rec.id]: "from A", [other.id]: "untouched" });
    let b = (await B.coll.get(rec.id)).data;
    assert.equal(b.title, "from B");
    assert.equal(b._status, "updated");

    // Resolve by merging, then sync again.
    await B.coll.resolve(conflict, { ...conflict.local, title: "merged A+B" });
    const res2 = await B.coll.sync({ strategy: MANUAL });
    assert.ok(res2.ok, summary(res2));
    assert.deepEqual(res2.published.map((r) => r.id), [rec.id]);
    b = (await B.coll.get(rec.id)).data;
    assert.equal(b._status, "synced");
    assert.deepEqual(await serverTitles(alice, recordsPath), { [rec.id]: "merged A+B", [other.id]: "untouched" });

    const resA = await A.coll.sync({ strategy: MANUAL });
    assert.ok(resA.ok, summary(resA));
    const a = await localRecords(A);
    assert.equal(a.get(rec.id).title, "merged A+B");
    assert.deepEqual(a.get(rec.id).tags, ["x", "b"]);
    assert.equal(a.get(rec.id).last_modified, b.last_modified);
  });

  test("SERVER_WINS: the remote version replaces the local edit", async () => {
    const { alice, recordsPath, A, B, rec, other, serverAfterA } = await conflictingEdits();

    const res = await B.coll.sync({ strategy: SERVER_WINS });
    assert.ok(res.ok, summary(res));
    assert.equal(res.conflicts.length, 0);
    assert.equal(res.resolved.length, 1, summary(res));
    assert.equal(res.resolved[0].id, rec.id);

    const b = (await B.coll.get(rec.id)).data;
    assert.equal(b.title, "from A");
    assert.deepEqual(b.tags, ["x"]);
    assert.equal(b._status, "synced");
    assert.equal(b.last_modified, serverAfterA.last_modified);

    // The server record was not touched by B.
    const onServer = (await apiOk("GET", `${recordsPath}/${rec.id}`, { user: alice }, [200])).json.data;
    assert.equal(onServer.last_modified, serverAfterA.last_modified);
    assert.deepEqual(await serverTitles(alice, recordsPath), { [rec.id]: "from A", [other.id]: "untouched" });

    // Nothing left to push; A still agrees.
    const res2 = await B.coll.sync({ strategy: SERVER_WINS });
    assert.ok(res2.ok, summary(res2));
    assert.equal(res2.published.length, 0);
    const resA = await A.coll.sync({ strategy: MANUAL });
    assert.ok(resA.ok, summary(resA));
    assert.equal((await localRecords(A)).get(rec.id).title, "from A");
  });

  test("CLIENT_WINS: the local edit overwrites the server and reaches the other device", async () => {
    const { alice, recordsPath, A, B, rec, other, serverAfterA } = await conflictingEdits();

    const res = await B.coll.sync({ strategy: CLIENT_WINS });
    assert.ok(res.ok, summary(res));
    assert.equal(res.conflicts.length, 0);
    assert.equal(res.resolved.length, 1, summary(res));
    assert.ok(res.published.some((r) => r.id === rec.id && r.title === "from B"));

    const b = (await B.coll.get(rec.id)).data;
    assert.equal(b.title, "from B");
    assert.equal(b._status, "synced");

    const onServer = (await apiOk("GET", `${recordsPath}/${rec.id}`, { user: alice }, [200])).json.data;
    assert.equal(onServer.title, "from B");
    assert.deepEqual(onServer.tags, ["x", "b"]);
    assert.ok(onServer.last_modified > serverAfterA.last_modified);
    assert.equal(b.last_modified, onServer.last_modified);
    assert.deepEqual(await serverTitles(alice, recordsPath), { [rec.id]: "from B", [other.id]: "untouched" });

    const resA = await A.coll.sync({ strategy: MANUAL });
    assert.ok(resA.ok, summary(resA));
    const a = await localRecords(A);
    assert.equal(a.get(rec.id).title, "from B");
    assert.equal(a.get(rec.id).last_modified, onServer.last_modified);
    assert.equal(a.get(other.id).title, "untouched");
  });
});
