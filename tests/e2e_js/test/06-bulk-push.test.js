// Scenario 6: 300 local creates are pushed in several batch requests.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Kinto, makeUser, setupCollection, makeDevice, localRecords, serverRecords, sorted, summary, apiOk,
} from "./helpers.js";

const MANUAL = Kinto.syncStrategy.MANUAL;

test("300 local creates are all on the server after one sync", async () => {
  const alice = makeUser("alice");
  const { bucket, collection, recordsPath } = await setupCollection(alice);
  const D = makeDevice({ bucket, collection, user: alice, label: "D" });

  const N = 300;
  const ids = [];
  for (let i = 0; i < N; i++) {
    const { data } = await D.coll.create({ title: `bulk ${i}`, i, payload: { even: i % 2 === 0 } });
    ids.push(data.id);
  }
  assert.equal((await localRecords(D)).size, N);

  const res = await D.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.equal(res.published.length, N);
  assert.deepEqual(sorted(res.published.map((r) => r.id)), sorted(ids));

  // Pushed in batches no bigger than the server's batch_max_requests.
  const hello = await apiOk("GET", "/", { user: alice }, [200]);
  const maxReq = hello.json.settings.batch_max_requests;
  const batchPosts = D.requests.filter((r) => r.method === "POST" && r.url.endsWith("/batch"));
  assert.ok(batchPosts.every((r) => r.status === 200), JSON.stringify(batchPosts));
  if (maxReq) assert.equal(batchPosts.length, Math.ceil(N / maxReq));
  else assert.ok(batchPosts.length >= 1);

  // Every record is on the server with its content.
  const onServer = await serverRecords(alice, recordsPath);
  assert.equal(onServer.length, N);
  assert.deepEqual(sorted(onServer.map((r) => r.id)), sorted(ids));
  const byId = new Map(onServer.map((r) => [r.id, r]));
  const local = await localRecords(D);
  for (const l of local.values()) {
    const s = byId.get(l.id);
    assert.equal(s.title, `bulk ${l.i}`);
    assert.deepEqual(s.payload, { even: l.i % 2 === 0 });
    assert.equal(l._status, "synced");
    assert.equal(l.last_modified, s.last_modified);
  }
  // Distinct last_modified per record (server timestamps are unique within a collection).
  assert.equal(new Set(onServer.map((r) => r.last_modified)).size, N);

  // A second device gets all 300.
  const E = makeDevice({ bucket, collection, user: alice, label: "E" });
  const resE = await E.coll.sync({ strategy: MANUAL });
  assert.ok(resE.ok, summary(resE));
  assert.equal(resE.created.length, N);
  assert.deepEqual(sorted((await localRecords(E)).keys()), sorted(ids));
});
