"""PostgreSQL storage backend (psycopg 3, async) and its schema migrations.

Deployment: run ``kintogql migrate`` (``migrate(url)``) before serving. Create the database
with a byte-order collation so that strings inside objects sort by code point as Kinto
specifies (K-LST-4), e.g.::

    CREATE DATABASE kinto TEMPLATE template0 ENCODING 'UTF8'
        LC_COLLATE 'C' LC_CTYPE 'C.UTF-8';

(``C.UTF-8`` as ctype keeps ``like_`` filters case-insensitive beyond ASCII.) Ids, resource
names and parent ids use the "C" collation whatever the database's; ``migrate`` logs a
warning when the database collation is not byte-order.
"""

from kintogql.backends.postgresql.migrate import migrate
from kintogql.backends.postgresql.storage import PostgreSQLBackend, PostgreSQLStorage

__all__ = ["PostgreSQLBackend", "PostgreSQLStorage", "migrate"]
