#!/usr/bin/env python3
"""Compare kintogql with the reference Kinto 26.5.0 on this machine.

Starts both servers (same number of workers, separate ports, separate PostgreSQL
databases), seeds the same data into both, then runs every workload with `wrk` against
them interleaved (A, B, A, B, ...) and prints/writes a results table.

Standard library only (plus the `wrk` binary and `psql`). See benchmarks/README.md.

    python3 benchmarks/run.py                 # full suite (~10 min on 2 cores)
    python3 benchmarks/run.py --quick         # smoke run (~2 min)
    python3 benchmarks/run.py --only kinto    # one server only
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LUA_DIR = HERE / "wrk"

BUCKET = "bench"
BIG = "big"  # the seeded, read-only collection (10,000 records)
SPREAD = [f"c{i:02d}" for i in range(16)]
# NB: no collection may be named "batch": Kinto rejects batch sub-request paths containing "/batch".
WRITE_COLLECTIONS = ["create", "conc", "bulk", "put", "gql", *SPREAD]
READ_RECORD = "rec-00042"
AUTH_USER, AUTH_PASS = "bench", "bench-password"
AUTH = "Basic " + base64.b64encode(f"{AUTH_USER}:{AUTH_PASS}".encode()).decode()

# --------------------------------------------------------------------------------------
# GraphQL workloads (kintogql only). PLACEHOLDER query shapes, kept in this one dict so they
# can be adjusted as kintogql's GraphQL schema evolves (they match kintogql/schema as of
# this commit: Query.record / Query.records(filters: [FieldFilter], sort, first) ->
# Connection{nodes} / Mutation.createRecord). Each entry: the document + variables, the
# JSON key counted in the response (`marker`), how many times it must appear
# (`expect_count`: a number, "list" = same as the REST list workload, None = at least once)
# and optional list-content checks (`filter`: (field, value), `sort_desc`: field).
# Each workload first sends one probe request and is skipped (with the reason) if the probe
# does not pass the same check, e.g. when the schema changed or /v1/graphql is absent.
# --------------------------------------------------------------------------------------
GRAPHQL_WORKLOADS: dict[str, dict[str, Any]] = {
    "gql_read_one": {
        "description": "GraphQL: read one record",
        "query": '{ record(bucket: "bench", collection: "big", id: "rec-00042") '
        "{ id lastModified data } }",
        "variables": None,
        "marker": "lastModified",
        "expect_count": 1,
    },
    "gql_list_filtered": {
        "description": "GraphQL: 50 records filtered on category=3, sorted on -rank",
        "query": '{ records(bucket: "bench", collection: "big", '
        'filters: [{field: "category", value: 3}], sort: ["-rank"], first: 50) '
        "{ nodes { id lastModified data } } }",
        "variables": None,
        "marker": "lastModified",
        "expect_count": "list",
        "filter": ("category", "3"),
        "sort_desc": "rank",
    },
    "gql_create": {
        "description": "GraphQL: create one record",
        "query": 'mutation { createRecord(bucket: "bench", collection: "gql", '
        'data: {title: "gql", category: 1, rank: 1}) { id lastModified } }',
        "variables": None,
        "marker": "lastModified",
        "expect_count": 1,
    },
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# HTTP helper (stdlib, keep-alive per thread)
# --------------------------------------------------------------------------------------


class Client:
    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        hdrs = {"Authorization": AUTH, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


# --------------------------------------------------------------------------------------
# PostgreSQL helpers (psql CLI)
# --------------------------------------------------------------------------------------


def psql(pg: str, db: str, sql: str) -> str:
    out = subprocess.run(
        ["psql", f"{pg}/{db}", "-v", "ON_ERROR_STOP=1", "-qtAc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def recreate_db(pg: str, db: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", db):
        raise SystemExit(f"refusing odd database name {db!r}")
    psql(pg, "postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql(pg, "postgres", f"CREATE DATABASE {db}")


# --------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str  # "kinto" or "kintogql"
    port: int
    cmd: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def start(self, timeout: float = 90.0) -> None:
        log(f"starting {self.name} on :{self.port}: {shlex.join(self.cmd)}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=self.cwd,
                env=self.env,
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: we stop it and its workers
            )
        deadline = time.monotonic() + timeout
        client = Client(self.port, timeout=5)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} during start-up; "
                    f"last log lines:\n{tail(self.log_path)}"
                )
            try:
                status, _, body = client.request("GET", "/v1/")
                if status == 200 and isinstance(body, dict):
                    self.info = body
                    client.close()
                    version = f"{body.get('project_name')} {body.get('project_version')}"
                    log(f"{self.name} ready ({version})")
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; log:\n{tail(self.log_path)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            log(f"stopping {self.name} (pid {proc.pid})")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        # The leader is gone: give its workers (same process group) a moment, then kill any
        # that survive so no server process outlives the run.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def find_kintogql_cmd(explicit: str | None) -> list[str]:
    if explicit:
        return shlex.split(explicit)
    if os.environ.get("KINTOGQL_BENCH_CMD"):
        return shlex.split(os.environ["KINTOGQL_BENCH_CMD"])
    candidates = [
        shutil.which("kintogql"),
        str(Path(sys.executable).parent / "kintogql"),
        str(REPO / ".venv" / "bin" / "kintogql"),
        "/work/venv/bin/kintogql",
    ]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return [c]
    # last resort: the console-script entry point in this interpreter
    return [sys.executable, "-c", "import sys; from kintogql.cli import main; sys.exit(main())"]


def make_kintogql(args: argparse.Namespace, logs: Path) -> tuple[Server, list[str]]:
    base = find_kintogql_cmd(args.kintogql_cmd)
    env = dict(os.environ)
    env.update(
        {
            "KINTOGQL_STORAGE_URL": f"{args.pg}/{args.kintogql_db}",
            "KINTOGQL_USERID_HMAC_SECRET": "bench-secret-not-for-production",
            "KINTOGQL_STORAGE_POOL_SIZE": str(args.pool_size),
            "KINTOGQL_BUCKET_CREATE_PRINCIPALS": "system.Authenticated",
        }
    )
    cmd = [
        *base,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.kintogql_port),
        "--workers",
        str(args.workers),
    ]
    server = Server("kintogql", args.kintogql_port, cmd, env, REPO, logs / "kintogql.log")
    return server, [*base, "migrate"]


def make_kinto(args: argparse.Namespace, logs: Path) -> tuple[Server, list[str]]:
    venv = Path(args.kinto_venv)
    ini = HERE / "kinto.ini"
    env = dict(os.environ)
    url = f"{args.pg}/{args.kinto_db}"
    env.update(
        {
            "KINTO_INI": str(ini),
            # Kinto reads KINTO_* environment variables over the ini values.
            "KINTO_STORAGE_URL": url,
            "KINTO_PERMISSION_URL": url,
            "KINTO_STORAGE_POOL_SIZE": str(args.pool_size),
            "KINTO_PERMISSION_POOL_SIZE": str(args.pool_size),
            "PYTHONWARNINGS": "ignore",
        }
    )
    kind = args.kinto_server
    if kind == "auto":
        kind = "granian" if (venv / "bin" / "granian").exists() else "gunicorn"
    if kind == "granian":
        cmd = [
            str(venv / "bin" / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.kinto_port),
            "--workers",
            str(args.workers),
            "--blocking-threads",
            str(args.kinto_threads),
            "--no-access-log",
            "--log-level",
            "warning",
            "kinto_wsgi:application",
        ]
    else:
        cmd = [
            str(venv / "bin" / "gunicorn"),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.kinto_threads),
            "--bind",
            f"127.0.0.1:{args.kinto_port}",
            "--log-level",
            "warning",
            "kinto_wsgi:application",
        ]
    server = Server("kinto", args.kinto_port, cmd, env, HERE, logs / "kinto.log")
    server.info["server_kind"] = kind
    migrate = [str(venv / "bin" / "kinto"), "migrate", "--ini", str(ini)]
    return server, migrate


def migrate(name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    log(f"migrating {name}: {shlex.join(cmd)}")
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(
            f"{name} migrate failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        )


# --------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------


def list_ids(c: Client, path: str) -> set[str]:
    ids: set[str] = set()
    while path:
        status, headers, body = c.request("GET", path)
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"GET {path} -> {status} {str(body)[:300]}")
        ids.update(r["id"] for r in body.get("data", []))
        nxt = headers.get("next-page")
        path = nxt.split(f":{c.port}", 1)[1] if nxt and f":{c.port}" in nxt else ""
    return ids


def seed(server: Server, n_records: int, seed_value: int) -> dict[str, Any]:
    """Create the bucket, collections and n_records records in BIG; return derived facts."""
    t0 = time.monotonic()
    c = Client(server.port)
    status, _, body = c.request("PUT", f"/v1/buckets/{BUCKET}", {"data": {}})
    if status not in (200, 201):
        raise RuntimeError(f"{server.name}: create bucket -> {status} {body}")
    for coll in [BIG, *WRITE_COLLECTIONS]:
        status, _, body = c.request("PUT", f"/v1/buckets/{BUCKET}/collections/{coll}", {"data": {}})
        if status not in (200, 201):
            raise RuntimeError(f"{server.name}: create collection {coll} -> {status} {body}")
    batch_max = int((server.info.get("settings") or {}).get("batch_max_requests") or 25)
    rng = random.Random(seed_value)
    records = [
        {
            "id": f"rec-{i:05d}",
            "data": {
                "category": i % 10,
                "rank": rng.randint(0, 1_000_000),
                "title": f"Record number {i}",
                "tags": ["bench", f"t{i % 7}"],
            },
        }
        for i in range(n_records)
    ]
    chunks = [records[i : i + batch_max] for i in range(0, len(records), batch_max)]

    def send(chunk: list[dict[str, Any]]) -> None:
        reqs = [
            {
                "method": "PUT",
                "path": f"/buckets/{BUCKET}/collections/{BIG}/records/{r['id']}",
                "body": {"data": r["data"]},
            }
            for r in chunk
        ]
        for attempt in range(20):
            st, _, bd = c.request("POST", "/v1/batch", {"requests": reqs})
            if st != 200 or not isinstance(bd, dict) or len(bd.get("responses", [])) != len(reqs):
                raise RuntimeError(f"{server.name}: seed batch -> {st} {str(bd)[:300]}")
            statuses = [r.get("status") for r in bd["responses"]]
            if all(x in (200, 201) for x in statuses):
                return
            bad = [x for x in statuses if x not in (200, 201, 409, 503)]
            if bad:
                raise RuntimeError(
                    f"{server.name}: seed batch sub-errors: {bad[:5]} {str(bd)[:300]}"
                )
            # A conflicting sub-request may roll the whole batch back (Kinto): resend it all
            # (PUTs are idempotent).
            time.sleep(0.05 * (attempt + 1))
        raise RuntimeError(f"{server.name}: seed batch still conflicting after retries")

    # One client, sequential batches: concurrent batches into one collection only add write
    # conflicts (and are not faster on Kinto).
    for chunk in chunks:
        send(chunk)
    for _ in range(3):  # verify every record is there; re-send any missing
        present = list_ids(
            c, f"/v1/buckets/{BUCKET}/collections/{BIG}/records?_fields=id&_limit=10000"
        )
        missing = [r for r in records if r["id"] not in present]
        if not missing:
            break
        log(f"{server.name}: {len(missing)} seeded records missing, re-sending them")
        for i in range(0, len(missing), batch_max):
            send(missing[i : i + batch_max])
    else:
        raise RuntimeError(f"{server.name}: seeding incomplete")

    # _since polling target: the 6th most recent timestamp -> 5 records newer than it.
    path = f"/v1/buckets/{BUCKET}/collections/{BIG}/records?_sort=-last_modified&_limit=6"
    status, _, body = c.request("GET", path)
    if status != 200 or len(body.get("data", [])) != min(6, n_records):
        raise RuntimeError(f"{server.name}: cannot read recent records: {status} {str(body)[:300]}")
    since_ts = body["data"][-1]["last_modified"]
    since_expect = min(5, n_records - 1)
    status, _, body = c.request(
        "GET", f"/v1/buckets/{BUCKET}/collections/{BIG}/records?_since={since_ts}"
    )
    if status != 200 or len(body["data"]) != since_expect:
        raise RuntimeError(f"{server.name}: _since={since_ts} returned {len(body.get('data', []))}")
    list_expect = min(50, sum(1 for r in records if r["data"]["category"] == 3))
    c.close()
    log(f"{server.name}: seeded {n_records} records in {time.monotonic() - t0:.1f}s")
    return {"since_ts": since_ts, "since_expect": since_expect, "list_expect": list_expect}


# --------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    description: str
    script: str
    env: dict[str, str]
    connections: int | None = None  # None = --connections
    duration: float | None = None  # None = --duration
    only: str | None = None  # "kintogql" for GraphQL workloads
    per_round_env: Any = None  # callable(server_name, round) -> extra env
    unit: str = "req"
    probe: dict[str, Any] | None = None  # GraphQL probe spec


def rest_workloads(facts: dict[str, Any], args: argparse.Namespace) -> list[Workload]:
    big = f"/buckets/{BUCKET}/collections/{BIG}/records"
    list_path = f"{big}?category=3&_sort=-rank&_limit=50"
    return [
        Workload(
            "create_one",
            "POST one record; all connections into one collection",
            "create.lua",
            {"BENCH_COLLECTIONS": "create"},
        ),
        Workload(
            "create_spread",
            "POST one record; spread round-robin over 16 collections",
            "create.lua",
            {"BENCH_COLLECTIONS": ",".join(SPREAD)},
        ),
        Workload(
            "read_one",
            f"GET one existing record ({READ_RECORD})",
            "get.lua",
            {
                "BENCH_PATH": f"{big}/{READ_RECORD}",
                "BENCH_MARKER": f'"{READ_RECORD}"',
                "BENCH_MARKER2": '"last_modified"',
            },
        ),
        Workload(
            "list_filtered",
            "GET ?category=3&_sort=-rank&_limit=50 on the big collection",
            "list.lua",
            {
                "BENCH_PATH": list_path,
                "BENCH_EXPECT_COUNT": str(facts["list_expect"]),
                "BENCH_FILTER_FIELD": "category",
                "BENCH_FILTER_VALUE": "3",
                "BENCH_SORT_FIELD": "rank",
                "BENCH_SORT_DESC": "1",
            },
        ),
        Workload(
            "since_poll",
            "GET ?_since=<ts> returning the 5 newest records",
            "list.lua",
            {"BENCH_PATH": f"{big}?_since={{since_ts}}", "BENCH_EXPECT_COUNT": "{since_expect}"},
        ),
        Workload(
            "batch_create",
            "POST /batch with 25 creates into one collection",
            "batch.lua",
            {"BENCH_COLLECTIONS": "bulk", "BENCH_BATCH_SIZE": "25"},
            unit="batch",
        ),
        Workload(
            "batch_spread",
            "POST /batch with 25 creates spread over 16 collections",
            "batch.lua",
            {"BENCH_COLLECTIONS": ",".join(SPREAD), "BENCH_BATCH_SIZE": "25"},
            unit="batch",
        ),
        Workload(
            "put_if_match",
            "PUT with If-Match: <ETag of this connection's previous write>",
            "put_ifmatch.lua",
            {"BENCH_COLLECTION": "put", "BENCH_POOL": str(max(1024, 64 * args.connections))},
            per_round_env=lambda server, rnd: {"BENCH_NONCE": f"p{rnd}-{int(time.time() * 1000)}"},
        ),
        Workload(
            "root",
            "GET /v1/ (authenticated)",
            "get.lua",
            {"BENCH_PATH": "/", "BENCH_MARKER": '"http_api_version"'},
        ),
        Workload(
            "concurrency_409",
            f"{args.conc_connections} connections creating into one collection (409 rate)",
            "create.lua",
            {"BENCH_COLLECTIONS": "conc"},
            connections=args.conc_connections,
            duration=args.conc_duration,
        ),
    ]


def graphql_workloads(facts: dict[str, Any]) -> list[Workload]:
    out = []
    for name, spec in GRAPHQL_WORKLOADS.items():
        expect = spec.get("expect_count")
        if expect == "list":
            expect = facts["list_expect"]
        body = json.dumps({"query": spec["query"], "variables": spec.get("variables")})
        env = {"BENCH_PATH": "/graphql", "BENCH_GQL_BODY": body, "BENCH_MARKER": spec["marker"]}
        if expect is not None:
            env["BENCH_EXPECT_COUNT"] = str(expect)
        if spec.get("filter"):
            env["BENCH_FILTER_FIELD"], env["BENCH_FILTER_VALUE"] = spec["filter"]
        if spec.get("sort_desc"):
            env["BENCH_SORT_FIELD"], env["BENCH_SORT_DESC"] = spec["sort_desc"], "1"
        out.append(
            Workload(
                name,
                spec["description"],
                "graphql.lua",
                env,
                only="kintogql",
                probe={"body": body, "marker": spec["marker"], "expect": expect},
            )
        )
    return out


def probe_graphql(server: Server, wl: Workload) -> str | None:
    """None if the GraphQL workload can run, else the reason to skip it."""
    assert wl.probe is not None
    c = Client(server.port, timeout=10)
    try:
        status, _, body = c.request("POST", "/v1/graphql", json.loads(wl.probe["body"]))
    except OSError as exc:
        return f"probe failed: {exc}"
    finally:
        c.close()
    if status in (404, 405):
        return f"/v1/graphql answered {status} (no GraphQL endpoint)"
    if status != 200 or not isinstance(body, dict) or "data" not in body:
        return f"probe: HTTP {status} {str(body)[:200]}"
    if body.get("errors"):
        errors = str(body["errors"])[:300]
        return f"probe: GraphQL errors (adjust GRAPHQL_WORKLOADS in run.py): {errors}"
    n = len(re.findall(r'"' + re.escape(wl.probe["marker"]) + r'"\s*:', json.dumps(body)))
    exp = wl.probe["expect"]
    if (exp is not None and n != exp) or (exp is None and n == 0):
        return f"probe: {n} x {wl.probe['marker']!r}, expected {exp}"
    return None


def run_wrk(
    server: Server,
    wl: Workload,
    args: argparse.Namespace,
    duration: float,
    extra_env: dict[str, str],
    facts: dict[str, Any],
) -> dict[str, Any]:
    conns = wl.connections or args.connections
    threads = min(args.threads, conns)
    env = dict(os.environ)
    env.update(
        {
            "BENCH_LUA_DIR": str(LUA_DIR),
            "BENCH_AUTH": AUTH,
            "BENCH_PREFIX": "/v1",
            "BENCH_BUCKET": BUCKET,
        }
    )
    for k, v in {**wl.env, **extra_env}.items():
        env[k] = v.format(**facts) if "{" in v and k != "BENCH_GQL_BODY" else v
    cmd = [
        args.wrk,
        f"-t{threads}",
        f"-c{conns}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={args.timeout}s",
        "-s",
        str(LUA_DIR / wl.script),
        f"http://127.0.0.1:{server.port}",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({out.returncode}) for {wl.name}/{server.name}:\n"
            f"{out.stdout}\n{out.stderr}"
        )
    res = json.loads(line[len("BENCH_RESULT ") :])
    # Requests still in flight when wrk stops keep the server busy for up to ~max latency:
    # let them drain so they do not eat into the next (other server's) measurement.
    time.sleep(min(args.max_cooldown, max(0.2, res["max_us"] / 1e6)))
    secs = res["duration_us"] / 1e6
    socket_errors = (
        res["socket_connect"] + res["socket_read"] + res["socket_write"] + res["timeouts"]
    )
    res["errors"] = res["bad"] + socket_errors
    res["rps"] = res["ok"] / secs if secs else 0.0
    res["seconds"] = secs
    res["connections"] = conns
    res["threads"] = threads
    return res


# --------------------------------------------------------------------------------------
# Aggregation / reporting
# --------------------------------------------------------------------------------------


def aggregate(rounds: list[dict[str, Any]], batch_size: int = 0) -> dict[str, Any]:
    total_ok = sum(r["ok"] for r in rounds)
    total_s = sum(r["seconds"] for r in rounds)
    answered = sum(r["ok"] + r["bad"] for r in rounds)
    n409 = sum(r["status_409"] for r in rounds)
    return {
        "rps": total_ok / total_s if total_s else 0.0,
        "rps_per_round": [round(r["rps"], 1) for r in rounds],
        "p50_ms": statistics.median(r["p50_us"] for r in rounds) / 1000,
        "p99_ms": statistics.median(r["p99_us"] for r in rounds) / 1000,
        "ok": total_ok,
        "errors": sum(r["errors"] for r in rounds),
        "non2xx": sum(r["non2xx"] for r in rounds),
        "status_409": n409,
        "status_412": sum(r["status_412"] for r in rounds),
        "status_5xx": sum(r["status_5xx"] for r in rounds),
        "sub_409": sum(r["sub_409"] for r in rounds),
        "pct_409": 100.0 * n409 / answered if answered else 0.0,
        # batch workloads: share of the sub-requests (25 per batch) answered 409
        "pct_sub_409": 100.0 * sum(r["sub_409"] for r in rounds) / (answered * batch_size)
        if answered and batch_size
        else 0.0,
        "first_bad": next((r["first_bad"] for r in rounds if r["first_bad"]), ""),
    }


def fmt_table(results: list[dict[str, Any]], markdown: bool) -> str:
    headers = [
        "workload",
        "server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "non-2xx",
        "409",
        "409 %",
        "kintogql/Kinto",
    ]
    rows = []
    by_wl: dict[str, dict[str, dict[str, Any]]] = {}
    for r in results:
        by_wl.setdefault(r["workload"], {})[r["server"]] = r
    for r in results:
        if r.get("skipped"):
            rows.append(
                [r["workload"], r["server"], "skipped", "", "", "", "", "", "", r["skipped"][:60]]
            )
            continue
        a = r["aggregate"]
        ratio = ""
        pair = by_wl[r["workload"]]
        if r["server"] == "kintogql" and "kinto" in pair and not pair["kinto"].get("skipped"):
            k = pair["kinto"]["aggregate"]["rps"]
            ratio = f"{a['rps'] / k:.2f}x" if k else "n/a"
        extra_409 = a["status_409"] + a["sub_409"]
        rows.append(
            [
                r["workload"],
                r["server"],
                f"{a['rps']:.1f}",
                f"{a['p50_ms']:.2f}",
                f"{a['p99_ms']:.2f}",
                str(a["errors"]),
                str(a["non2xx"]),
                str(extra_409) if not a["sub_409"] else f"{a['status_409']}+{a['sub_409']} sub",
                f"{a['pct_409']:.1f}" if not a["sub_409"] else f"{a['pct_sub_409']:.1f} of sub",
                ratio,
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--duration", type=float, default=8, help="seconds per measured round (default 8)"
    )
    p.add_argument(
        "--rounds", type=int, default=2, help="interleaved rounds per workload (default 2)"
    )
    p.add_argument(
        "--warmup", type=float, default=1, help="warm-up seconds per server per workload"
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round of 3 s, 2,000 records")
    p.add_argument("--only", choices=["kinto", "kintogql"], help="benchmark one server only")
    p.add_argument("--workloads", help="comma-separated subset of workload names")
    p.add_argument("--no-graphql", action="store_true", help="skip the GraphQL workloads")
    p.add_argument("--workers", type=int, default=2, help="server worker processes (both servers)")
    p.add_argument(
        "--threads", type=int, default=1, help="wrk threads (default 1; wrk is not the bottleneck)"
    )
    p.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    p.add_argument("--conc-connections", type=int, default=16)
    p.add_argument(
        "--conc-duration", type=float, default=5, help="seconds per round of concurrency_409"
    )
    p.add_argument("--timeout", type=int, default=10, help="wrk per-request timeout (s)")
    p.add_argument("--max-cooldown", type=float, default=5, help="max pause after each wrk run (s)")
    p.add_argument(
        "--records", type=int, default=10_000, help="records seeded in the big collection"
    )
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--kinto-db", default="kinto_bench")
    p.add_argument("--kintogql-db", default="kintogql_bench")
    p.add_argument("--kinto-port", type=int, default=8891)
    p.add_argument("--kintogql-port", type=int, default=8892)
    p.add_argument(
        "--kinto-venv", default=os.environ.get("KINTO_BENCH_VENV", "/work/kinto-bench-venv")
    )
    p.add_argument("--kinto-server", choices=["auto", "granian", "gunicorn"], default="auto")
    p.add_argument("--kinto-threads", type=int, default=4, help="Kinto threads per worker")
    p.add_argument(
        "--pool-size", type=int, default=10, help="PostgreSQL pool size per worker (both)"
    )
    p.add_argument("--kintogql-cmd", help="command prefix for kintogql (default: found on PATH)")
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--results-dir", default=str(HERE / "results"))
    p.add_argument("--output-name", default="latest", help="results file stem (default latest)")
    args = p.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 3)
        args.rounds = 1
        args.warmup = 0
        args.records = min(args.records, 2000)
        args.conc_duration = min(args.conc_duration, 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which(args.wrk):
        print("wrk not found: run benchmarks/setup_kinto.sh (apt-get install wrk)", file=sys.stderr)
        return 2
    results_dir = Path(args.results_dir)
    logs = results_dir / "logs"
    servers: list[Server] = []

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = time.time()
    try:
        plan: list[tuple[Server, list[str], str]] = []
        if args.only != "kinto":
            s, m = make_kintogql(args, logs)
            plan.append((s, m, args.kintogql_db))
        if args.only != "kintogql":
            if not (Path(args.kinto_venv) / "bin" / "kinto").exists():
                print(
                    f"no Kinto venv at {args.kinto_venv}: run benchmarks/setup_kinto.sh",
                    file=sys.stderr,
                )
                return 2
            s, m = make_kinto(args, logs)
            plan.append((s, m, args.kinto_db))
        for server, migrate_cmd, db in plan:
            log(f"recreating database {db}")
            recreate_db(args.pg, db)
            migrate(server.name, migrate_cmd, server.env, server.cwd)
            servers.append(server)
            server.start()
        # Seed both servers at the same time (Kinto seeds at ~100 records/s, latency-bound).
        facts: dict[str, dict[str, Any]] = {}
        with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
            futures = {s.name: pool.submit(seed, s, args.records, args.seed) for s in servers}
            for name, fut in futures.items():
                facts[name] = fut.result()
        if len({f["list_expect"] for f in facts.values()}) > 1:
            raise RuntimeError(f"servers disagree on the seeded data: {facts}")
        # Both databases start the measurements with fresh planner statistics, as they
        # would after autovacuum's next pass in production (a just-seeded table otherwise
        # runs on the statistics of an empty one).
        for s_ in servers:
            db = args.kinto_db if s_.name == "kinto" else args.kintogql_db
            psql(args.pg, db, "ANALYZE")

        workloads = rest_workloads(next(iter(facts.values())), args)
        if not args.no_graphql:
            workloads += graphql_workloads(next(iter(facts.values())))
        if args.workloads:
            wanted = set(args.workloads.split(","))
            unknown = wanted - {w.name for w in workloads}
            if unknown:
                print(f"unknown workloads: {', '.join(sorted(unknown))}", file=sys.stderr)
                return 2
            workloads = [w for w in workloads if w.name in wanted]

        results: list[dict[str, Any]] = []
        for wl in workloads:
            active = [s for s in servers if wl.only in (None, s.name)]
            if not active:
                continue
            per_server: dict[str, list[dict[str, Any]]] = {s.name: [] for s in active}
            skipped: dict[str, str] = {}
            for s in active:
                if wl.probe is not None:
                    reason = probe_graphql(s, wl)
                    if reason:
                        skipped[s.name] = reason
                        log(f"{wl.name}/{s.name}: skipped: {reason}")
            runnable = [s for s in active if s.name not in skipped]
            duration = wl.duration or args.duration
            if args.warmup > 0:
                for s in runnable:
                    extra = wl.per_round_env(s.name, "w") if wl.per_round_env else {}
                    run_wrk(s, wl, args, args.warmup, extra, facts[s.name])
            for rnd in range(args.rounds):
                for s in runnable:  # interleaved: A, B, A, B ...
                    if not s.alive():
                        raise RuntimeError(f"{s.name} died; log:\n{tail(s.log_path)}")
                    extra = wl.per_round_env(s.name, rnd) if wl.per_round_env else {}
                    res = run_wrk(s, wl, args, duration, extra, facts[s.name])
                    per_server[s.name].append(res)
                    log(
                        f"{wl.name:<18} {s.name:<9} round {rnd + 1}/{args.rounds}: "
                        f"{res['rps']:8.1f} ok/s  p50 {res['p50_us'] / 1000:7.2f} ms  "
                        f"p99 {res['p99_us'] / 1000:7.2f} ms  errors {res['errors']} "
                        f"(409: {res['status_409']}, sub-409: {res['sub_409']})"
                        + (f"  first bad: {res['first_bad'][:160]}" if res["first_bad"] else "")
                    )
            for s in active:
                entry: dict[str, Any] = {
                    "workload": wl.name,
                    "description": wl.description,
                    "server": s.name,
                    "unit": wl.unit,
                }
                if s.name in skipped:
                    entry["skipped"] = skipped[s.name]
                else:
                    entry["aggregate"] = aggregate(
                        per_server[s.name], int(wl.env.get("BENCH_BATCH_SIZE", 0))
                    )
                    entry["rounds"] = per_server[s.name]
                results.append(entry)

        report = {
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "elapsed_s": round(time.time() - started, 1),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
            "servers": {
                s.name: {
                    "command": s.cmd,
                    "version": s.info.get("project_version"),
                    "project_name": s.info.get("project_name"),
                    "port": s.port,
                }
                for s in servers
            },
            "settings": {k: v for k, v in vars(args).items()},
            "ratios_rps_kintogql_over_kinto": {},
            "results": results,
        }
        for wl_name in {r["workload"] for r in results}:
            pair = {
                r["server"]: r for r in results if r["workload"] == wl_name and "aggregate" in r
            }
            if "kinto" in pair and "kintogql" in pair and pair["kinto"]["aggregate"]["rps"]:
                report["ratios_rps_kintogql_over_kinto"][wl_name] = round(
                    pair["kintogql"]["aggregate"]["rps"] / pair["kinto"]["aggregate"]["rps"], 3
                )
        results_dir.mkdir(parents=True, exist_ok=True)
        json_path = results_dir / f"{args.output_name}.json"
        md_path = results_dir / f"{args.output_name}.md"
        json_path.write_text(json.dumps(report, indent=2) + "\n")
        md = [
            f"# Benchmark results ({report['generated_at']})",
            "",
            f"Machine: {os.cpu_count()} CPUs, {platform.platform()}. "
            f"Workers per server: {args.workers}; wrk -t{args.threads} -c{args.connections} "
            f"(concurrency_409: -c{args.conc_connections}); {args.rounds} round(s) x "
            f"{args.duration:g} s per server per workload, interleaved; "
            f"{args.records} seeded records.",
            "",
            "req/s counts only correct responses (status AND body checked). For batch_* one "
            "request = 25 record creations. p50/p99 are medians over rounds of wrk's percentiles.",
            "",
            fmt_table(results, markdown=True),
            "",
        ]
        servers_line = ", ".join(
            f"{s.name} {s.info.get('project_version')} ({shlex.join(s.cmd[:1])})" for s in servers
        )
        md.insert(3, f"Servers: {servers_line}")
        md_path.write_text("\n".join(md))
        print()
        print(fmt_table(results, markdown=False))
        print()
        print(f"wrote {json_path} and {md_path} ({report['elapsed_s']:.0f} s)")
        for r in results:
            if r.get("aggregate", {}).get("first_bad"):
                first_bad = r["aggregate"]["first_bad"][:300]
                print(f"  {r['workload']}/{r['server']} first bad response: {first_bad}")
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except RuntimeError as exc:
        log(f"error: {exc}")
        return 1
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
