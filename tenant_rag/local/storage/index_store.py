"""One index's durable store: a SQLite file with records, a change log and namespace counts.

Layout (one file per index):

* ``records(namespace, id, vals, sparse, metadata)`` with a unique index on
  ``(namespace, id)``: each namespace is a contiguous range of that index, so
  loading, listing or counting one tenant touches that tenant's rows only.
  ``vals`` is little-endian float32 bytes, ``sparse`` and ``metadata`` are JSON.
* ``changes(seq, namespace, id)``: a monotonic log of touched ids (``id`` NULL
  means the whole namespace was dropped). Another process's engine replays it
  to stay in step without reloading everything.
* ``namespaces(name, record_count)``: kept in the same transaction as each
  write, so stats and namespace listing never scan records.
* ``declared_namespaces(name, schema)``: namespaces made by ``create_namespace``
  (API 2025-10), which exist with no records until deleted.

All methods expect the caller to hold the index lock; writes must happen inside
``write()``, which takes SQLite's write lock up front (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tenant_rag.local.storage.sqlite import DEFAULT_DURABILITY, Durability, connect, sync_dir

Row = tuple[str, bytes | None, str | None, str | None]  # id, vals, sparse, metadata

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS records (
        namespace TEXT NOT NULL, id TEXT NOT NULL,
        vals BLOB, sparse TEXT, metadata TEXT)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS records_ns_id ON records(namespace, id)",
    """CREATE TABLE IF NOT EXISTS changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, id TEXT)""",
    """CREATE TABLE IF NOT EXISTS namespaces (
        name TEXT PRIMARY KEY, record_count INTEGER NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER)",
    """CREATE TABLE IF NOT EXISTS declared_namespaces (
        name TEXT PRIMARY KEY, schema TEXT)""",
]

# Keep the change log bounded: past KEEP_CHANGES * 2 rows, trim to the newest KEEP_CHANGES.
KEEP_CHANGES = 200_000
_CHUNK = 900  # stay below SQLite's bound-parameter limit with room to spare


class IndexStore:
    """SQLite access for one index file. Not thread-safe on its own: the engine locks."""

    def __init__(self, path: Path, durability: Durability = DEFAULT_DURABILITY) -> None:
        self.path = path
        new = not path.exists()
        self.conn: sqlite3.Connection = connect(path, durability)
        with self.write():
            for stmt in _SCHEMA:
                self.conn.execute(stmt)
        if new and durability == "power":  # the new file's name survives a power loss too
            sync_dir(path.parent)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction; commits on success, rolls back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- change tracking -------------------------------------------------
    def data_version(self) -> int:
        """Differs between two calls iff another connection committed in between."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def max_seq(self) -> int:
        row = self.conn.execute("SELECT max(seq) FROM changes").fetchone()
        return int(row[0] or 0)

    def trimmed_upto(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='trimmed_upto'").fetchone()
        return int(row[0]) if row else 0

    def changes_since(self, seq: int) -> list[tuple[int, str, str | None]]:
        return self.conn.execute(
            "SELECT seq, namespace, id FROM changes WHERE seq > ? ORDER BY seq", (seq,)
        ).fetchall()

    def log_ids(self, ns: str, ids: Iterable[str]) -> None:
        self.conn.executemany(
            "INSERT INTO changes(namespace, id) VALUES (?, ?)", ((ns, i) for i in ids)
        )

    def log_drop(self, ns: str) -> None:
        self.conn.execute("INSERT INTO changes(namespace, id) VALUES (?, NULL)", (ns,))

    def maybe_trim(self) -> None:
        """Bound the change log; engines older than the trim point reload from scratch."""
        top = self.max_seq()
        low = self.conn.execute("SELECT min(seq) FROM changes").fetchone()[0] or 0
        if top - low <= 2 * KEEP_CHANGES:
            return
        cut = top - KEEP_CHANGES
        self.conn.execute("DELETE FROM changes WHERE seq <= ?", (cut,))
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES ('trimmed_upto', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (cut,),
        )

    # -- records ---------------------------------------------------------
    def existing_ids(self, ns: str, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT id FROM records WHERE namespace=? AND id IN ({marks})",
                    (ns, *chunk),
                )
            )
        return found

    def put(self, ns: str, rows: list[Row]) -> None:
        self.conn.executemany(
            "INSERT INTO records(namespace, id, vals, sparse, metadata) VALUES (?,?,?,?,?) "
            "ON CONFLICT(namespace, id) DO UPDATE SET vals=excluded.vals, "
            "sparse=excluded.sparse, metadata=excluded.metadata",
            ((ns, *r) for r in rows),
        )

    def get(self, ns: str, ids: list[str]) -> list[Row]:
        out: list[Row] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            out.extend(
                self.conn.execute(
                    f"SELECT id, vals, sparse, metadata FROM records "
                    f"WHERE namespace=? AND id IN ({marks})",
                    (ns, *chunk),
                )
            )
        return out

    def scan(self, ns: str) -> sqlite3.Cursor:
        """Every record of one namespace (a range of the (namespace, id) index)."""
        return self.conn.execute(
            "SELECT id, vals, sparse, metadata FROM records WHERE namespace=?", (ns,)
        )

    def scan_metadata(self, ns: str) -> sqlite3.Cursor:
        """(id, metadata JSON) of one namespace, without reading vectors."""
        return self.conn.execute("SELECT id, metadata FROM records WHERE namespace=?", (ns,))

    def delete(self, ns: str, ids: list[str]) -> int:
        removed = 0
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(
                f"DELETE FROM records WHERE namespace=? AND id IN ({marks})", (ns, *chunk)
            )
            removed += cur.rowcount
        return removed

    def drop_namespace(self, ns: str) -> int:
        """Delete a namespace's records, count and declaration, and its ids from the change log.

        The change log's id rows of a dropped namespace are of no use to anyone
        (another engine replaying them would only find the ids gone) and record
        ids can name people (``alice@example.com/notes.md``), so they go with
        the namespace; the caller logs one drop marker (``id`` NULL) after this.
        """
        cur = self.conn.execute("DELETE FROM records WHERE namespace=?", (ns,))
        self.conn.execute("DELETE FROM namespaces WHERE name=?", (ns,))
        self.conn.execute("DELETE FROM declared_namespaces WHERE name=?", (ns,))
        self.conn.execute("DELETE FROM changes WHERE namespace=? AND id IS NOT NULL", (ns,))
        return cur.rowcount

    def checkpoint(self) -> tuple[int, int, int]:
        """Copy the WAL into the database file and truncate the WAL to zero bytes.

        Returns SQLite's ``(busy, log frames, checkpointed frames)``; ``busy`` is 1
        when another connection's read kept the WAL from being emptied (run it
        again later). With ``secure_delete`` on, this is what makes a deletion
        physical: deleted records were already zeroed in the database pages, and
        the WAL frames that still held them are gone.
        """
        row = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def declare_namespace(self, ns: str, schema: str | None) -> bool:
        """Record an explicitly created namespace; False if it is already declared."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO declared_namespaces(name, schema) VALUES (?, ?)", (ns, schema)
        )
        return cur.rowcount == 1

    def declared_namespaces(self) -> dict[str, str | None]:
        return dict(self.conn.execute("SELECT name, schema FROM declared_namespaces").fetchall())

    def list_ids(self, ns: str, prefix: str, after: str | None, limit: int) -> list[str]:
        """Ids in C (byte) order: SQLite's BINARY collation compares with memcmp."""
        sql = "SELECT id FROM records WHERE namespace=?"
        args: list[object] = [ns]
        if prefix:
            sql += " AND substr(id, 1, ?) = ?"
            args += [len(prefix), prefix]
            sql += " AND id >= ?"
            args.append(prefix)
        if after is not None:
            sql += " AND id > ?"
            args.append(after)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return [r[0] for r in self.conn.execute(sql, args)]

    # -- namespace counts --------------------------------------------------
    def add_count(self, ns: str, delta: int) -> None:
        if delta == 0:
            return
        self.conn.execute(
            "INSERT INTO namespaces(name, record_count) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET record_count = record_count + excluded.record_count",
            (ns, delta),
        )
        self.conn.execute("DELETE FROM namespaces WHERE name=? AND record_count <= 0", (ns,))

    def counts(self) -> dict[str, int]:
        return dict(
            self.conn.execute("SELECT name, record_count FROM namespaces ORDER BY name").fetchall()
        )

    def count(self, ns: str) -> int:
        row = self.conn.execute(
            "SELECT record_count FROM namespaces WHERE name=?", (ns,)
        ).fetchone()
        return int(row[0]) if row else 0
