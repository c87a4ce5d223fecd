"""Durability and sharing: restarts, kill -9, concurrent threads, two processes on one data dir."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
from pinecone import Pinecone
from pinecone.exceptions import NotFoundException

from tenant_rag.local import start

from .helpers import make_index, serve_subprocess, vec


def test_data_survives_restart(tmp_path: Path) -> None:
    with start(tmp_path) as srv:
        pc = srv.client()
        index = make_index(pc, "persist", dimension=3, tags={"k": "v"})
        index.upsert(
            vectors=[{"id": f"r{i}", "values": vec(3, i), "metadata": {"i": i}} for i in range(10)],
            namespace="t1",
        )
        index.upsert(vectors=[("x", [1.0, 0.0, 0.0])], namespace="t2")
        index.update(id="r1", values=[0.0, 0.0, 1.0], set_metadata={"i": 100}, namespace="t1")
        index.delete(ids=["r2"], namespace="t1")
    with start(tmp_path) as srv:
        pc = srv.client()
        assert pc.describe_index("persist").tags.to_dict() == {"k": "v"}
        index = pc.Index(name="persist")
        stats = index.describe_index_stats()
        assert {ns: s.vector_count for ns, s in stats.namespaces.items()} == {"t1": 9, "t2": 1}
        got = index.fetch(ids=["r1", "r2"], namespace="t1").vectors
        assert list(got) == ["r1"]
        assert got["r1"].values == [0.0, 0.0, 1.0] and got["r1"].metadata == {"i": 100}
        best = index.query(vector=vec(3, 5), top_k=1, namespace="t1")
        assert best.matches[0].id == "r5"


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    with serve_subprocess(tmp_path) as (proc, url):
        pc = Pinecone(api_key="k", host=url)
        index = make_index(pc, "crash", dimension=4)
        for b in range(5):
            index.upsert(
                vectors=[(f"b{b}-{i}", vec(4, b * 100 + i)) for i in range(100)], namespace="t"
            )
        index.delete(ids=["b0-0"], namespace="t")
        proc.send_signal(signal.SIGKILL)  # no shutdown, no checkpoint
        proc.wait(10)
    with start(tmp_path) as srv:
        index = srv.client().Index(name="crash")
        assert index.describe_index_stats().namespaces["t"].vector_count == 499
        assert list(index.fetch(ids=["b0-0", "b4-99"], namespace="t").vectors) == ["b4-99"]
        assert index.query(vector=vec(4, 250), top_k=1, namespace="t").matches[0].id == "b2-50"


def test_concurrent_writer_threads(tmp_path: Path) -> None:
    with start(tmp_path) as srv:
        pc = srv.client()
        make_index(pc, "threads", dimension=4)
        errors: list[BaseException] = []

        def writer(w: int) -> None:
            try:
                index = srv.client().Index(name="threads")
                for b in range(10):
                    index.upsert(
                        vectors=[(f"w{w}-{b}-{i}", vec(4, i)) for i in range(30)],
                        namespace="shared" if w % 2 else f"own{w}",
                    )
                    index.query(vector=vec(4, b), top_k=3, namespace="shared")
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        index = pc.Index(name="threads")
        counts = {ns: s.vector_count for ns, s in index.describe_index_stats().namespaces.items()}
        assert counts == {"shared": 600, "own0": 300, "own2": 300}
        res = index.query(vector=vec(4, 1), top_k=10_000, namespace="shared")
        assert len(res.matches) == 600


def test_two_processes_share_one_data_dir(tmp_path: Path) -> None:
    with serve_subprocess(tmp_path) as (_proc, url), start(tmp_path) as local:
        other = Pinecone(api_key="k", host=url)
        mine = local.client()
        idx_other = make_index(other, "shared-dir", dimension=3)
        idx_mine = mine.Index(name="shared-dir")  # created by the other process
        idx_other.upsert(vectors=[("a", [1.0, 0.0, 0.0]), ("b", [0.0, 1.0, 0.0])], namespace="t")
        # load the namespace into this process's memory, then change it from the other one
        assert idx_mine.query(vector=[1.0, 0.0, 0.0], top_k=1, namespace="t").matches[0].id == "a"
        idx_other.update(id="b", values=[1.0, 0.0, 0.0], namespace="t")
        idx_other.upsert(vectors=[("c", [0.0, 0.0, 1.0])], namespace="t")
        idx_other.delete(ids=["a"], namespace="t")
        res = idx_mine.query(vector=[1.0, 0.0, 0.0], top_k=5, namespace="t", include_values=True)
        assert [m.id for m in res.matches][0] == "b"
        assert sorted(m.id for m in res.matches) == ["b", "c"]
        # and the other way round
        assert idx_other.query(vector=[0.0, 0.0, 1.0], top_k=1, namespace="t").matches[0].id == "c"
        idx_mine.delete(delete_all=True, namespace="t")
        idx_mine.upsert(vectors=[("z", [0.0, 1.0, 0.0])], namespace="t")
        assert [
            m.id for m in idx_other.query(vector=[0.0, 1.0, 0.0], top_k=5, namespace="t").matches
        ] == ["z"]
        assert idx_other.describe_index_stats().namespaces["t"].vector_count == 1
        # an index deleted by one process is gone for the other
        mine.delete_index("shared-dir", timeout=-1)
        with pytest.raises(NotFoundException):
            idx_other.describe_index_stats()


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    with serve_subprocess(tmp_path) as (_proc, url), start(tmp_path) as local:
        other = Pinecone(api_key="k", host=url)
        make_index(other, "race", dimension=4)
        idx_other = other.Index(name="race")
        idx_mine = local.client().Index(name="race")
        errors: list[BaseException] = []

        def write(index: object, tag: str) -> None:
            try:
                for b in range(15):
                    index.upsert(  # type: ignore[attr-defined]
                        vectors=[(f"{tag}-{b}-{i}", vec(4, b * 50 + i)) for i in range(50)],
                        namespace="t",
                    )
            except BaseException as exc:
                errors.append(exc)

        idx_mine.query(vector=vec(4, 0), top_k=1, namespace="t")  # hold the namespace in memory
        threads = [
            threading.Thread(target=write, args=(idx_other, "p")),
            threading.Thread(target=write, args=(idx_mine, "q")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        for index in (idx_other, idx_mine):
            assert index.describe_index_stats().namespaces["t"].vector_count == 1500
            assert len(index.query(vector=vec(4, 3), top_k=2000, namespace="t").matches) == 1500


def test_reader_behind_a_trimmed_change_log_reloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers in one process share a data dir through separate SQLite connections."""
    from tenant_rag.local.storage import index_store

    monkeypatch.setattr(index_store, "KEEP_CHANGES", 5)
    with start(tmp_path) as writer, start(tmp_path) as reader:
        w = make_index(writer.client(), "trim", dimension=2)
        r = reader.client().Index(name="trim")
        w.upsert(vectors=[("a", [1.0, 0.0])], namespace="t")
        assert [m.id for m in r.query(vector=[1.0, 0.0], top_k=5, namespace="t").matches] == ["a"]
        for i in range(30):  # far past 2 * KEEP_CHANGES: the log is trimmed under the reader
            w.upsert(vectors=[(f"x{i}", [0.0, 1.0])], namespace="t")
        w.delete(ids=["a"], namespace="t")
        got = r.query(vector=[1.0, 0.0], top_k=100, namespace="t").matches
        assert sorted(m.id for m in got) == sorted(f"x{i}" for i in range(30))
