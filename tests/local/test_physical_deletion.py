"""Deletion on the embedded server is physical: a deleted record's text is in no file after a checkpoint.

A vector store that only tombstones keeps an erased tenant's text on disk. Here
every SQLite connection zeroes deleted content (``secure_delete``, whose
default differs between SQLite builds), a namespace drop removes its ids from
the change log, and ``POST /_local/checkpoint`` truncates the write-ahead logs
that still hold the page images written before the delete.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tenant_rag.local import LocalServer, start

from .helpers import make_index, vec

CANARY = "canary-4b1d-erase-me"


def _files_holding(root: Path, needle: str) -> list[str]:
    """Every file under ``root`` whose bytes contain ``needle`` (relative paths)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and needle.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def _seed(srv: LocalServer, name: str) -> tuple[object, Path]:
    """An index whose 'acme' namespace carries the canary (half of it for user u1), 'globex' not.

    The records are checkpointed into the database file first, so the canary sits in
    ordinary table pages, where only ``secure_delete`` can remove it.
    """
    pc = srv.client()
    ix = make_index(pc, name, dimension=4)
    ix.upsert(
        vectors=[
            (
                f"r{i}",
                vec(4, i),
                {
                    "text": f"{CANARY} {i}" if i % 2 else f"plain {i}",
                    "user_id": "u1" if i % 2 else "u2",
                },
            )
            for i in range(60)
        ],
        namespace="acme",
    )
    ix.upsert(
        vectors=[(f"r{i}", vec(4, i), {"text": f"globex {i}"}) for i in range(60)],
        namespace="globex",
    )
    checkpoint(srv)
    [db] = list((srv.data_dir / "indexes").glob(f"{name}.*.sqlite"))
    assert _files_holding(srv.data_dir, CANARY) == [f"indexes/{db.name}"]
    return ix, db


def checkpoint(srv: LocalServer) -> dict[str, object]:
    r = httpx.post(f"{srv.url}/_local/checkpoint", headers={"Api-Key": srv.client_key})
    r.raise_for_status()
    body: dict[str, object] = r.json()
    return body


def test_every_connection_zeroes_deleted_content(local_server: LocalServer) -> None:
    """Set on every connection the storage layer opens: SQLite builds differ in the default."""
    from tenant_rag.local.storage.sqlite import connect

    _, db = _seed(local_server, "zeroes")
    ours = connect(db)
    try:
        assert ours.execute("PRAGMA secure_delete").fetchone()[0] == 1
    finally:
        ours.close()


def test_dropped_namespace_leaves_no_text_after_a_checkpoint(local_server: LocalServer) -> None:
    ix, db = _seed(local_server, "dropped")
    ix.delete_namespace(namespace="acme")  # what offboarding does
    # before the checkpoint, the WAL still holds pages written before the drop
    answer = checkpoint(local_server)
    assert answer["complete"] is True
    assert answer["indexes"]["dropped"]["busy"] == 0  # type: ignore[index]
    assert _files_holding(local_server.data_dir, CANARY) == []
    assert Path(str(db) + "-wal").stat().st_size == 0
    # the other tenant is whole, and its text is still on disk
    assert ix.describe_index_stats().namespaces["globex"].vector_count == 60
    assert _files_holding(local_server.data_dir, "globex 59")


def test_erasing_one_subject_by_filter_is_physical_too(local_server: LocalServer) -> None:
    ix, _ = _seed(local_server, "subject")
    ix.delete(filter={"user_id": {"$eq": "u1"}}, namespace="acme")  # erase(...) does this
    checkpoint(local_server)
    assert _files_holding(local_server.data_dir, CANARY) == []
    left = ix.fetch(ids=[f"r{i}" for i in range(60)], namespace="acme").vectors
    assert sorted(left) == sorted(f"r{i}" for i in range(0, 60, 2))


def test_a_dropped_namespace_leaves_no_ids_in_the_change_log(tmp_path: Path) -> None:
    srv = start(tmp_path / "data")
    try:
        pc = srv.client()
        ix = make_index(pc, "ids", dimension=4)
        ix.upsert(vectors=[("alice@example.com#0", vec(4, 1), {})], namespace="acme")
        ix.upsert(vectors=[("bob#0", vec(4, 2), {})], namespace="globex")
        ix.delete_namespace(namespace="acme")
        [db] = list((srv.data_dir / "indexes").glob("ids.*.sqlite"))
        conn = sqlite3.connect(db)
        rows = conn.execute("SELECT namespace, id FROM changes ORDER BY seq").fetchall()
        conn.close()
        assert ("acme", None) in rows  # the drop marker other engines replay
        assert ("acme", "alice@example.com#0") not in rows
        assert ("globex", "bob#0") in rows
    finally:
        srv.stop()


def test_another_process_engine_still_sees_the_drop(tmp_path: Path) -> None:
    """Two engines over one data dir: the one that did not drop stops serving the records."""
    data = tmp_path / "data"
    a, b = start(data), start(data)
    try:
        ia = make_index(a.client(), "two", dimension=4)
        ia.upsert(vectors=[(f"r{i}", vec(4, i), {"t": CANARY}) for i in range(5)], namespace="acme")
        ib = b.client().Index(name="two")
        assert len(ib.fetch(ids=["r0", "r1"], namespace="acme").vectors) == 2  # b loads acme
        assert ib.query(vector=vec(4, 0), top_k=5, namespace="acme").matches
        ia.delete_namespace(namespace="acme")
        assert ib.query(vector=vec(4, 0), top_k=5, namespace="acme").matches == []
        assert ib.fetch(ids=["r0"], namespace="acme").vectors == {}
    finally:
        a.stop()
        b.stop()
