"""How every tenant_rag.local SQLite connection is opened.

WAL + ``synchronous=NORMAL``: a commit is appended to the write-ahead log with
a ``write()`` before the call returns, so it survives the process being killed
(``kill -9``), which is the failure a local server sees. Only an OS crash or
power loss can drop the last few commits, which is an accepted trade for a
development database (FULL would fsync every commit and cost ~10x on upserts).
``busy_timeout`` lets two processes over one data dir take turns writing.

``secure_delete=ON``: SQLite overwrites deleted records with zeros instead of
leaving them in free space, so an offboarded tenant's text is not left in the
database file. Its default depends on how SQLite was built (Debian's is on,
upstream's and many others' off), hence set here. The old page images still sit
in the WAL until a ``wal_checkpoint(TRUNCATE)`` (`IndexStore.checkpoint`,
``POST /_local/checkpoint``) empties it: together, deletion is physical.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

BUSY_TIMEOUT_MS = 30_000


def connect(path: Path) -> sqlite3.Connection:
    """Open ``path`` in WAL mode, autocommit (we issue BEGIN ourselves), thread-agnostic.

    The caller guards each connection with a lock; ``check_same_thread`` is off
    because uvicorn and gRPC handlers run on different threads.
    """
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA secure_delete=ON")
    return conn
