"""Start and stop a real ``kintogql serve`` process on PostgreSQL for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
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

REPO_ROOT = Path(__file__).resolve().parents[2]
KINTOGQL = Path(sys.executable).parent / "kintogql"

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
MIGRATE_TIMEOUT_S = 120.0
NODE_SUITE_TIMEOUT_S = 1200.0
OUTPUT_TAIL_CHARS = 20_000


def tail(text: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_database(db_name: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone()
        if row is None:
            # Another run may create it between the check and here.
            # Byte-order collation, like the other PostgreSQL test databases.
            create = sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            ).format(sql.Identifier(db_name))
            with contextlib.suppress(errors.DuplicateDatabase):
                conn.execute(create)


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error = "no attempt yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"kintogql serve exited with code {proc.returncode} before answering {url}\n"
                f"--- server log ---\n{tail(log_path.read_text(errors='replace'))}"
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
        f"--- server log ---\n{tail(log_path.read_text(errors='replace'))}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextlib.contextmanager
def running_server(db_name: str, settings: dict[str, str], log_path: Path) -> Iterator[str]:
    """Migrate ``db_name`` and serve it; yields the API root URL (``.../v1``)."""
    if not KINTOGQL.exists():
        pytest.fail(f"kintogql executable not found at {KINTOGQL} (is the package installed?)")
    ensure_database(db_name)
    env = dict(os.environ)
    env["KINTOGQL_STORAGE_URL"] = f"{PG_SERVER}/{db_name}"
    env.update(settings)
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
            f"--- stdout ---\n{tail(migrate.stdout)}\n--- stderr ---\n{tail(migrate.stderr)}"
        )
    with serving(env, log_path) as url:
        yield url


@contextlib.contextmanager
def serving(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``kintogql serve`` with ``env`` on a free port; yields the API root URL."""
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(KINTOGQL), "serve", "--host", HOST, "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    try:
        url = f"http://{HOST}:{port}/v1"
        _wait_until_up(f"{url}/", proc, log_path)
        yield url
    finally:
        _stop(proc)
