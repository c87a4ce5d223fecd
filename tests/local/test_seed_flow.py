"""The seed's multitenant flow, verbatim, against the embedded server over REST."""

from __future__ import annotations

import pytest
from pinecone import ServerlessSpec

from tenant_rag.local import LocalServer

SEED = {
    "tenant1": {
        "A": [0.1] * 8,
        "B": [0.2] * 8,
        "C": [0.3] * 8,
        "D": [0.4] * 8,
    },
    "tenant2": {
        "E": [0.5] * 8,
        "F": [0.6] * 8,
        "G": [0.7] * 8,
        "H": [0.8] * 8,
    },
}


def run_seed_flow(pc: object, index: object) -> None:
    for ns, recs in SEED.items():
        index.upsert(  # type: ignore[attr-defined]
            vectors=[{"id": i, "values": v, "metadata": {"genre": ns}} for i, v in recs.items()],
            namespace=ns,
        )
    index.update(id="A", values=[2.0] * 8, namespace="tenant1")  # type: ignore[attr-defined]
    res = index.query(  # type: ignore[attr-defined]
        namespace="tenant2", vector=[0.3] * 8, top_k=3, include_values=True
    )
    ids = [m.id for m in res.matches]
    assert len(ids) == 3 and set(ids) <= set(SEED["tenant2"])
    assert all(m.score == pytest.approx(1.0, abs=1e-5) for m in res.matches)
    assert all(len(m.values) == 8 for m in res.matches)
    assert res.namespace == "tenant2"
    assert res.usage.read_units > 0
    fetched = index.fetch(ids=["A"], namespace="tenant1")  # type: ignore[attr-defined]
    assert fetched.vectors["A"].values == [2.0] * 8
    index.delete(delete_all=True, namespace="tenant1")  # type: ignore[attr-defined]
    stats = index.describe_index_stats()  # type: ignore[attr-defined]
    assert set(stats.namespaces) == {"tenant2"}
    assert stats.namespaces["tenant2"].vector_count == 4
    names = [n.name for n in index.list_namespaces()]  # type: ignore[attr-defined]
    assert names == ["tenant2"]


def test_seed_flow_rest(local_server: LocalServer) -> None:
    pc = local_server.client()
    pc.create_index(
        name="multitenant-app",
        dimension=8,
        metric="cosine",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    run_seed_flow(pc, pc.Index(name="multitenant-app"))


def test_seed_flow_grpc(local_server: LocalServer) -> None:
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    rest = local_server.client()
    rest.create_index(
        name="multitenant-app",
        dimension=8,
        metric="cosine",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    pc = PineconeGRPC(api_key=local_server.api_key)
    index = pc.Index(
        name="multitenant-app",
        host=local_server.grpc_target,
        grpc_config=GRPCClientConfig(secure=False),
    )
    run_seed_flow(pc, index)
