// Scenario 2: a pull longer than the server's page size (paginate_by=5).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Kinto, makeUser, setupCollection, makeDevice, localRecords, serverCreate, serverRecords, sorted, summary,
} from "./helpers.js";

const MANUAL = Kinto.syncStrategy.MANUAL;

function recordPageGets(device, recordsPath) {
  return device.requests.filter((r) => r.method === "GET" && new URL(r.url).pathname.endsWith(recordsPath));
}

test("a 23-record pull follows every page", async () => {
  const alice = makeUser("alice");
  const { bucket, collection, recordsPath } = await setupCollection(alice);

  const N = 23;
  const created = await serverCreate(
    alice, recordsPath,
    Array.from({ length: N }, (_, i) => ({ title: `rec ${i}`, i })),
  );
  assert.equal(created.length, N);

  const D = makeDevice({ bucket, collection, user: alice, label: "D" });
  const res = await D.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.equal(res.created.length, N);

  const local = await localRecords(D);
  assert.deepEqual(sorted(local.keys()), sorted(created.map((r) => r.id)));
  for (const r of created) {
    const l = local.get(r.id);
    assert.equal(l.title, r.title);
    assert.equal(l.i, r.i);
    assert.equal(l.last_modified, r.last_modified);
    assert.equal(l._status, "synced");
  }
  assert.deepEqual(new Set([...local.values()].map((r) => r.i)), new Set(Array.from({ length: N }, (_, i) => i)));

  // The pull really was paginated: with paginate_by=5 that is at least 5 pages.
  const pages = recordPageGets(D, recordsPath);
  assert.ok(pages.length >= Math.ceil(N / 5), `expected >= ${Math.ceil(N / 5)} page GETs, got ${pages.length}`);
  assert.ok(pages.every((p) => p.status === 200));

  // The collection timestamp stored locally is the server's.
  const onServer = await serverRecords(alice, recordsPath);
  const maxTs = Math.max(...onServer.map((r) => r.last_modified));
  assert.equal(await D.coll.db.getLastModified(), maxTs);

  // A second device appending 3 more: incremental pull gets exactly those.
  const more = await serverCreate(alice, recordsPath, [{ title: "x" }, { title: "y" }, { title: "z" }]);
  const res2 = await D.coll.sync({ strategy: MANUAL });
  assert.ok(res2.ok, summary(res2));
  assert.deepEqual(sorted(res2.created.map((r) => r.id)), sorted(more.map((r) => r.id)));
  assert.equal((await localRecords(D)).size, N + 3);
});
