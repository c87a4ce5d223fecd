"""How every tenant_rag.local SQLite connection is opened, in one of two durability modes.

Both modes run SQLite in WAL mode; they differ in when a commit reaches the disk:

* ``process`` (``synchronous=NORMAL``): a commit is appended to the write-ahead log with a
  ``write()`` before the call returns, so an acknowledged write survives the server
  process being killed at any point (``kill -9``, a crash, an OOM kill): the data is in
  the operating system's page cache and reaches the disk shortly after. The WAL is
  fsynced only at checkpoints, so an OS crash or power loss can drop the commits made
  since the last checkpoint; the database stays intact (SQLite's guarantee for WAL with
  NORMAL), it just loses that tail.
* ``power`` (``synchronous=FULL``): every commit fsyncs the WAL before the call returns,
  so an acknowledged write also survives an OS crash or power loss, provided the disk
  honours fsync (a drive or virtual disk that acknowledges writes it only cached can
  still lose them). ``fullfsync`` asks macOS for ``F_FULLFSYNC`` (its ``fsync`` does not
  flush the drive's cache); Linux ignores it.

What each costs is measured by ``benchmarks/bench_durability.py``; the default and the
figures are in docs/reliability.md. ``busy_timeout`` lets two processes over one data dir
take turns writing.

``secure_delete=ON`` (both modes): SQLite overwrites deleted records with zeros instead
of leaving them in free space, so an offboarded tenant's text is not left in the
database file. Its default depends on how SQLite was built (Debian's is on, upstream's
and many others' off), hence set here. The old page images still sit in the WAL until a
``wal_checkpoint(TRUNCATE)`` (`IndexStore.checkpoint`, ``POST /_local/checkpoint``)
empties it: together, deletion is physical.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Literal

BUSY_TIMEOUT_MS = 30_000

Durability = Literal["process", "power"]
DURABILITY_MODES: tuple[Durability, ...] = ("process", "power")
#: The default, chosen on the measured cost (docs/reliability.md, "Durability modes").
DEFAULT_DURABILITY: Durability = "process"
_SYNCHRONOUS = {"process": "NORMAL", "power": "FULL"}


def check_durability(value: str) -> Durability:
    """``value`` if it names a mode, else ``ValueError`` naming the modes."""
    if value not in DURABILITY_MODES:
        raise ValueError(
            f"durability must be one of {', '.join(DURABILITY_MODES)}, got {value!r}: "
            "'process' survives the server being killed, 'power' also an OS crash or power loss"
        )
    return value  # type: ignore[return-value]


def connect(path: Path, durability: Durability = DEFAULT_DURABILITY) -> sqlite3.Connection:
    """Open ``path`` in WAL mode, autocommit (we issue BEGIN ourselves), thread-agnostic.

    The caller guards each connection with a lock; ``check_same_thread`` is off
    because uvicorn and gRPC handlers run on different threads.
    """
    check_durability(durability)
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={_SYNCHRONOUS[durability]}")
    if durability == "power":
        conn.execute("PRAGMA fullfsync=ON")
        conn.execute("PRAGMA checkpoint_fullfsync=ON")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def sync_dir(path: Path) -> None:
    """fsync a folder, so the files just created in it keep their names after a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
