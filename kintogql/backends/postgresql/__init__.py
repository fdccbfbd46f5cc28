"""PostgreSQL storage backend (psycopg 3, async) and its schema migrations."""

from kintogql.backends.postgresql.migrate import migrate
from kintogql.backends.postgresql.storage import PostgreSQLBackend, PostgreSQLStorage

__all__ = ["PostgreSQLBackend", "PostgreSQLStorage", "migrate"]
