"""How every tenant_rag.local SQLite connection is opened.

WAL + ``synchronous=NORMAL``: a commit is appended to the write-ahead log with
a ``write()`` before the call returns, so it survives the process being killed
(``kill -9``), which is the failure a local server sees. Only an OS crash or
power loss can drop the last few commits, which is an accepted trade for a
development database (FULL would fsync every commit and cost ~10x on upserts).
``busy_timeout`` lets two processes over one data dir take turns writing.
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
    return conn
