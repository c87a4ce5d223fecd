"""Approximate search for big namespaces, through the real SDK: when it is used, and that
it answers what exact search answers (scores exact, filters exact, writes reflected).

The size threshold is lowered with ``TENANT_RAG_LOCAL_ANN_MIN_ROWS`` so small data
exercises the same code as a 100,000-row namespace. Which path answered is read from
the engine's counters (``IndexEngine.ann_info``), so a test cannot pass by staying exact.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pinecone import Pinecone

from tenant_rag.local import LocalServer, start
from tenant_rag.local.engine import ann
from tenant_rag.local.engine.settings import ANN_MIN_ROWS_ENV

from .helpers import make_index, serve_subprocess

DIM = 16
N = 3000
THRESHOLD = 1000


@pytest.fixture(autouse=True)
def _small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ANN_MIN_ROWS_ENV, str(THRESHOLD))


def _data(n: int = N, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def _fill(index: Any, data: np.ndarray, ns: str = "big", prefix: str = "r") -> None:
    for start_ in range(0, len(data), 500):
        index.upsert(
            vectors=[
                {"id": f"{prefix}{i}", "values": data[i].tolist(), "metadata": {"g": i % 20}}
                for i in range(start_, min(start_ + 500, len(data)))
            ],
            namespace=ns,
        )


def _exact(data: np.ndarray, q: np.ndarray, metric: str, k: int) -> list[int]:
    if metric == "cosine":
        s = (data / np.linalg.norm(data, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
        return np.argsort(-s, kind="stable")[:k].tolist()
    if metric == "dotproduct":
        return np.argsort(-(data @ q), kind="stable")[:k].tolist()
    return np.argsort(((data - q) ** 2).sum(axis=1), kind="stable")[:k].tolist()


def _wait_ready(srv: LocalServer, index_name: str, ns: str = "big") -> dict[str, Any]:
    eng = srv.engine.index(index_name)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        info = eng.ann_info(ns)
        if info is not None and info["state"] == "ready":
            return info
        time.sleep(0.05)
    raise AssertionError(f"approximate index of {ns!r} not ready: {eng.ann_info(ns)}")


def _info(srv: LocalServer, index_name: str, ns: str = "big") -> dict[str, Any]:
    info = srv.engine.index(index_name).ann_info(ns)
    assert info is not None
    return info


def test_small_namespace_stays_exact(local_server: LocalServer) -> None:
    index = make_index(local_server.client(), "small", dimension=DIM)
    data = _data(THRESHOLD - 1)
    _fill(index, data)
    q = _data(1, seed=9)[0]
    res = index.query(vector=q.tolist(), top_k=5, namespace="big")
    assert [m.id for m in res.matches] == [f"r{i}" for i in _exact(data, q, "cosine", 5)]
    assert local_server.engine.index("small").ann_info("big") is None


@pytest.mark.parametrize("metric", ["cosine", "dotproduct", "euclidean"])
def test_big_namespace_switches_to_approximate_with_exact_scores(
    local_server: LocalServer, metric: str
) -> None:
    pc = local_server.client()
    index = make_index(pc, f"big-{metric[:3]}", dimension=DIM, metric=metric)
    data = _data()
    _fill(index, data)
    queries = _data(30, seed=5)
    # the first query loads the namespace and starts the build; it is answered exactly
    first = index.query(vector=queries[0].tolist(), top_k=10, namespace="big")
    assert [m.id for m in first.matches] == [f"r{i}" for i in _exact(data, queries[0], metric, 10)]
    _wait_ready(local_server, f"big-{metric[:3]}")
    hits = 0
    for q in queries:
        res = index.query(vector=q.tolist(), top_k=10, namespace="big", include_values=True)
        want = _exact(data, q, metric, 10)
        hits += len({f"r{i}" for i in want} & {m.id for m in res.matches})
        for m in res.matches:  # every returned score is the exact one
            v = data[int(m.id[1:])]
            exact = {
                "cosine": float(v @ q / (np.linalg.norm(v) * np.linalg.norm(q))),
                "dotproduct": float(v @ q),
                "euclidean": float(((v - q) ** 2).sum()),
            }[metric]
            assert m.score == pytest.approx(exact, rel=1e-4, abs=1e-4)
        scores = [m.score for m in res.matches]
        assert scores == sorted(scores, reverse=metric != "euclidean")
    assert hits / (10 * len(queries)) >= 0.95
    assert _info(local_server, f"big-{metric[:3]}")["ann"] == len(queries)
    # within one shard: the finer codes (2 dimensions each)
    built = local_server.engine.index(f"big-{metric[:3]}")._ns["big"].ann
    assert built is not None and built.codes == DIM // 2


def test_upserts_updates_and_deletes_reach_the_approximate_index(
    local_server: LocalServer,
) -> None:
    pc = local_server.client()
    index = make_index(pc, "writes", dimension=DIM)
    data = _data()
    _fill(index, data)
    q = _data(1, seed=3)[0]
    index.query(vector=q.tolist(), top_k=1, namespace="big")
    _wait_ready(local_server, "writes")
    top = [m.id for m in index.query(vector=q.tolist(), top_k=5, namespace="big").matches]
    # a new record equal to the query comes first
    index.upsert(vectors=[("new", q.tolist())], namespace="big")
    assert index.query(vector=q.tolist(), top_k=1, namespace="big").matches[0].id == "new"
    # deleted records are never returned
    index.delete(ids=["new", top[0]], namespace="big")
    got = [m.id for m in index.query(vector=q.tolist(), top_k=5, namespace="big").matches]
    assert "new" not in got and top[0] not in got and got[:4] == top[1:5]
    # an overwritten vector is searched with its new values
    index.update(id=top[1], values=(-q).tolist(), namespace="big")
    got = [m.id for m in index.query(vector=q.tolist(), top_k=5, namespace="big").matches]
    assert top[1] not in got
    assert index.query(vector=(-q).tolist(), top_k=1, namespace="big").matches[0].id == top[1]
    # a bulk overwrite (more rows than are kept aside for exact scoring) moves every vector
    moved = _data(N, seed=11)
    _fill(index, moved)
    info = _info(local_server, "writes")
    assert info["state"] in ("ready", "building")  # many dead slots may trigger a rebuild
    for qq in _data(5, seed=12):
        want = [f"r{i}" for i in _exact(moved, qq, "cosine", 5)]
        got = [m.id for m in index.query(vector=qq.tolist(), top_k=5, namespace="big").matches]
        assert len(set(got) & set(want)) >= 4
        assert all(g.startswith("r") for g in got)


def test_a_sharded_index_answers_like_exact_search_through_writes(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SHARD_ROWS the index is split into shards, shared between the query's thread and
    the helper thread, each giving its share of the candidates: small shards here put a
    3,000-row namespace through that path (and a bulk write through adding a new shard)."""
    monkeypatch.setattr(ann, "SHARD_ROWS", 700)
    pc = local_server.client()
    index = make_index(pc, "sharded", dimension=DIM)
    data = _data()
    _fill(index, data)
    queries = _data(30, seed=5)
    index.query(vector=queries[0].tolist(), top_k=1, namespace="big")
    _wait_ready(local_server, "sharded")
    built = local_server.engine.index("sharded")._ns["big"].ann
    assert len(built._shards) == 5  # 3,000 rows in shards of 700
    # past one shard: the coarser codes (2.4 dimensions each on average, some padded)
    assert built.codes == ann.code_layout(DIM, ann.CODE_DIMS)[0] < DIM // 2

    def recall(current: np.ndarray) -> float:
        hits = 0
        for q in queries:
            res = index.query(vector=q.tolist(), top_k=10, namespace="big")
            want = {f"r{i}" for i in _exact(current, q, "cosine", 10)}
            hits += len(want & {m.id for m in res.matches})
        return hits / (10 * len(queries))

    assert recall(data) >= 0.95
    # 2,500 new rows: more than are scored aside, so they are added, opening new shards
    grown = np.concatenate([data, _data(2500, seed=9)])
    _fill(index, grown[N:], prefix="s")
    hits = 0
    for q in queries:  # the first query adds the pending rows to the index
        res = index.query(vector=q.tolist(), top_k=10, namespace="big")
        want = {f"r{i}" if i < N else f"s{i - N}" for i in _exact(grown, q, "cosine", 10)}
        hits += len(want & {m.id for m in res.matches})
    assert hits / (10 * len(queries)) >= 0.95
    info = _info(local_server, "sharded")
    assert info["state"] == "ready" and info["pending"] == 0
    assert len(local_server.engine.index("sharded")._ns["big"].ann._shards) == 8
    assert _info(local_server, "sharded")["ann"] >= 2 * len(queries)


def test_filters_return_exactly_what_they_allow_on_both_sides_of_the_switch(
    local_server: LocalServer,
) -> None:
    index = make_index(local_server.client(), "filtered", dimension=DIM)
    data = _data()
    _fill(index, data)
    groups = np.arange(N) % 20
    q = _data(1, seed=4)[0]
    index.query(vector=q.tolist(), top_k=1, namespace="big")
    _wait_ready(local_server, "filtered")
    before = _info(local_server, "filtered")
    cases = [
        ({"g": {"$eq": 7}}, groups == 7, "exact_filtered"),  # 150 of 3,000 rows: selective
        ({"g": {"$ne": 7}}, groups != 7, "ann_filtered"),  # 2,850 rows: broad
    ]
    for flt, allowed, path in cases:
        res = index.query(
            vector=q.tolist(), top_k=20, namespace="big", filter=flt, include_metadata=True
        )
        assert all(flt_ok(m.metadata, flt) for m in res.matches)
        rows = np.flatnonzero(allowed)
        want = [f"r{rows[i]}" for i in _exact(data[rows], q, "cosine", 20)]
        got = [m.id for m in res.matches]
        assert len(got) == 20
        assert len(set(got) & set(want)) >= 19
        after = _info(local_server, "filtered")
        assert after[path] == before[path] + 1
        before = after
    # a filter matching nothing returns nothing, not the nearest unfiltered rows
    res = index.query(vector=q.tolist(), top_k=5, namespace="big", filter={"g": {"$eq": 99}})
    assert res.matches == []


def flt_ok(md: dict[str, Any], flt: dict[str, Any]) -> bool:
    op, value = next(iter(flt["g"].items()))
    return md["g"] == value if op == "$eq" else md["g"] != value


def test_sparse_and_hybrid_queries_stay_exact(local_server: LocalServer) -> None:
    index = make_index(local_server.client(), "hybrid", dimension=DIM, metric="dotproduct")
    data = _data()
    for start_ in range(0, N, 500):
        index.upsert(
            vectors=[
                {
                    "id": f"r{i}",
                    "values": data[i].tolist(),
                    "sparse_values": {"indices": [i % 50], "values": [float(i % 7)]},
                }
                for i in range(start_, start_ + 500)
            ],
            namespace="big",
        )
    q = _data(1, seed=6)[0]
    index.query(vector=q.tolist(), top_k=1, namespace="big")
    before = _wait_ready(local_server, "hybrid")
    res = index.query(
        vector=q.tolist(),
        sparse_vector={"indices": [3], "values": [10.0]},
        top_k=5,
        namespace="big",
    )
    sparse_part = np.array([(10.0 * (i % 7)) if i % 50 == 3 else 0.0 for i in range(N)])
    want = np.argsort(-(data @ q + sparse_part), kind="stable")[:5]
    assert [m.id for m in res.matches] == [f"r{i}" for i in want]
    assert _info(local_server, "hybrid")["ann"] == before["ann"]  # not the approximate path


def test_restart_rebuilds_and_kill_during_build_loses_nothing(tmp_path: Path) -> None:
    data = _data(6000, seed=21)
    queries = _data(10, seed=22)
    env = {ANN_MIN_ROWS_ENV: str(THRESHOLD)}
    with serve_subprocess(tmp_path, env=env) as (proc, url):
        index = make_index(Pinecone(api_key="ann-crash", host=url), "ann-crash", dimension=DIM)
        _fill(index, data)
        index.query(vector=queries[0].tolist(), top_k=1, namespace="big")  # starts the build
        index.upsert(vectors=[("late", queries[1].tolist())], namespace="big")
        proc.send_signal(signal.SIGKILL)  # mid-build (or just after): nothing was persisted
        proc.wait(10)
    with start(tmp_path) as srv:
        index = srv.client().Index(name="ann-crash")
        assert index.describe_index_stats().namespaces["big"].vector_count == 6001
        assert index.query(vector=queries[1].tolist(), top_k=1, namespace="big").matches[0].id == (
            "late"
        )
        _wait_ready(srv, "ann-crash")
        full = np.vstack([data, queries[1][None, :]])
        names = [f"r{i}" for i in range(len(data))] + ["late"]
        hits = 0
        for q in queries:
            want = {names[i] for i in _exact(full, q, "cosine", 10)}
            got = {m.id for m in index.query(vector=q.tolist(), top_k=10, namespace="big").matches}
            hits += len(want & got)
        assert hits >= 95
        assert _info(srv, "ann-crash")["ann"] == len(queries)


def test_another_process_writes_reach_the_approximate_index(tmp_path: Path) -> None:
    data = _data()
    with serve_subprocess(tmp_path) as (_proc, url), start(tmp_path) as local:
        other = make_index(Pinecone(api_key="ann-shared", host=url), "ann-shared", dimension=DIM)
        _fill(other, data)
        mine = local.client().Index(name="ann-shared")
        q = _data(1, seed=8)[0]
        mine.query(vector=q.tolist(), top_k=1, namespace="big")
        _wait_ready(local, "ann-shared")
        top = [m.id for m in mine.query(vector=q.tolist(), top_k=3, namespace="big").matches]
        other.upsert(vectors=[("theirs", q.tolist())], namespace="big")
        other.delete(ids=[top[0]], namespace="big")
        got = [m.id for m in mine.query(vector=q.tolist(), top_k=3, namespace="big").matches]
        assert got[0] == "theirs" and top[0] not in got and got[1] == top[1]
        assert _info(local, "ann-shared")["ann"] >= 2


def test_namespace_listing_pages_through_many_namespaces(local_server: LocalServer) -> None:
    pc = local_server.client()
    make_index(pc, "tenants", dimension=2)
    eng = local_server.engine.index("tenants")
    names = [f"t{i:05d}" for i in range(2500)]
    for i, ns in enumerate(names):  # the engine directly: 2,500 SDK round trips add nothing
        eng.upsert(ns, [{"id": f"v{j}", "values": [1.0, float(j)]} for j in range(1 + i % 3)])
    want = {ns: 1 + i % 3 for i, ns in enumerate(names)}
    rest = pc.Index(name="tenants")
    grpc = local_server.grpc_index("tenants")
    for index, limit in ((rest, 1000), (rest, 7), (grpc, 333)):
        seen: list[tuple[str, int]] = []
        token = None
        while True:
            page = index.list_namespaces_paginated(limit=limit, pagination_token=token)
            assert len(page.namespaces) <= limit
            seen += [(n.name, int(n.record_count)) for n in page.namespaces]
            token = page.pagination.next if page.pagination else None
            if not token:
                break
        assert [n for n, _ in seen] == names  # in order, none twice, none missed
        assert dict(seen) == want
    stats = rest.describe_index_stats()
    assert stats.total_vector_count == sum(want.values())
    assert len(stats.namespaces) == len(names)
    eng.drop_namespace("t00001")
    first = rest.list_namespaces_paginated(limit=2)
    assert [n.name for n in first.namespaces] == ["t00000", "t00002"]


_IMPORT_PROBE = """
import sys, tempfile, time
from pathlib import Path
from tenant_rag.local.engine import Engine
e = Engine(Path(tempfile.mkdtemp()))
e.create_index({"name": "p", "dimension": 4, "metric": "cosine",
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}})
ix = e.index("p")
ix.upsert("t", [{"id": f"v{i}", "values": [1.0, float(i), 0.5, 2.0]} for i in range(ROWS)])
ix.query("t", 3, vector=[1.0, 2.0, 3.0, 4.0])
deadline = time.monotonic() + 60
while ROWS >= 50 and (ix.ann_info("t") or {}).get("state") != "ready":
    assert time.monotonic() < deadline
    time.sleep(0.05)
print("faiss" in sys.modules)
e.close()
"""


@pytest.mark.parametrize(("rows", "imported"), [(49, "False"), (60, "True")])
def test_faiss_is_imported_only_when_a_namespace_crosses_the_threshold(
    rows: int, imported: str
) -> None:
    """A server whose namespaces are all small never loads faiss (nor its memory or
    threads); the first namespace past the threshold does."""
    import os
    import subprocess
    import sys

    env = {**os.environ, ANN_MIN_ROWS_ENV: "50"}
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE.replace("ROWS", str(rows))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == imported


@pytest.mark.parametrize("dim", [3, 16, 384, 385, 1536])
def test_the_code_layout_keeps_every_dimension_and_every_inner_product(dim: int) -> None:
    """Codes of 2 and 3 dimensions share one width, the short ones padded with a zero
    column: each dimension lands in exactly one column, and the padded vectors' inner
    products and distances are the original ones (what the scan ranks by)."""
    codes, width, cols = ann.code_layout(dim, ann.CODE_DIMS)
    assert sorted(set(cols.tolist())) == sorted(cols.tolist()) and len(cols) == dim
    assert width % codes == 0 and width // codes <= 3 and cols.min() >= 0 and cols.max() < width
    if dim == 384:
        assert (codes, width) == (160, 480)  # 80 bytes of codes a row, not 96
    index = ann.AnnIndex(dim, "euclidean")
    x = np.random.default_rng(dim).standard_normal((5, dim)).astype(np.float32)
    px = index._prepare(x)
    assert px.shape == (5, width)
    np.testing.assert_allclose(px @ px.T, x @ x.T, rtol=1e-5, atol=1e-4)
    assert np.count_nonzero(px, axis=1).max() <= dim


def _clustered(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows around 30 centres (as text embeddings cluster by topic), and the centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((30, DIM)).astype(np.float32)
    rows = centres[np.arange(n) % 30] + 0.35 * rng.standard_normal((n, DIM)).astype(np.float32)
    return rows.astype(np.float32), centres


def test_the_error_bounded_cut_rescores_fewer_candidates_and_finds_the_same(
    local_server: LocalServer,
) -> None:
    """Cosine: the build measures how far faiss's estimates fall below exact scores, and a
    query re-scores only candidates within that margin of its k-th best exact score. On
    clustered rows (structure like text embeddings') most of the 300 candidates are far
    below; the answers stay those of exact search."""
    index = make_index(local_server.client(), "cut", dimension=DIM)
    data, centres = _clustered(N, seed=1)
    _fill(index, data)
    rng = np.random.default_rng(2)
    queries = centres[np.arange(30) % 30] + 0.35 * rng.standard_normal((30, DIM))
    index.query(vector=queries[0].tolist(), top_k=1, namespace="big")
    _wait_ready(local_server, "cut")
    built = local_server.engine.index("cut")._ns["big"].ann
    assert built is not None and 0 < built.margin < 1
    before = _info(local_server, "cut")
    hits = 0
    for q in queries:
        res = index.query(vector=q.tolist(), top_k=10, namespace="big")
        want = {f"r{i}" for i in _exact(data, q, "cosine", 10)}
        hits += len(want & {m.id for m in res.matches})
    after = _info(local_server, "cut")
    assert hits / (10 * len(queries)) >= 0.98
    assert after["ann"] - before["ann"] == len(queries)
    rescored = (after["rescored"] - before["rescored"]) / len(queries)
    assert ann.CUT_FIRST <= rescored < 0.5 * ann.RERANK


@pytest.mark.parametrize("metric", ["dotproduct", "euclidean"])
def test_other_metrics_rescore_every_candidate(local_server: LocalServer, metric: str) -> None:
    """Their estimates' error scales with the vectors' norms: no margin, no cut."""
    name = f"nocut-{metric[:3]}"
    index = make_index(local_server.client(), name, dimension=DIM, metric=metric)
    data, centres = _clustered(N, seed=1)
    _fill(index, data)
    index.query(vector=centres[0].tolist(), top_k=1, namespace="big")
    _wait_ready(local_server, name)
    assert local_server.engine.index(name)._ns["big"].ann.margin == float("inf")
    before = _info(local_server, name)["rescored"]
    index.query(vector=centres[1].tolist(), top_k=10, namespace="big")
    assert _info(local_server, name)["rescored"] - before == ann.RERANK + 1


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 400),
    k=st.integers(1, 60),
    margin=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_cut_keeps_the_top_k_whenever_estimates_err_within_the_margin(
    n: int, k: int, margin: float, seed: int
) -> None:
    """If no estimate falls more than ``margin`` below its exact score, the rows the cut
    keeps hold the top k of all rows, with their exact scores."""
    rng = np.random.default_rng(seed)
    exact = rng.standard_normal(n).astype(np.float32)
    est = (exact - rng.uniform(-0.5, 1.0, n) * margin).astype(np.float32)
    rows = rng.permutation(10 * n + 1)[:n].astype(np.int64)
    score_of = dict(zip(rows.tolist(), exact.tolist(), strict=True))
    scored: list[int] = []

    def score(rs: np.ndarray) -> np.ndarray:
        scored.extend(rs.tolist())
        return np.asarray([score_of[r] for r in rs.tolist()], dtype=np.float32)

    kept, scores = ann._rescore(rows, est, score, k, margin)
    assert sorted(scored) == sorted(kept.tolist())  # each kept row scored once, no other
    assert scores.tolist() == [score_of[r] for r in kept.tolist()]
    best = sorted(exact.tolist(), reverse=True)[:k]
    assert sorted(scores.tolist(), reverse=True)[:k] == best
    everything, _ = ann._rescore(rows, est, score, k, float("inf"))
    assert sorted(everything.tolist()) == sorted(rows.tolist())
