// Scenario 7: four devices sync into one collection at the same moment,
// three rounds. Every device must end with every record, and the server must
// hold every record that any device was told was synced.
//
// Known to fail against Kinto 26.5.0 (PostgreSQL): concurrent batches can get
// a 409 on one sub-request while the earlier sub-requests were reported 201
// and then rolled back, so records the client marked "synced" are lost.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Kinto, makeUser, setupCollection, makeDevice, localRecords, serverRecords,
} from "./helpers.js";

const MANUAL = Kinto.syncStrategy.MANUAL;
const DEVICES = 4;
const ROUNDS = 3;
const PER_ROUND = [6, 8, 10, 12]; // creates per device per round

async function syncOnce(dev, log, round) {
  try {
    const res = await dev.coll.sync({ strategy: MANUAL });
    const published = res.published.filter((r) => !r.deleted).map((r) => r.id);
    const errors = res.errors.map((e) => e.error?.code ?? e.error?.errno ?? String(e.error?.message ?? e));
    log.push({ round, device: dev.label, ok: res.ok, published: published.length, errors, conflicts: res.conflicts.length });
    return { res, published };
  } catch (error) {
    log.push({ round, device: dev.label, thrown: `${error.name}: ${error.message}`.slice(0, 200) });
    return { res: null, published: [] };
  }
}

test("four devices syncing concurrently for three rounds converge without loss", async (t) => {
  const alice = makeUser("alice");
  const { bucket, collection, recordsPath } = await setupCollection(alice);
  const devices = Array.from({ length: DEVICES }, (_, i) =>
    makeDevice({ bucket, collection, user: alice, label: `D${i}` }));

  const created = new Map(); // id -> { device, round, title }
  const toldSynced = new Map(); // id -> device label that was told so
  const log = [];

  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, dev] of devices.entries()) {
      for (let k = 0; k < PER_ROUND[i]; k++) {
        const title = `${dev.label} r${round} #${k}`;
        const { data } = await dev.coll.create({ title, device: dev.label, round, k });
        created.set(data.id, { device: dev.label, round, title });
      }
    }
    const outcomes = await Promise.all(devices.map((dev) => syncOnce(dev, log, round)));
    outcomes.forEach(({ published }, i) => {
      for (const id of published) toldSynced.set(id, devices[i].label);
    });
  }

  // Let everything settle: sequential syncs until a full pass is clean.
  for (let pass = 1; pass <= 4; pass++) {
    let clean = true;
    for (const dev of devices) {
      const { res, published } = await syncOnce(dev, log, `settle${pass}`);
      for (const id of published) toldSynced.set(id, dev.label);
      if (!res || !res.ok || published.length > 0) clean = false;
    }
    if (clean) break;
  }

  const onServer = await serverRecords(alice, recordsPath);
  const serverIds = new Set(onServer.map((r) => r.id));
  const serverById = new Map(onServer.map((r) => [r.id, r]));

  const problems = [];
  const lostTold = [...toldSynced.keys()].filter((id) => !serverIds.has(id));
  if (lostTold.length) {
    problems.push(`server is missing ${lostTold.length} of ${toldSynced.size} records devices were told were synced`);
  }
  const notOnServer = [...created.keys()].filter((id) => !serverIds.has(id));
  if (notOnServer.length) problems.push(`server is missing ${notOnServer.length} of ${created.size} created records`);
  for (const dev of devices) {
    const local = await localRecords(dev);
    const missing = [...created.keys()].filter((id) => !local.has(id));
    if (missing.length) {
      const onServerToo = missing.filter((id) => serverIds.has(id));
      // Records on the server but older than the device's stored `_since`
      // can never reach it any more.
      const since = await dev.coll.db.getLastModified();
      const hidden = onServerToo.filter((id) => serverById.get(id).last_modified <= since).length;
      problems.push(
        `${dev.label} is missing ${missing.length} of ${created.size} records ` +
        `(${onServerToo.length} of them are on the server, ${hidden} of those older than its _since=${since})`,
      );
    }
    const unsynced = [...local.values()].filter((r) => r._status !== "synced");
    if (unsynced.length) problems.push(`${dev.label} still has ${unsynced.length} unsynced records`);
    const wrong = [...local.values()].filter((r) => serverById.has(r.id) && serverById.get(r.id).title !== r.title);
    if (wrong.length) problems.push(`${dev.label} has ${wrong.length} records differing from the server`);
  }
  const extra = [...serverIds].filter((id) => !created.has(id));
  if (extra.length) problems.push(`server has ${extra.length} unexpected records`);

  const errorLog = log.filter((e) => e.thrown || (e.errors && e.errors.length) || e.conflicts);
  t.diagnostic(`created=${created.size} toldSynced=${toldSynced.size} onServer=${serverIds.size}`);
  for (const e of errorLog) t.diagnostic(`sync trouble: ${JSON.stringify(e)}`);
  assert.deepEqual(problems, [], `${problems.join("; ")}\nsync log: ${JSON.stringify(errorLog)}`);
  assert.equal(serverIds.size, created.size);
});
