// Scenario 4: an incremental sync with nothing changed transfers nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Kinto, makeUser, setupCollection, makeDevice, localRecords, summary, api,
} from "./helpers.js";

const MANUAL = Kinto.syncStrategy.MANUAL;

test("incremental sync with no changes is empty and sends no writes", async () => {
  const alice = makeUser("alice");
  const { bucket, collection, recordsPath } = await setupCollection(alice);
  const A = makeDevice({ bucket, collection, user: alice, label: "A" });

  for (let i = 0; i < 7; i++) await A.coll.create({ title: `r${i}`, i });
  let res = await A.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.equal(res.published.length, 7);
  const ts = await A.coll.db.getLastModified();
  assert.ok(ts > 0);

  // Nothing changed anywhere: the next sync must be a pure no-op.
  const before = A.requests.length;
  res = await A.coll.sync({ strategy: MANUAL });
  const during = A.requests.slice(before);
  assert.ok(res.ok, summary(res));
  for (const k of ["errors", "created", "updated", "deleted", "published", "conflicts", "skipped", "resolved"]) {
    assert.deepEqual(res[k], [], `${k} should be empty: ${summary(res)}`);
  }
  assert.equal(res.lastModified, ts, "collection timestamp unchanged");
  assert.equal(await A.coll.db.getLastModified(), ts);

  // Only reads went over the wire: the collection metadata and ONE records
  // page (the _since query returns no change, hence no Next-Page).
  assert.ok(during.every((r) => r.method === "GET"), JSON.stringify(during));
  const pageGets = during.filter((r) => new URL(r.url).pathname.endsWith(recordsPath));
  assert.equal(pageGets.length, 1, JSON.stringify(during));
  assert.equal(new URL(pageGets[0].url).searchParams.get("_since"), String(ts));
  assert.ok(during.length <= 3, `too many requests for a no-op sync: ${JSON.stringify(during)}`);
  assert.ok(during.every((r) => r.status === 200 || r.status === 304), JSON.stringify(during));

  // The same _since query, raw: empty list, same ETag; with If-None-Match it is a 304.
  const raw = await api("GET", `${recordsPath}?_since=${ts}`, { user: alice });
  assert.equal(raw.status, 200);
  assert.deepEqual(raw.json.data, []);
  assert.equal(raw.headers.get("ETag"), `"${ts}"`);
  assert.equal(raw.headers.get("Next-Page"), null);
  const cond = await api("GET", recordsPath, { user: alice, headers: { "If-None-Match": `"${ts}"` } });
  assert.equal(cond.status, 304);

  // And the local data is untouched.
  const local = await localRecords(A);
  assert.equal(local.size, 7);
  assert.ok([...local.values()].every((r) => r._status === "synced"));

  // One more server-side change turns the next sync into exactly one import.
  const c = await api("POST", recordsPath, { user: alice, body: { data: { title: "new" } } });
  assert.equal(c.status, 201);
  res = await A.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.deepEqual(res.created.map((r) => r.id), [c.json.data.id]);
  assert.equal(res.lastModified, c.json.data.last_modified);
});
