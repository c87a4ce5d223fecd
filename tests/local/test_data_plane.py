"""Data plane through the real sync SDK: every endpoint, its semantics and its errors."""

from __future__ import annotations

import math

import pytest
from pinecone import PineconeApiException, SparseValues
from pinecone.exceptions import NotFoundException, PineconeApiValueError

from tenant_rag.local import LocalServer

from .helpers import make_index, vec


def _status(exc: BaseException) -> int:
    assert isinstance(exc, PineconeApiException), exc
    return int(exc.status)


def assert_refused(exc: BaseException, fragment: str) -> None:
    """A 400 from the server naming the problem, or the SDK's own client-side refusal."""
    if isinstance(exc, PineconeApiValueError):  # the SDK checks some limits before sending
        return
    assert _status(exc) == 400
    assert fragment in exc.body  # type: ignore[attr-defined]


@pytest.fixture
def pc(local_server: LocalServer):  # type: ignore[no-untyped-def]
    return local_server.client()


def test_upsert_fetch_roundtrip_and_metadata_types(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "rt")
    md = {"s": "x", "n": 3, "f": 2.5, "b": True, "tags": ["a", "b"]}
    res = index.upsert(
        vectors=[{"id": "r1", "values": [0.5, -1.0, 0.25, 2.0], "metadata": md}], namespace="ns"
    )
    assert res.upserted_count == 1
    got = index.fetch(ids=["r1", "missing"], namespace="ns")
    assert list(got.vectors) == ["r1"]
    assert got.vectors["r1"].values == [0.5, -1.0, 0.25, 2.0]
    assert got.vectors["r1"].metadata == md
    assert got.namespace == "ns"
    assert got.usage.read_units >= 1


def test_default_namespace_aliases(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "dflt")
    index.upsert(vectors=[("a", [1.0, 0.0, 0.0, 0.0])])
    index.upsert(vectors=[("b", [0.0, 1.0, 0.0, 0.0])], namespace="")
    index.upsert(vectors=[("c", [0.0, 0.0, 1.0, 0.0])], namespace="__default__")
    for ns in (None, "", "__default__"):
        kwargs = {} if ns is None else {"namespace": ns}
        assert sorted(index.fetch(ids=["a", "b", "c"], **kwargs).vectors) == ["a", "b", "c"]
    # Pinecone (API 2025-04) names the default namespace "" in stats; the namespaces
    # API calls it "__default__"; a fetch answers with the namespace as requested.
    stats = index.describe_index_stats()
    assert dict(stats.namespaces).keys() == {""}
    assert stats.namespaces[""].vector_count == 3
    assert [n.name for n in index.list_namespaces()] == ["__default__"]
    assert index.fetch(ids=["a"]).namespace == ""
    assert index.fetch(ids=["a"], namespace="__default__").namespace == "__default__"


def test_query_by_vector_and_by_id(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "q", dimension=4)
    index.upsert(
        vectors=[{"id": f"v{i}", "values": vec(4, i), "metadata": {"i": i}} for i in range(20)],
        namespace="t",
    )
    res = index.query(vector=vec(4, 7), top_k=5, namespace="t", include_metadata=True)
    assert res.matches[0].id == "v7"
    assert res.matches[0].score == pytest.approx(1.0, abs=1e-5)
    assert res.matches[0].metadata == {"i": 7}
    scores = [m.score for m in res.matches]
    assert scores == sorted(scores, reverse=True)
    by_id = index.query(id="v3", top_k=2, namespace="t")
    assert by_id.matches[0].id == "v3"
    # a missing id yields no matches, not an error
    assert index.query(id="nope", top_k=2, namespace="t").matches == []
    # without include_metadata, metadata is an empty dict, never null
    plain = index.query(vector=vec(4, 1), top_k=1, namespace="t")
    assert plain.matches[0].metadata in ({}, None) or plain.matches[0].metadata == {}


def test_metric_scores(pc) -> None:  # type: ignore[no-untyped-def]
    a, b = [1.0, 2.0, 0.0], [2.0, 0.0, 1.0]
    q = [1.0, 1.0, 1.0]
    for metric in ("cosine", "dotproduct", "euclidean"):
        index = make_index(pc, f"m-{metric}", dimension=3, metric=metric)
        index.upsert(vectors=[("a", a), ("b", b)])
        got = {m.id: m.score for m in index.query(vector=q, top_k=2).matches}
        dot = {k: sum(x * y for x, y in zip(v, q, strict=True)) for k, v in (("a", a), ("b", b))}
        if metric == "cosine":
            want = {k: dot[k] / (math.sqrt(5) * math.sqrt(3)) for k in dot}
        elif metric == "dotproduct":
            want = dot
        else:  # Pinecone reports the squared euclidean distance; lower is closer
            want = {
                k: sum((x - y) ** 2 for x, y in zip(v, q, strict=True))
                for k, v in (("a", a), ("b", b))
            }
        assert got == pytest.approx(want, rel=1e-5)


def test_euclidean_orders_closest_first(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "euc", dimension=2, metric="euclidean")
    index.upsert(vectors=[("near", [1.0, 1.0]), ("far", [10.0, 10.0]), ("mid", [3.0, 3.0])])
    res = index.query(vector=[1.0, 1.0], top_k=3)
    assert [m.id for m in res.matches] == ["near", "mid", "far"]
    assert res.matches[0].score == pytest.approx(0.0)


def test_hybrid_sparse_dense(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "hyb", dimension=2, metric="dotproduct")
    index.upsert(
        vectors=[
            {"id": "d", "values": [1.0, 0.0], "sparse_values": {"indices": [1], "values": [0.1]}},
            {
                "id": "s",
                "values": [0.1, 0.0],
                "sparse_values": {"indices": [5, 9], "values": [2.0, 1.0]},
            },
        ]
    )
    res = index.query(
        vector=[1.0, 0.0],
        sparse_vector={"indices": [5], "values": [1.0]},
        top_k=2,
        include_values=True,
    )
    scores = {m.id: m.score for m in res.matches}
    assert scores["s"] == pytest.approx(0.1 + 2.0)
    assert scores["d"] == pytest.approx(1.0)
    assert res.matches[0].id == "s"
    assert res.matches[0].sparse_values.indices == [5, 9]


def test_sparse_only_index(pc) -> None:  # type: ignore[no-untyped-def]
    pc.create_index(
        name="sp",
        metric="dotproduct",
        vector_type="sparse",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
        timeout=-1,
    )
    index = pc.Index(name="sp")
    index.upsert(
        vectors=[
            {"id": "x", "sparse_values": SparseValues(indices=[1, 2], values=[1.0, 1.0])},
            {"id": "y", "sparse_values": SparseValues(indices=[3], values=[5.0])},
        ]
    )
    res = index.query(sparse_vector={"indices": [2, 3], "values": [1.0, 1.0]}, top_k=2)
    assert [(m.id, m.score) for m in res.matches] == [("y", 5.0), ("x", 1.0)]
    assert index.describe_index_stats().vector_type == "sparse"


def test_update_values_metadata_and_sparse(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "upd", dimension=2, metric="dotproduct")
    index.upsert(vectors=[{"id": "a", "values": [1.0, 1.0], "metadata": {"k": "v", "n": 1}}])
    index.update(id="a", set_metadata={"n": 2, "new": "x"})
    got = index.fetch(ids=["a"]).vectors["a"]
    assert got.metadata == {"k": "v", "n": 2, "new": "x"}
    assert got.values == [1.0, 1.0]
    index.update(id="a", values=[3.0, 4.0], sparse_values={"indices": [7], "values": [0.5]})
    got = index.fetch(ids=["a"]).vectors["a"]
    assert got.values == [3.0, 4.0]
    assert got.sparse_values.indices == [7]
    assert got.metadata["new"] == "x"
    # query sees the updated values at once
    assert index.query(vector=[1.0, 0.0], top_k=1).matches[0].score == pytest.approx(3.0)
    index.update(id="ghost", values=[1.0, 1.0])  # a missing id is a no-op, as on Pinecone
    assert "ghost" not in index.fetch(ids=["ghost"]).vectors


def test_delete_by_ids_all_and_filter(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "del", dimension=2)
    index.upsert(
        vectors=[
            {"id": f"r{i}", "values": [1.0, float(i)], "metadata": {"even": i % 2 == 0}}
            for i in range(10)
        ],
        namespace="n",
    )
    index.delete(ids=["r0", "r1", "missing"], namespace="n")
    assert index.describe_index_stats().namespaces["n"].vector_count == 8
    index.delete(filter={"even": True}, namespace="n")
    left = sorted(index.fetch(ids=[f"r{i}" for i in range(10)], namespace="n").vectors)
    assert left == ["r3", "r5", "r7", "r9"]
    assert (
        sorted(m.id for m in index.query(vector=[1.0, 1.0], top_k=10, namespace="n").matches)
        == left
    )
    index.delete(delete_all=True, namespace="n")
    assert "n" not in index.describe_index_stats().namespaces
    index.delete(delete_all=True, namespace="never-existed")  # no error, as on Pinecone


def test_list_pagination_prefix_and_c_order(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "lst", dimension=2)
    ids = [f"doc{i}#{j}" for i in range(3) for j in range(70)] + ["Zed", "a", "_x", "doc10#0"]
    for start in range(0, len(ids), 100):
        index.upsert(vectors=[(i, [1.0, 0.0]) for i in ids[start : start + 100]], namespace="n")
    pages = list(index.list(namespace="n"))
    assert [len(p) for p in pages] == [100, 100, 14]
    flat = [i for p in pages for i in p]
    assert flat == sorted(ids, key=lambda s: s.encode())  # C collation
    with_prefix = [i for p in index.list(prefix="doc1", namespace="n") for i in p]
    assert with_prefix == sorted([i for i in ids if i.startswith("doc1")])
    page = index.list_paginated(prefix="doc2", limit=30, namespace="n")
    assert len(page.vectors) == 30 and page.pagination is not None
    rest = index.list_paginated(
        prefix="doc2", limit=100, namespace="n", pagination_token=page.pagination.next
    )
    assert len(rest.vectors) == 40 and rest.pagination is None


def test_describe_index_stats_with_filter(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "st", dimension=2)
    index.upsert(
        vectors=[{"id": str(i), "values": [1.0, 0.5], "metadata": {"n": i}} for i in range(6)],
        namespace="a",
    )
    index.upsert(
        vectors=[{"id": str(i), "values": [1.0, 0.5], "metadata": {"n": i}} for i in range(3)],
        namespace="b",
    )
    stats = index.describe_index_stats()
    assert stats.total_vector_count == 9 and stats.dimension == 2
    assert stats.metric == "cosine" and stats.index_fullness == 0.0
    # Pinecone's specs: "Serverless indexes do not support filtering
    # describe_index_stats by metadata"; the server answers 400.
    with pytest.raises(PineconeApiException) as info:
        index.describe_index_stats(filter={"n": {"$gte": 4}})
    assert info.value.status == 400
    assert "do not support filtering describe_index_stats" in info.value.body
    assert index.describe_index_stats(filter={}).total_vector_count == 9  # {} is no filter


def test_namespaces_list_describe_delete(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "nss", dimension=2)
    for k in range(5):
        index.upsert(
            vectors=[(f"id{j}", [1.0, 0.0]) for j in range(k + 1)], namespace=f"tenant {k}"
        )
    page = index.list_namespaces_paginated(limit=2)
    assert [n.name for n in page.namespaces] == ["tenant 0", "tenant 1"]
    assert page.pagination.next
    everything = list(index.list_namespaces(limit=2))
    assert [(n.name, int(n.record_count)) for n in everything] == [
        (f"tenant {k}", k + 1) for k in range(5)
    ]
    desc = index.describe_namespace(namespace="tenant 3")
    assert desc.name == "tenant 3" and int(desc.record_count) == 4
    index.delete_namespace(namespace="tenant 3")
    assert "tenant 3" not in index.describe_index_stats().namespaces
    with pytest.raises(NotFoundException):
        index.describe_namespace(namespace="tenant 3")
    with pytest.raises(NotFoundException):
        index.delete_namespace(namespace="tenant 3")


# -- errors ----------------------------------------------------------------------


def test_wrong_dimension_is_400_with_actionable_message(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "dim", dimension=8)
    with pytest.raises(PineconeApiException) as info:
        index.upsert(vectors=[("a", [1.0, 2.0, 3.0])])
    assert _status(info.value) == 400
    assert "Vector dimension 3 does not match the dimension of the index 8" in info.value.body
    with pytest.raises(PineconeApiException) as info:
        index.query(vector=[1.0], top_k=1)
    assert _status(info.value) == 400


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("too_many_records", "at most 1000"),
        ("nan", "NaN"),
        ("inf", "NaN or infinity"),
        ("metadata_too_big", "exceeds the limit"),
        ("long_id", "limit is 512"),
        ("non_ascii_id", "ASCII"),
        ("nul_id", "NUL"),
        ("nested_metadata", "unsupported type"),
        ("null_metadata", "null"),
        ("body_too_big", "2 MB"),
        ("long_namespace", "limit is 512"),
    ],
)
def test_upsert_limits_are_400(pc, case: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "lim", dimension=4)
    ok = [1.0, 0.0, 0.0, 0.0]
    kwargs: dict = {}
    vectors: list = [("a", ok)]
    if case == "too_many_records":
        vectors = [(f"id{i}", ok) for i in range(1001)]
    elif case == "nan":
        vectors = [("a", [float("nan"), 0.0, 0.0, 1.0])]
    elif case == "inf":
        vectors = [("a", [float("inf"), 0.0, 0.0, 1.0])]
    elif case == "metadata_too_big":
        vectors = [{"id": "a", "values": ok, "metadata": {"text": "x" * 41_000}}]
    elif case == "long_id":
        vectors = [("x" * 513, ok)]
    elif case == "non_ascii_id":
        vectors = [("caf\u00e9", ok)]
    elif case == "nul_id":
        vectors = [("a\x00b", ok)]
    elif case == "nested_metadata":
        vectors = [{"id": "a", "values": ok, "metadata": {"d": {"x": 1}}}]
    elif case == "null_metadata":
        vectors = [{"id": "a", "values": ok, "metadata": {"d": None}}]
    elif case == "body_too_big":
        vectors = [
            {"id": f"id{i}", "values": ok, "metadata": {"t": "y" * 30_000}} for i in range(80)
        ]
    elif case == "long_namespace":
        kwargs = {"namespace": "n" * 513}
    with pytest.raises((PineconeApiException, PineconeApiValueError)) as info:
        index.upsert(vectors=vectors, **kwargs)
    assert_refused(info.value, fragment)
    assert index.describe_index_stats().total_vector_count == 0  # nothing partially written


def test_request_limits_are_400(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "lim2", dimension=2)
    index.upsert(vectors=[("a", [1.0, 0.0])])
    with pytest.raises((PineconeApiException, PineconeApiValueError)) as info:
        index.query(vector=[1.0, 0.0], top_k=10_001)
    assert_refused(info.value, "topK")
    with pytest.raises(PineconeApiException) as info:
        index.fetch(ids=[f"i{n}" for n in range(1001)])
    assert _status(info.value) == 400 and "at most 1000" in info.value.body
    with pytest.raises(PineconeApiException) as info:
        index.delete(ids=[f"i{n}" for n in range(1001)])
    assert _status(info.value) == 400
    with pytest.raises(PineconeApiException) as info:
        index.query(vector=[1.0, 0.0], top_k=1, filter={"x": {"$regex": "a.*"}})
    assert _status(info.value) == 400 and "$regex" in info.value.body
    with pytest.raises(PineconeApiException) as info:
        index.query(vector=[1.0, 0.0], top_k=1, filter={"x": {"$gt": "abc"}})
    assert _status(info.value) == 400 and "$gt" in info.value.body


def test_unknown_index_data_plane_is_404(pc, local_server: LocalServer) -> None:  # type: ignore[no-untyped-def]
    index = pc.Index(host=f"{local_server.url}/_index/ghost")
    with pytest.raises(NotFoundException) as info:
        index.query(vector=[1.0], top_k=1)
    assert "ghost" in info.value.body


def test_index_deleted_then_recreated_starts_empty(pc) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "again", dimension=2)
    index.upsert(vectors=[("a", [1.0, 0.0])], namespace="x")
    pc.delete_index("again", timeout=-1)
    index2 = make_index(pc, "again", dimension=3)
    assert index2.describe_index_stats().total_vector_count == 0
    index2.upsert(vectors=[("b", [1.0, 0.0, 0.0])], namespace="x")
    assert list(index2.fetch(ids=["a", "b"], namespace="x").vectors) == ["b"]


def test_delete_by_filter_leaves_other_tenants_unloaded(pc, local_server: LocalServer) -> None:  # type: ignore[no-untyped-def]
    index = make_index(pc, "lazy", dimension=2)
    for t in range(3):
        index.upsert(
            vectors=[{"id": f"r{i}", "values": [1.0, 0.5], "metadata": {"i": i}} for i in range(4)],
            namespace=f"t{t}",
        )
    engine = local_server.engine.index("lazy")
    assert engine.loaded_namespaces() == []  # writes never load a namespace
    index.delete(filter={"i": 0}, namespace="t1")
    assert engine.loaded_namespaces() == []  # answered from the metadata column
    index.query(vector=[1.0, 0.5], top_k=1, namespace="t2")
    assert engine.loaded_namespaces() == ["t2"]
    assert index.describe_index_stats().namespaces["t1"].vector_count == 3


def test_resident_budget_evicts_least_recently_used_namespaces(
    pc, local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TENANT_RAG_LOCAL_MAX_RESIDENT_MB", "0.15")  # room for two of them
    index = make_index(pc, "budget", dimension=64)
    for t in range(4):
        index.upsert(
            vectors=[(f"r{i}", vec(64, t * 1000 + i)) for i in range(150)], namespace=f"t{t}"
        )
    engine = local_server.engine.index("budget")
    for t in range(4):
        best = index.query(vector=vec(64, t * 1000 + 7), top_k=1, namespace=f"t{t}")
        assert best.matches[0].id == "r7"
    assert engine.loaded_namespaces() == ["t2", "t3"]
    # an evicted namespace is simply reloaded, with its writes intact
    index.upsert(vectors=[("new", vec(64, 99))], namespace="t0")
    assert index.query(vector=vec(64, 99), top_k=1, namespace="t0").matches[0].id == "new"
    assert engine.loaded_namespaces() == ["t3", "t0"]
