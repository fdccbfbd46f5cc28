// Shared helpers for the kinto.js end-to-end suite.
//
// The server under test is whatever KINTO_URL points at (a Kinto 1.x HTTP
// API root, e.g. http://127.0.0.1:8889/v1). Every test works in its own
// randomly named bucket/collection, authenticated with HTTP Basic auth, so
// tests are independent of each other and of previous runs.

import "fake-indexeddb/auto"; // installs a global `indexedDB` for kinto.js' IDB adapter
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";

const require = createRequire(import.meta.url);
const kintoPkg = require("kinto"); // CommonJS build of kinto.js
export const Kinto = kintoPkg.default;
export const { KintoClient } = kintoPkg;

export const KINTO_URL = (process.env.KINTO_URL || "http://127.0.0.1:8888/v1").replace(/\/+$/, "");

export function randomName(prefix = "t") {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

export function basicAuth(user, password = `${user}-secret`) {
  return "Basic " + Buffer.from(`${user}:${password}`).toString("base64");
}

/** A user with a random name (so principals never collide across runs). */
export function makeUser(label = "user") {
  const name = randomName(label);
  return { name, auth: basicAuth(name) };
}

/**
 * Raw HTTP call to the server (not through kinto.js).
 * Returns { status, headers, json }. Never throws on HTTP error statuses.
 */
export async function api(method, path, { user, body, headers = {} } = {}) {
  const url = path.startsWith("http") ? path : `${KINTO_URL}${path}`;
  const h = { Accept: "application/json", ...headers };
  if (user) h.Authorization = user.auth;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const resp = await fetch(url, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: resp.status, headers: resp.headers, json };
}

/** Like api() but asserts the status is one of `expected`. */
export async function apiOk(method, path, opts = {}, expected = [200, 201]) {
  const r = await api(method, path, opts);
  if (!expected.includes(r.status)) {
    throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.json)}`);
  }
  return r;
}

/**
 * Create a fresh bucket + collection owned by `owner`.
 * `collectionPermissions` (optional) is sent as the collection's permissions.
 */
export async function setupCollection(owner, { collectionPermissions } = {}) {
  const bucket = randomName("b");
  const collection = randomName("c");
  await apiOk("PUT", `/buckets/${bucket}`, { user: owner, body: { data: {} } });
  const body = { data: {} };
  if (collectionPermissions) body.permissions = collectionPermissions;
  await apiOk("PUT", `/buckets/${bucket}/collections/${collection}`, { user: owner, body });
  return { bucket, collection, recordsPath: `/buckets/${bucket}/collections/${collection}/records` };
}

/** Create records directly on the server with one POST each (sequential). */
export async function serverCreate(owner, recordsPath, records) {
  const out = [];
  for (const data of records) {
    const r = await apiOk("POST", recordsPath, { user: owner, body: { data } });
    out.push(r.json.data);
  }
  return out;
}

/**
 * Every live record on the server, following Next-Page links
 * (so it works with a small paginate_by). Returns an array of records.
 */
export async function serverRecords(user, recordsPath) {
  let url = `${KINTO_URL}${recordsPath}?_sort=id`;
  const all = [];
  for (let guard = 0; url; guard++) {
    if (guard > 10000) throw new Error("runaway pagination");
    const r = await apiOk("GET", url, { user }, [200]);
    all.push(...r.json.data);
    url = r.headers.get("Next-Page");
  }
  return all;
}

/**
 * A fetch() wrapper that logs every request kinto.js makes, and lets a test
 * hook in before/after the real call.
 *   log entries: { method, url, status }
 *   hooks.after(entry, response) may be async; it runs before the response
 *   is handed back to kinto.js.
 */
export function makeRecordingFetch(hooks = {}) {
  const log = [];
  const wrapped = async (url, options = {}) => {
    const entry = { method: (options.method || "GET").toUpperCase(), url: String(url), status: null };
    log.push(entry);
    if (hooks.before) await hooks.before(entry, options);
    const response = await fetch(url, options);
    entry.status = response.status;
    if (hooks.after) await hooks.after(entry, response);
    return response;
  };
  wrapped.log = log;
  return wrapped;
}

/**
 * One "device": a kinto.js instance with its own fake IndexedDB database,
 * its own HTTP client (using a recording fetch), bound to one collection.
 */
export function makeDevice({ bucket, collection, user, label = "dev", hooks } = {}) {
  const fetchFunc = makeRecordingFetch(hooks);
  const kinto = new Kinto({
    remote: KINTO_URL,
    bucket,
    headers: { Authorization: user.auth },
    adapterOptions: { dbName: randomName(`idb-${label}`) },
  });
  // KintoBase does not forward `fetchFunc`; install our own API client (the
  // same class kinto.js would build) so every request goes through the wrapper.
  kinto._api = new KintoClient(KINTO_URL, {
    headers: { Authorization: user.auth },
    retry: 0,
    fetchFunc,
  });
  const coll = kinto.collection(collection);
  return { label, kinto, coll, requests: fetchFunc.log, fetchFunc };
}

/** Local live records of a device (no tombstones), as a Map id -> record. */
export async function localRecords(device) {
  const { data } = await device.coll.list();
  return new Map(data.map((r) => [r.id, r]));
}

/** Every local row, including records marked deleted, as a Map id -> record. */
export async function localRecordsWithTombstones(device) {
  const { data } = await device.coll.list({}, { includeDeleted: true });
  return new Map(data.map((r) => [r.id, r]));
}

export function sorted(iterable) {
  return [...iterable].sort();
}

/** Compact summary of a SyncResultObject for assertion messages. */
export function summary(result) {
  const o = {};
  for (const k of ["errors", "created", "updated", "deleted", "published", "conflicts", "skipped", "resolved"]) {
    o[k] = result[k].length;
  }
  o.ok = result.ok;
  return JSON.stringify(o);
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
