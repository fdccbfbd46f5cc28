// Scenario 8: records committed by another writer WHILE a device pages through
// a 60-record `_since` pull (paginate_by=5, so ~12 pages) must reach the device
// on its next sync.
//
// Known to fail against Kinto 26.5.0: every page's ETag is the collection's
// CURRENT timestamp and kinto.js keeps the ETag of the LAST page as its next
// `_since`, while the pages (sorted by -last_modified, continuing below the
// previous page) never include records committed after the first page. Those
// records are older than the stored `_since` and skipped forever.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Kinto, makeUser, setupCollection, makeDevice, localRecords, serverRecords, serverCreate, sorted, summary, api,
} from "./helpers.js";

const MANUAL = Kinto.syncStrategy.MANUAL;
const N = 60;

test("records written during a paged _since pull are not lost", async (t) => {
  const alice = makeUser("alice");
  const writer = alice; // same account, separate HTTP client (plain fetch)
  const { bucket, collection, recordsPath } = await setupCollection(alice);

  const writtenDuring = [];
  const state = { armed: false };
  const hooks = {
    // Runs after kinto.js' GET of a records page came back, before kinto.js
    // sees it: commit one more record on the server in between pages.
    async after(entry) {
      if (!state.armed || entry.method !== "GET") return;
      if (!new URL(entry.url).pathname.endsWith(recordsPath)) return;
      const k = writtenDuring.length;
      const r = await api("POST", recordsPath, { user: writer, body: { data: { title: `during page ${k}`, k } } });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      writtenDuring.push(r.json.data.id);
    },
  };
  const D = makeDevice({ bucket, collection, user: alice, label: "D", hooks });

  // Initial sync so that the big pull is an incremental (`_since`) one.
  const seed = await serverCreate(alice, recordsPath, [{ title: "seed" }]);
  let res = await D.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  assert.deepEqual([...(await localRecords(D)).keys()], [seed[0].id]);

  const batch = await serverCreate(alice, recordsPath, Array.from({ length: N }, (_, i) => ({ title: `bulk ${i}`, i })));

  // The paged pull, with a write after every page.
  const before = D.requests.length;
  state.armed = true;
  res = await D.coll.sync({ strategy: MANUAL });
  state.armed = false;
  assert.ok(res.ok, summary(res));
  const pages = D.requests.slice(before).filter((r) => r.method === "GET" && new URL(r.url).pathname.endsWith(recordsPath));
  assert.ok(pages.length >= Math.ceil(N / 5), `expected >= ${Math.ceil(N / 5)} pages, got ${pages.length}`);
  assert.ok(new URL(pages[0].url).searchParams.has("_since"), "the big pull must be incremental");
  assert.equal(writtenDuring.length, pages.length);
  // Every pre-existing record arrived in that pull.
  const afterPull = await localRecords(D);
  const missingBulk = batch.filter((r) => !afterPull.has(r.id));
  assert.equal(missingBulk.length, 0, `device missing ${missingBulk.length} of the ${N} pre-existing records`);

  // Next sync: the device must now hold everything on the server.
  res = await D.coll.sync({ strategy: MANUAL });
  assert.ok(res.ok, summary(res));
  const onServer = await serverRecords(alice, recordsPath);
  const serverIds = onServer.map((r) => r.id);
  assert.equal(serverIds.length, 1 + N + writtenDuring.length, "server should hold seed + bulk + concurrent writes");
  const local = await localRecords(D);
  const missing = serverIds.filter((id) => !local.has(id));
  const missingDuring = writtenDuring.filter((id) => !local.has(id));
  t.diagnostic(`pages=${pages.length} writtenDuringPull=${writtenDuring.length} onServer=${serverIds.length} deviceHas=${local.size} missing=${missing.length}`);
  assert.deepEqual(
    missing, [],
    `device missing ${missing.length} of ${serverIds.length} server records ` +
    `(${missingDuring.length} of the ${writtenDuring.length} written during the paged pull)`,
  );
  assert.deepEqual(sorted(local.keys()), sorted(serverIds));
  for (const r of onServer) assert.equal(local.get(r.id).title, r.title);
});
