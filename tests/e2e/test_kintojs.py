"""The kinto.js end-to-end suite (``tests/e2e_js``) against a real ``kintogql serve``.

Starts ``kintogql serve`` on a free port with PostgreSQL storage, waits for ``GET /v1/``,
then runs ``tests/e2e_js/run.sh`` (Node.js + the official kinto.js client with
fake-indexeddb) and requires it to pass.

Set ``KINTO_E2E_URL`` (e.g. ``http://127.0.0.1:8889/v1``) to skip starting kintogql and run
the suite against an already running server instead, e.g. the reference Kinto started by
``tests/e2e_js/kinto-reference/start-kinto.sh``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import REPO_ROOT, running_server, tail

pytestmark = [pytest.mark.slow]

SUITE_DIR = REPO_ROOT / "tests" / "e2e_js"
RUN_SH = SUITE_DIR / "run.sh"
NODE_SUITE_TIMEOUT_S = 1200.0
SETTINGS = {
    "KINTOGQL_USERID_HMAC_SECRET": "e2e-secret",
    "KINTOGQL_PAGINATE_BY": "5",
    "KINTOGQL_INCLUDES": "kinto.plugins.flush",
}


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

    with running_server("kintogql_e2e", SETTINGS, server_log) as url:
        yield url


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
        pytest.fail(f"kinto.js suite timed out after {NODE_SUITE_TIMEOUT_S}s\n{tail(out or '')}")
    if result.returncode != 0:
        server_output = ""
        if server_log.exists():
            server_output = f"\n--- server log ---\n{tail(server_log.read_text(errors='replace'))}"
        pytest.fail(
            f"kinto.js suite against {kinto_url} exited with code {result.returncode}\n"
            f"--- node stdout ---\n{tail(result.stdout)}\n"
            f"--- node stderr ---\n{tail(result.stderr)}{server_output}",
            pytrace=False,
        )
