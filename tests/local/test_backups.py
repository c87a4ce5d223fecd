"""Backups and restore on the embedded server, through the SDK (7.3.0) and on the wire.

Pinecone's behaviour pinned here: a backup is a consistent snapshot and restoring it
gives a new index with exactly the snapshot's records; the restored index takes the
backup's configuration except its name, tags and deletion protection (default
``disabled``); restore never replaces an index (409); a protected index stays
undeletable; backups outlive their index; statuses ``Ready`` and ``Completed``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pinecone import Pinecone
from pinecone.exceptions import (
    ForbiddenException,
    NotFoundException,
    PineconeApiException,
)

from tenant_rag.local import LocalServer, start
from tenant_rag.local.process import serve_process

from .helpers import make_index, vec


def _all_records(index: Any, namespaces: list[str]) -> dict[str, dict[str, Any]]:
    """Every record of ``namespaces``: {ns: {id: (values, metadata)}} via list + fetch."""
    out: dict[str, dict[str, Any]] = {}
    for ns in namespaces:
        ids = [i for page in index.list(namespace=ns) for i in page]
        got: dict[str, Any] = {}
        for start_at in range(0, len(ids), 200):
            fetched = index.fetch(ids=ids[start_at : start_at + 200], namespace=ns)
            for rid, v in fetched.vectors.items():
                got[rid] = (list(v.values), v.metadata)
        out[ns] = got
    return out


def test_backup_then_restore_gives_exactly_the_snapshot(local_server: LocalServer) -> None:
    pc = local_server.client()
    src = make_index(pc, "src", dimension=4, tags={"team": "search", "env": "prod"})
    for ns in ("acme", "globex"):
        src.upsert(
            vectors=[(f"{ns}-{i}", vec(4, i), {"i": i, "ns": ns}) for i in range(30)],
            namespace=ns,
        )
    before = _all_records(src, ["acme", "globex"])
    backup = pc.create_backup(index_name="src", backup_name="nightly", description="before")
    assert backup.status == "Ready"
    assert (backup.source_index_name, backup.name, backup.description) == (
        "src",
        "nightly",
        "before",
    )
    assert (backup.record_count, backup.namespace_count) == (60, 2)
    assert (backup.dimension, backup.metric, backup.cloud) == (4, "cosine", "aws")
    # the source moves on after the snapshot
    src.upsert(vectors=[("acme-new", vec(4, 99))], namespace="acme")
    src.delete(ids=["globex-0"], namespace="globex")
    src.update(id="acme-1", set_metadata={"i": -1}, namespace="acme")

    restored_model = pc.create_index_from_backup(
        backup_id=backup.backup_id, name="restored", tags={"env": "staging", "team": ""}
    )
    assert restored_model.deletion_protection == "disabled"
    assert restored_model.to_dict()["tags"] == {"env": "staging"}  # request tags over the backup's
    assert (restored_model.dimension, restored_model.metric) == (4, "cosine")
    restored = pc.Index(name="restored")
    assert _all_records(restored, ["acme", "globex"]) == before
    stats = restored.describe_index_stats()
    assert {k: v.vector_count for k, v in stats.namespaces.items()} == {"acme": 30, "globex": 30}
    # queries work on the restored index (its matrix loads from the restored file)
    assert restored.query(vector=vec(4, 3), top_k=1, namespace="acme").matches[0].id == "acme-3"

    jobs = pc.list_restore_jobs()
    assert len(jobs.data) == 1
    job = pc.describe_restore_job(job_id=jobs.data[0].restore_job_id)
    assert (job.backup_id, job.target_index_name, job.status, job.percent_complete) == (
        backup.backup_id,
        "restored",
        "Completed",
        100.0,
    )
    assert job.completed_at is not None


def test_listing_describing_and_deleting_backups(local_server: LocalServer) -> None:
    pc = local_server.client()
    make_index(pc, "one", dimension=2).upsert(vectors=[("a", [1.0, 0.0])])
    make_index(pc, "two", dimension=2)
    ids = [pc.create_backup(index_name="one", backup_name=f"b{i}").backup_id for i in range(3)]
    other = pc.create_backup(index_name="two", backup_name="b-two").backup_id
    assert [b.backup_id for b in pc.list_backups(index_name="one").data] == ids
    assert [b.backup_id for b in pc.list_backups().data] == [*ids, other]
    first = pc.list_backups(index_name="one", limit=2)
    assert [b.backup_id for b in first.data] == ids[:2] and first.pagination is not None
    rest = pc.list_backups(index_name="one", limit=2, pagination_token=first.pagination.next)
    assert [b.backup_id for b in rest.data] == ids[2:] and rest.pagination is None
    assert pc.describe_backup(backup_id=ids[1]).name == "b1"
    pc.delete_backup(backup_id=ids[1])
    with pytest.raises(NotFoundException):
        pc.describe_backup(backup_id=ids[1])
    with pytest.raises(NotFoundException):
        pc.delete_backup(backup_id=ids[1])
    with pytest.raises(NotFoundException):
        pc.create_backup(index_name="missing", backup_name="x")
    with pytest.raises(NotFoundException):
        pc.list_backups(index_name="missing")
    with pytest.raises(NotFoundException):
        pc.create_index_from_backup(backup_id="no-such-backup", name="x", timeout=-1)
    assert len(pc.list_backups().data) == 3


def test_restore_never_replaces_an_index(local_server: LocalServer) -> None:
    pc = local_server.client()
    src = make_index(pc, "orig", dimension=2)
    src.upsert(vectors=[("a", [1.0, 0.0])])
    backup = pc.create_backup(index_name="orig", backup_name="b")
    src.upsert(vectors=[("b", [0.0, 1.0])])
    with pytest.raises(PineconeApiException) as info:
        pc.create_index_from_backup(backup_id=backup.backup_id, name="orig", timeout=-1)
    assert info.value.status == 409
    assert src.describe_index_stats().total_vector_count == 2  # untouched
    assert len(pc.list_restore_jobs().data) == 0


def test_deletion_protection_with_backups(local_server: LocalServer) -> None:
    pc = local_server.client()
    src = make_index(pc, "guarded", dimension=2, deletion_protection="enabled")
    src.upsert(vectors=[("a", [1.0, 0.0])])
    backup = pc.create_backup(index_name="guarded", backup_name="b")  # allowed
    with pytest.raises(ForbiddenException):
        pc.delete_index("guarded", timeout=-1)  # a backup does not lift protection
    copy = pc.create_index_from_backup(
        backup_id=backup.backup_id, name="guarded-copy", deletion_protection="enabled"
    )
    assert copy.deletion_protection == "enabled"
    with pytest.raises(ForbiddenException):
        pc.delete_index("guarded-copy", timeout=-1)
    plain = pc.create_index_from_backup(backup_id=backup.backup_id, name="plain-copy")
    assert plain.deletion_protection == "disabled"  # not inherited: the request decides
    pc.configure_index("guarded", deletion_protection="disabled")
    pc.delete_index("guarded", timeout=-1)
    # the backup outlives its index; the index's own listing is gone with it
    assert [b.backup_id for b in pc.list_backups().data] == [backup.backup_id]
    with pytest.raises(NotFoundException):
        pc.list_backups(index_name="guarded")
    assert pc.Index(name="plain-copy").fetch(ids=["a"]).vectors["a"].values == [1.0, 0.0]


def test_2026_07_backup_shapes(local_server: LocalServer) -> None:
    """API 2026-07: schema instead of dimension/metric, tags null, source_index_deleted_at."""
    pc = local_server.client()
    make_index(pc, "shaped", dimension=3, metric="dotproduct").upsert(
        vectors=[("a", [1.0, 0.0, 0.0])]
    )
    headers = {"Api-Key": "k", "X-Pinecone-Api-Version": "2026-07"}
    base = local_server.url
    bad = httpx.post(f"{base}/indexes/shaped/backups", json={"name": "Bad Name"}, headers=headers)
    assert bad.status_code == 400 and "Invalid backup name" in bad.json()["error"]["message"]
    made = httpx.post(f"{base}/indexes/shaped/backups", json={"name": "ok"}, headers=headers)
    assert made.status_code == 201
    body = made.json()
    assert body["schema"] == {  # as the 2026-07 IndexModel describes a classic index
        "fields": {
            "_values": {
                "type": "dense_vector",
                "dimension": 3,
                "metric": "dotproduct",
                "description": None,
            },
            "_sparse_values": {"type": "sparse_vector", "description": None},
        }
    }
    assert body["tags"] is None and "dimension" not in body and "metric" not in body
    assert "source_index_deleted_at" not in body
    pc.delete_index("shaped", timeout=-1)
    gone = httpx.get(f"{base}/indexes/shaped/backups", headers=headers)
    assert gone.status_code == 404  # no active index of that name ...
    kept = httpx.get(
        f"{base}/indexes/shaped/backups", params={"include_deleted": "true"}, headers=headers
    ).json()["data"]
    assert [b["backup_id"] for b in kept] == [body["backup_id"]]  # ... unless asked
    assert kept[0]["source_index_deleted_at"].endswith("Z")
    never = httpx.get(
        f"{base}/indexes/never/backups", params={"include_deleted": "true"}, headers=headers
    )
    assert never.status_code == 404
    old = httpx.get(f"{base}/backups/{body['backup_id']}", headers={"Api-Key": "k"}).json()
    assert (old["dimension"], old["metric"]) == (3, "dotproduct") and "schema" not in old


def test_backup_is_consistent_while_writers_write(local_server: LocalServer) -> None:
    """Each upsert batch is atomic; a snapshot holds, per writer, a prefix of its batches."""
    pc = local_server.client()
    make_index(pc, "busy", dimension=8)
    stop = threading.Event()
    written: dict[int, int] = {}
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        index = local_server.client().Index(name="busy")
        batch = 0
        try:
            while not stop.is_set():
                index.upsert(
                    vectors=[(f"w{w}-b{batch:04d}-{i}", vec(8, batch * 50 + i)) for i in range(50)],
                    namespace=f"w{w}",
                )
                batch += 1
                written[w] = batch
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    backups = []
    try:
        while len(backups) < 3:
            time.sleep(0.2)
            backups.append(pc.create_backup(index_name="busy", backup_name=f"b{len(backups)}"))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors
    assert sum(written.values()) > 0
    for n, backup in enumerate(backups):
        pc.create_index_from_backup(backup_id=backup.backup_id, name=f"busy-{n}")
        restored = pc.Index(name=f"busy-{n}")
        total = 0
        for w in range(3):
            ids = sorted(i for page in restored.list(namespace=f"w{w}") for i in page)
            batches = sorted({i.split("-")[1] for i in ids})
            # whole batches only, and exactly the first k of this writer's batches
            assert len(ids) == 50 * len(batches)
            assert batches == [f"b{k:04d}" for k in range(len(batches))]
            total += len(ids)
        assert total == backup.record_count


def test_backups_survive_a_restart(tmp_path: Path) -> None:
    with start(tmp_path) as srv:
        pc = srv.client()
        make_index(pc, "lasting", dimension=2).upsert(vectors=[("a", [1.0, 0.0])])
        backup_id = pc.create_backup(index_name="lasting", backup_name="b").backup_id
    with start(tmp_path) as srv:
        pc = srv.client()
        assert [b.backup_id for b in pc.list_backups().data] == [backup_id]
        pc.create_index_from_backup(backup_id=backup_id, name="lasting-copy")
        assert pc.Index(name="lasting-copy").fetch(ids=["a"]).vectors["a"].values == [1.0, 0.0]
        job_id = pc.list_restore_jobs().data[0].restore_job_id
    with start(tmp_path) as srv:
        assert srv.client().describe_restore_job(job_id=job_id).status == "Completed"


def test_kill_9_during_a_backup_leaves_no_half_backup(tmp_path: Path) -> None:
    """A server killed mid-snapshot: after restart, no backup listed, no partial file left."""
    backups_dir = tmp_path / "backups"
    with serve_process(tmp_path) as server:
        pc = Pinecone(api_key="k", host=server.url)
        make_index(pc, "big", dimension=384)
        with httpx.Client(base_url=f"{server.url}/_index/big", headers={"Api-Key": "k"}) as http:
            for b in range(150):  # 30,000 x 384: a snapshot that takes a noticeable moment
                rows = [
                    {"id": f"r{b}-{i}", "values": [float((b * 200 + i) % 97 + 1)] * 384}
                    for i in range(200)
                ]
                http.post("/vectors/upsert", json={"vectors": rows}).raise_for_status()
        done = pc.create_backup(index_name="big", backup_name="complete")

        def backup_in_flight() -> None:
            with contextlib.suppress(Exception):  # the server dies under it
                pc.create_backup(index_name="big", backup_name="doomed")

        thread = threading.Thread(target=backup_in_flight)
        thread.start()
        deadline = time.monotonic() + 30
        while not list(backups_dir.glob("*.partial-*")) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert list(backups_dir.glob("*.partial-*")), "the backup finished before the kill"
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait(10)
        thread.join(60)
    with sqlite3.connect(backups_dir / "backups.sqlite") as db:  # as the kill left it
        assert dict(db.execute("SELECT name, status FROM backups")) == {
            "complete": "Ready",
            "doomed": "Initializing",
        }
    with serve_process(tmp_path) as server:
        pc = Pinecone(api_key="k", host=server.url)
        listed = pc.list_backups().data
        assert [(b.backup_id, b.name, b.status) for b in listed] == [
            (done.backup_id, "complete", "Ready")
        ]
    assert not list(backups_dir.glob("*.partial-*"))
    assert sorted(p.name for p in backups_dir.glob("*.sqlite")) == sorted(
        ["backups.sqlite", f"{done.backup_id}.sqlite"]
    )
