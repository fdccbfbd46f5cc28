"""Numbered, idempotent schema migrations (``migrations/NNNN_name.sql``).

Run by ``kintogql migrate``. Safe to run twice or from several processes at once: the whole
upgrade is one transaction holding an advisory lock, so a second runner waits, then finds
nothing left to apply.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

import psycopg

from kintogql.errors import BackendError

logger = logging.getLogger(__name__)

# Any constant shared by every kintogql process ("kintogql" in ASCII).
_ADVISORY_LOCK_ID = 0x6B696E746F67716C
_FILE_NAME = re.compile(r"^(\d{4})_\w+\.sql$")
# Collations under which PostgreSQL compares strings in code point order (K-LST-4).
_BYTE_ORDER_COLLATIONS = {"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic"}


def migrations() -> list[tuple[int, str, str]]:
    """``(version, file name, SQL)`` of every migration shipped, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(url: str) -> int:
    """Bring the schema at ``url`` to the latest version; return that version."""
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_ID,))
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version integer PRIMARY KEY,"
                    " name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
                row = await cursor.fetchone()
                version = int(row[0]) if row else 0
                for number, name, text in migrations():
                    if number <= version:
                        continue
                    logger.info("Applying migration %s", name)
                    # No parameters: the simple query protocol runs the whole file.
                    await conn.execute(text.encode())
                    await conn.execute(
                        "INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                        (number, name),
                    )
                    version = number
            cursor = await conn.execute(
                "SELECT datcollate FROM pg_database WHERE datname = current_database()"
            )
            row = await cursor.fetchone()
    except psycopg.Error as exc:
        raise BackendError(f"Migration failed: {exc}") from exc
    collation = row[0] if row else None
    if collation not in _BYTE_ORDER_COLLATIONS:
        logger.warning(
            "Database collation is %r: strings inside objects will sort by that collation, "
            "not by code point as Kinto specifies. Create the database with "
            "LC_COLLATE 'C' (or C.UTF-8), TEMPLATE template0.",
            collation,
        )
    return version
