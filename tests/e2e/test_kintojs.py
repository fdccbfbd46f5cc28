"""The kinto.js end-to-end suite (``tests/e2e_js``) against a real ``kintogql serve``.

Starts ``kintogql serve`` on a free port with PostgreSQL storage, waits for ``GET /v1/``,
then runs ``tests/e2e_js/run.sh`` (Node.js + the official kinto.js client with
fake-indexeddb) and requires it to pass.

Set ``KINTO_E2E_URL`` (e.g. ``http://127.0.0.1:8889/v1``) to skip starting kintogql and run
the suite against an already running server instead, e.g. the reference Kinto started by
``tests/e2e_js/kinto-reference/start-kinto.sh``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

pytestmark = [pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITE_DIR = REPO_ROOT / "tests" / "e2e_js"
RUN_SH = SUITE_DIR / "run.sh"
KINTOGQL = Path(sys.executable).parent / "kintogql"

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "kintogql_e2e"
STORAGE_URL = f"{PG_SERVER}/{DB_NAME}"

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
MIGRATE_TIMEOUT_S = 120.0
NODE_SUITE_TIMEOUT_S = 1200.0
OUTPUT_TAIL_CHARS = 20_000


def _tail(text: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _ensure_database() -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if row is None:
            # Another run may create it between the check and here.
            # Byte-order collation, like the other PostgreSQL test databases.
            create = sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            ).format(sql.Identifier(DB_NAME))
            with contextlib.suppress(errors.DuplicateDatabase):
                conn.execute(create)


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "KINTOGQL_STORAGE_URL": STORAGE_URL,
            "KINTOGQL_USERID_HMAC_SECRET": "e2e-secret",
            "KINTOGQL_PAGINATE_BY": "5",
            "KINTOGQL_INCLUDES": "kinto.plugins.flush",
        }
    )
    return env


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error = "no attempt yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"kintogql serve exited with code {proc.returncode} before answering {url}\n"
                f"--- server log ---\n{_tail(log_path.read_text(errors='replace'))}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last_error = f"HTTP {resp.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = repr(exc)
        time.sleep(0.2)
    pytest.fail(
        f"kintogql serve did not answer {url} within {STARTUP_TIMEOUT_S}s ({last_error})\n"
        f"--- server log ---\n{_tail(log_path.read_text(errors='replace'))}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture
def node_tools() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the kinto.js suite")


@pytest.fixture
def server_log(tmp_path: Path) -> Path:
    return tmp_path / "kintogql-serve.log"


@pytest.fixture
def kinto_url(server_log: Path) -> Iterator[str]:
    """API root (``.../v1``) of the server under test."""
    external = os.environ.get("KINTO_E2E_URL")
    if external:
        yield external.rstrip("/")
        return

    if not KINTOGQL.exists():
        pytest.fail(f"kintogql executable not found at {KINTOGQL} (is the package installed?)")
    _ensure_database()
    env = _server_env()
    migrate = subprocess.run(
        [str(KINTOGQL), "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_S,
        check=False,
    )
    if migrate.returncode != 0:
        pytest.fail(
            f"kintogql migrate failed with code {migrate.returncode}\n"
            f"--- stdout ---\n{_tail(migrate.stdout)}\n--- stderr ---\n{_tail(migrate.stderr)}"
        )

    port = _free_port()
    with server_log.open("wb") as log:
        proc = subprocess.Popen(
            [str(KINTOGQL), "serve", "--host", HOST, "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    try:
        url = f"http://{HOST}:{port}/v1"
        _wait_until_up(f"{url}/", proc, server_log)
        yield url
    finally:
        _stop(proc)


@pytest.mark.usefixtures("node_tools")
def test_kintojs_suite(kinto_url: str, server_log: Path) -> None:
    env = dict(os.environ)
    env["KINTO_URL"] = kinto_url
    try:
        result = subprocess.run(
            ["bash", str(RUN_SH)],
            cwd=SUITE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=NODE_SUITE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"kinto.js suite timed out after {NODE_SUITE_TIMEOUT_S}s\n{_tail(out or '')}")
    if result.returncode != 0:
        server_output = ""
        if server_log.exists():
            server_output = f"\n--- server log ---\n{_tail(server_log.read_text(errors='replace'))}"
        pytest.fail(
            f"kinto.js suite against {kinto_url} exited with code {result.returncode}\n"
            f"--- node stdout ---\n{_tail(result.stdout)}\n"
            f"--- node stderr ---\n{_tail(result.stderr)}{server_output}",
            pytrace=False,
        )
