"""The catalog: index definitions for one data dir, in ``<data_dir>/catalog.sqlite``.

Index data lives in one SQLite file per index (see ``index_store``); the file
name carries a random uid so that deleting and re-creating an index under the
same name never reuses a file another process may still hold open.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenant_rag.local.storage.sqlite import DEFAULT_DURABILITY, Durability, connect, sync_dir

_SCHEMA = """
CREATE TABLE IF NOT EXISTS indexes (
    name TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    dimension INTEGER,
    metric TEXT NOT NULL,
    vector_type TEXT NOT NULL,
    deletion_protection TEXT NOT NULL,
    tags TEXT,
    cloud TEXT NOT NULL,
    region TEXT NOT NULL,
    created_at REAL NOT NULL,
    schema TEXT
)
"""
_COLUMNS = (
    "name",
    "uid",
    "dimension",
    "metric",
    "vector_type",
    "deletion_protection",
    "tags",
    "cloud",
    "region",
    "created_at",
    "schema",
)


@dataclass(frozen=True)
class IndexDef:
    """One index's immutable definition plus its configurable fields."""

    name: str
    uid: str
    dimension: int | None
    metric: str
    vector_type: str
    deletion_protection: str = "disabled"
    tags: dict[str, str] | None = None
    cloud: str = "aws"
    region: str = "us-east-1"
    created_at: float = field(default_factory=time.time)
    #: Declared fields of a document index (API 2026-07 schema with named fields);
    #: None for a classic vector index (dimension/metric, or ``_values``/``_sparse_values``).
    schema: dict[str, Any] | None = None

    @property
    def file_name(self) -> str:
        """Data file of this index, relative to the data dir's ``indexes/`` folder."""
        return f"{self.name}.{self.uid}.sqlite"


class Catalog:
    """Thread-safe access to the index definitions of one data dir."""

    def __init__(self, data_dir: Path, durability: Durability = DEFAULT_DURABILITY) -> None:
        self.data_dir = data_dir
        self.indexes_dir = data_dir / "indexes"
        self.indexes_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = connect(data_dir / "catalog.sqlite", durability)
        self._conn.execute(_SCHEMA)
        if durability == "power":  # the catalog's and the indexes folder's names, too
            sync_dir(data_dir)
        have = {row[1] for row in self._conn.execute("PRAGMA table_info(indexes)")}
        if "schema" not in have:  # a catalog written before document indexes existed
            self._conn.execute("ALTER TABLE indexes ADD COLUMN schema TEXT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def data_version(self) -> int:
        """Changes whenever another connection (or process) commits to the catalog."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def data_version_nowait(self) -> int | None:
        """Like ``data_version`` but None instead of waiting when the catalog is busy."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        finally:
            self._lock.release()

    def get(self, name: str) -> IndexDef | None:
        with self._lock:
            row = self._conn.execute(_SELECT + " WHERE name=?", (name,)).fetchone()
        return _row_to_def(row) if row else None

    def list(self) -> list[IndexDef]:
        with self._lock:
            rows = self._conn.execute(_SELECT + " ORDER BY created_at, name").fetchall()
        return [_row_to_def(r) for r in rows]

    def create(self, d: IndexDef) -> bool:
        """Insert ``d``; False if an index of that name already exists."""
        with self._lock:
            try:
                self._conn.execute(
                    f"INSERT INTO indexes ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                    (
                        d.name,
                        d.uid,
                        d.dimension,
                        d.metric,
                        d.vector_type,
                        d.deletion_protection,
                        json.dumps(d.tags) if d.tags is not None else None,
                        d.cloud,
                        d.region,
                        d.created_at,
                        json.dumps(d.schema) if d.schema is not None else None,
                    ),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def delete(self, name: str) -> IndexDef | None:
        """Remove the definition and return it (its data file is the caller's to remove)."""
        with self._lock:
            row = self._conn.execute(_SELECT + " WHERE name=?", (name,)).fetchone()
            if row is None:
                return None
            self._conn.execute("DELETE FROM indexes WHERE name=?", (name,))
        return _row_to_def(row)

    def configure(self, name: str, *, deletion_protection: str | None, tags: Any) -> None:
        with self._lock:
            if deletion_protection is not None:
                self._conn.execute(
                    "UPDATE indexes SET deletion_protection=? WHERE name=?",
                    (deletion_protection, name),
                )
            if tags is not None:
                self._conn.execute(
                    "UPDATE indexes SET tags=? WHERE name=?", (json.dumps(tags), name)
                )


_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM indexes"


def new_uid() -> str:
    return uuid.uuid4().hex[:12]


def _row_to_def(row: tuple[Any, ...]) -> IndexDef:
    return IndexDef(
        name=row[0],
        uid=row[1],
        dimension=row[2],
        metric=row[3],
        vector_type=row[4],
        deletion_protection=row[5],
        tags=json.loads(row[6]) if row[6] else None,
        cloud=row[7],
        region=row[8],
        created_at=row[9],
        schema=json.loads(row[10]) if row[10] else None,
    )
