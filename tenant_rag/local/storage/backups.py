"""Durable backups and restore jobs of one data dir, under ``<data_dir>/backups/``.

* ``backups.sqlite``: one row per backup (its status, the source index's definition
  at backup time, counts) and one per restore job.
* ``<backup_id>.sqlite``: the snapshot itself, an SQLite copy of the index file.

How a backup never shows half a snapshot, even after ``kill -9``:

1. its row is inserted as ``Initializing``, owned by this process (its pid);
2. the snapshot is written to ``<backup_id>.sqlite.partial-<pid>``, fsynced, and
   renamed to ``<backup_id>.sqlite`` (a rename is atomic; ``copy_database``);
3. the row turns ``Ready`` in one transaction.

A row still ``Initializing`` whose owner process is gone (killed mid-backup) is
deleted with its files the next time backups are read, so it is never listed.
The snapshot is taken by ``VACUUM INTO`` on a connection of its own: one read
transaction, hence one consistent state of the index, while writers go on (WAL).

Connections are opened per operation: backups are rare, and nothing has to be
closed when the server stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenant_rag.local.storage.sqlite import DEFAULT_DURABILITY, Durability, connect

BACKUPS_DIR = "backups"
INITIALIZING = "Initializing"
READY = "Ready"

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS backups (
        backup_id TEXT PRIMARY KEY,
        name TEXT,
        description TEXT,
        status TEXT NOT NULL,
        source_name TEXT NOT NULL,
        source_uid TEXT NOT NULL,
        index_def TEXT NOT NULL,
        record_count INTEGER,
        namespace_count INTEGER,
        size_bytes INTEGER,
        created_at REAL NOT NULL,
        owner TEXT NOT NULL,
        source_deleted_at REAL)""",
    "CREATE INDEX IF NOT EXISTS backups_by_source ON backups(source_name, source_uid)",
    """CREATE TABLE IF NOT EXISTS restore_jobs (
        job_id TEXT PRIMARY KEY,
        backup_id TEXT NOT NULL,
        target_name TEXT NOT NULL,
        target_uid TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        completed_at REAL,
        percent_complete REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS deleted_indexes (
        uid TEXT PRIMARY KEY, name TEXT NOT NULL, deleted_at REAL NOT NULL)""",
]
_BACKUP_COLUMNS = (
    "backup_id, name, description, status, source_name, source_uid, index_def, "
    "record_count, namespace_count, size_bytes, created_at, owner, source_deleted_at"
)


@dataclass(frozen=True)
class BackupRecord:
    """One backup as stored; ``index_def`` is the source index's definition (a dict)."""

    backup_id: str
    name: str | None
    description: str | None
    status: str
    source_name: str
    source_uid: str
    index_def: dict[str, Any]
    record_count: int | None
    namespace_count: int | None
    size_bytes: int | None
    created_at: float
    owner: str
    source_deleted_at: float | None = None


@dataclass(frozen=True)
class RestoreJob:
    """One restore job: which backup became which index, and when."""

    job_id: str
    backup_id: str
    target_name: str
    target_uid: str
    status: str
    created_at: float
    completed_at: float | None
    percent_complete: float


@dataclass(frozen=True)
class SnapshotStats:
    """What a finished snapshot holds."""

    record_count: int
    namespace_count: int
    size_bytes: int = field(default=0)


class BackupStore:
    """The backups and restore jobs of one data dir. Thread- and process-safe (SQLite locks)."""

    def __init__(self, data_dir: Path, durability: Durability = DEFAULT_DURABILITY) -> None:
        self.dir = data_dir / BACKUPS_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.dir / "backups.sqlite"
        self.durability = durability
        with self._conn() as conn:
            for stmt in _SCHEMA:
                conn.execute(stmt)

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.db_path, self.durability)
        try:
            yield conn
        finally:
            conn.close()

    def file_of(self, backup_id: str) -> Path:
        """The snapshot file of a backup (it exists once the backup is ``Ready``)."""
        return self.dir / f"{backup_id}.sqlite"

    # -- taking a snapshot -------------------------------------------------------
    def begin(
        self,
        backup_id: str,
        *,
        name: str | None,
        description: str | None,
        index_def: dict[str, Any],
    ) -> None:
        """Record a backup as ``Initializing``, owned by this process (``process_id()``)."""
        with self._conn() as conn:
            conn.execute(
                f"INSERT INTO backups ({_BACKUP_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    backup_id,
                    name,
                    description,
                    INITIALIZING,
                    index_def["name"],
                    index_def["uid"],
                    json.dumps(index_def),
                    None,
                    None,
                    None,
                    time.time(),
                    process_id(),
                    None,
                ),
            )

    def snapshot(self, backup_id: str, source: Path) -> SnapshotStats:
        """Copy the index file ``source`` into the backup's file, consistently, while writes go on."""
        final = self.file_of(backup_id)
        copy_database(source, final)
        copy = sqlite3.connect(f"file:{final}?mode=ro", uri=True)
        try:
            records, namespaces = copy.execute(
                "SELECT coalesce(sum(record_count), 0), count(*) FROM namespaces"
            ).fetchone()
        finally:
            copy.close()
        return SnapshotStats(int(records), int(namespaces), final.stat().st_size)

    def finish(self, backup_id: str, stats: SnapshotStats) -> None:
        """Mark a backup ``Ready`` with its counts (its file is already in place)."""
        with self._conn() as conn:
            conn.execute(
                "UPDATE backups SET status=?, record_count=?, namespace_count=?, size_bytes=? "
                "WHERE backup_id=?",
                (READY, stats.record_count, stats.namespace_count, stats.size_bytes, backup_id),
            )

    def discard(self, backup_id: str) -> None:
        """Forget a backup, then remove its files (a failed or deleted backup)."""
        with self._conn() as conn:
            conn.execute("DELETE FROM backups WHERE backup_id=?", (backup_id,))
        final = self.file_of(backup_id)
        final.unlink(missing_ok=True)
        for partial in self.dir.glob(f"{final.name}.partial-*"):
            partial.unlink(missing_ok=True)

    # -- reading -------------------------------------------------------------------
    def get(self, backup_id: str) -> BackupRecord | None:
        self._sweep_orphans()
        with self._conn() as conn:
            row = conn.execute(
                f"SELECT {_BACKUP_COLUMNS} FROM backups WHERE backup_id=?", (backup_id,)
            ).fetchone()
        return _backup(row) if row else None

    def backups(
        self, *, source_name: str | None = None, source_uid: str | None = None
    ) -> list[BackupRecord]:
        """Backups oldest first, optionally of one source index name (and uid)."""
        self._sweep_orphans()
        sql = f"SELECT {_BACKUP_COLUMNS} FROM backups"
        args: list[Any] = []
        if source_name is not None:
            sql += " WHERE source_name=?"
            args.append(source_name)
            if source_uid is not None:
                sql += " AND source_uid=?"
                args.append(source_uid)
        sql += " ORDER BY created_at, backup_id"
        with self._conn() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [_backup(r) for r in rows]

    def _sweep_orphans(self) -> None:
        """Delete ``Initializing`` backups whose owner process died (killed mid-backup)."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT backup_id, owner FROM backups WHERE status=?", (INITIALIZING,)
            ).fetchall()
        for backup_id, owner in rows:
            if not _alive(owner):
                self.discard(backup_id)

    # -- source indexes that were deleted ---------------------------------------
    def index_deleted(self, uid: str, name: str) -> None:
        """Remember when an index was deleted (backups of it report ``source_index_deleted_at``)."""
        with self._conn() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO deleted_indexes(uid, name, deleted_at) VALUES (?,?,?)",
                (uid, name, time.time()),
            )

    def deleted_at(self, uid: str) -> float | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT deleted_at FROM deleted_indexes WHERE uid=?", (uid,)
            ).fetchone()
        return float(row[0]) if row else None

    def ever_named(self, name: str) -> bool:
        """True if an index of that name was ever deleted here (or has backups)."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT 1 FROM deleted_indexes WHERE name=? UNION "
                "SELECT 1 FROM backups WHERE source_name=? LIMIT 1",
                (name, name),
            ).fetchone()
        return row is not None

    # -- restore jobs --------------------------------------------------------------
    def add_job(self, job: RestoreJob) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO restore_jobs VALUES (?,?,?,?,?,?,?,?)",
                (
                    job.job_id,
                    job.backup_id,
                    job.target_name,
                    job.target_uid,
                    job.status,
                    job.created_at,
                    job.completed_at,
                    job.percent_complete,
                ),
            )

    def job(self, job_id: str) -> RestoreJob | None:
        with self._conn() as conn:
            row = conn.execute("SELECT * FROM restore_jobs WHERE job_id=?", (job_id,)).fetchone()
        return RestoreJob(*row) if row else None

    def jobs(self) -> list[RestoreJob]:
        with self._conn() as conn:
            rows = conn.execute("SELECT * FROM restore_jobs ORDER BY created_at, job_id").fetchall()
        return [RestoreJob(*r) for r in rows]

    def pending_jobs(self, backup_id: str) -> list[str]:
        """Ids of restore jobs from this backup that have not finished."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT job_id FROM restore_jobs WHERE backup_id=? AND status NOT IN "
                "('Completed', 'Failed')",
                (backup_id,),
            ).fetchall()
        return [r[0] for r in rows]


def copy_database(source: Path, target: Path) -> None:
    """Write a consistent copy of SQLite file ``source`` to ``target``, all or nothing.

    ``VACUUM INTO`` reads ``source`` in one read transaction (a snapshot: in WAL
    mode writers are not blocked and their later commits are not seen) through a
    read-only connection, into ``<target>.partial-<pid>``; that file is fsynced and
    renamed over ``target``, and the folder fsynced, so ``target`` is either absent
    or whole, even if the process is killed.
    """
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    # mode=rw: a missing source is an error, not a new empty database
    reader = sqlite3.connect(f"file:{source}?mode=rw", uri=True, isolation_level=None, timeout=30)
    try:
        reader.execute("PRAGMA busy_timeout=30000")
        reader.execute("VACUUM INTO ?", (str(partial),))
    finally:
        reader.close()
    _fsync(partial)
    os.replace(partial, target)
    _fsync(target.parent)


def _backup(row: tuple[Any, ...]) -> BackupRecord:
    values = list(row)
    values[6] = json.loads(values[6])
    return BackupRecord(*values)


def process_id(pid: int | None = None) -> str:
    """``"<pid>-<start time>"``: names one process, even after its pid is reused.

    The start time (clock ticks since boot, from ``/proc``) tells a restarted
    server that happens to get a dead server's pid apart from it. Where ``/proc``
    is missing, the pid alone.
    """
    pid = os.getpid() if pid is None else pid
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return str(pid)
    return f"{pid}-{stat.rsplit(')', 1)[1].split()[19]}"


def _alive(owner: str) -> bool:
    pid = int(owner.split("-", 1)[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    return "-" not in owner or process_id(pid) == owner


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
