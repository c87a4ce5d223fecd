"""The gRPC data plane (PineconeGRPC) against the embedded server."""

from __future__ import annotations

from pathlib import Path

import pytest
from pinecone.exceptions import PineconeException
from pinecone.grpc import GRPCClientConfig, PineconeGRPC

from tenant_rag.local import LocalServer, start

from .helpers import make_index


def test_grpc_every_operation(local_server: LocalServer) -> None:
    make_index(local_server.client(), "g", dimension=2, metric="dotproduct")
    index = local_server.grpc_index("g")
    res = index.upsert(
        vectors=[
            {"id": f"d{i}", "values": [1.0, float(i)], "metadata": {"i": i, "tags": ["x"]}}
            for i in range(5)
        ]
        + [{"id": "s", "values": [0.0, 0.0], "sparse_values": {"indices": [3], "values": [2.0]}}],
        namespace="t",
    )
    assert res.upserted_count == 6
    q = index.query(
        vector=[0.0, 1.0], top_k=2, namespace="t", include_metadata=True, include_values=True
    )
    assert [m.id for m in q.matches] == ["d4", "d3"]
    assert q.matches[0].metadata == {"i": 4.0, "tags": ["x"]}
    assert q.matches[0].values == [1.0, 4.0]
    assert q.usage.read_units > 0
    hybrid = index.query(
        vector=[0.0, 0.0], sparse_vector={"indices": [3], "values": [1.0]}, top_k=1, namespace="t"
    )
    assert hybrid.matches[0].id == "s" and hybrid.matches[0].score == pytest.approx(2.0)
    by_id = index.query(id="d2", top_k=1, namespace="t")
    assert by_id.matches[0].id == "d4"  # dotproduct favours the longest vector
    filtered = index.query(vector=[0.0, 1.0], top_k=5, namespace="t", filter={"i": {"$lt": 2}})
    assert sorted(m.id for m in filtered.matches) == ["d0", "d1"]
    fetched = index.fetch(ids=["d1", "nope"], namespace="t")
    assert list(fetched.vectors) == ["d1"] and fetched.vectors["d1"].values == [1.0, 1.0]
    index.update(id="d1", set_metadata={"i": 10}, namespace="t")
    assert index.fetch(ids=["d1"], namespace="t").vectors["d1"].metadata["i"] == 10
    page = index.list_paginated(prefix="d", limit=3, namespace="t")
    assert [v.id for v in page.vectors] == ["d0", "d1", "d2"]
    assert [i for p in index.list(prefix="d", limit=3, namespace="t") for i in p] == [
        "d0",
        "d1",
        "d2",
        "d3",
        "d4",
    ]
    # Pinecone serverless refuses describe_index_stats with a metadata filter
    with pytest.raises(PineconeException, match="do not support filtering"):
        index.describe_index_stats(filter={"i": {"$gte": 3}})
    index.delete(filter={"i": {"$gte": 3}}, namespace="t")
    index.delete(ids=["s"], namespace="t")
    stats = index.describe_index_stats()
    assert stats.namespaces["t"].vector_count == 2
    assert stats.dimension == 2
    index.delete(delete_all=True, namespace="t")
    assert index.describe_index_stats().total_vector_count == 0


def test_grpc_errors_carry_the_message(local_server: LocalServer) -> None:
    make_index(local_server.client(), "ge", dimension=4)
    index = local_server.grpc_index("ge")
    with pytest.raises(PineconeException) as info:
        index.upsert(vectors=[("a", [1.0, 2.0])])
    assert "Vector dimension 2 does not match the dimension of the index 4" in str(info.value)
    missing = local_server.grpc_client().Index(
        name="missing", host=local_server.grpc_target, grpc_config=GRPCClientConfig(secure=False)
    )
    with pytest.raises(PineconeException) as info:
        missing.describe_index_stats()
    assert "not found" in str(info.value)


def test_grpc_api_key(tmp_path: Path) -> None:
    with start(tmp_path, api_key="k1", grpc=True) as srv:
        make_index(srv.client(), "keyed", dimension=2)
        good = srv.grpc_index("keyed")
        good.upsert(vectors=[("a", [1.0, 0.0])])
        bad = PineconeGRPC(api_key="k2").Index(
            name="keyed", host=srv.grpc_target, grpc_config=GRPCClientConfig(secure=False)
        )
        with pytest.raises(PineconeException) as info:
            bad.fetch(ids=["a"])
        assert "Wrong API key" in str(info.value)  # PERMISSION_DENIED, REST's 403


def test_grpc_without_index_name(local_server: LocalServer) -> None:
    """With one index the name may be left out; with two, the error says how to name it."""
    pc = local_server.client()
    make_index(pc, "only", dimension=2)
    unnamed = PineconeGRPC(api_key="x").Index(
        host=local_server.grpc_target, grpc_config=GRPCClientConfig(secure=False)
    )
    unnamed.upsert(vectors=[("a", [1.0, 0.0])])
    assert unnamed.describe_index_stats().total_vector_count == 1
    make_index(pc, "second", dimension=2)
    with pytest.raises(PineconeException) as info:
        unnamed.describe_index_stats()
    assert "Index(name=" in str(info.value)
