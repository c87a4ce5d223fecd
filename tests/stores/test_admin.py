"""The admin cross-tenant retriever: the only reader across tenants, metadata isolation only."""

from __future__ import annotations

import pytest

from tenant_rag import TenantIsolationError, admin_cross_tenant_retriever, tenant_vector_store


@pytest.fixture
def shared(index32, emb32, tenants):
    stores = [tenant_vector_store(index32, t, emb32, isolation="metadata") for t in tenants]
    for s in stores:
        s.add_texts(["vacation days policy", "office in berlin"], ids=["d#0", "d#1"])
    yield tenants
    for s in stores:
        s.delete(delete_all=True)


async def test_admin_reads_across_tenants_and_says_whose(shared, index32, emb32) -> None:
    a, b = shared
    flt = {"tenant_id": {"$in": [a, b]}}
    for search_type, extra in (
        ("similarity", {}),
        ("mmr", {"fetch_k": 10}),
        ("similarity_score_threshold", {"score_threshold": 0.0}),
    ):
        r = admin_cross_tenant_retriever(
            index32, emb32, k=4, filter=flt, search_type=search_type, **extra
        )
        for docs in (r.invoke("vacation"), await r.ainvoke("vacation")):
            assert {d.metadata["tenant_id"] for d in docs} == {a, b}
            assert {d.id for d in docs} == {"d#0", "d#1"}
            assert all(d.metadata["stored_id"].endswith("::" + d.id) for d in docs)
            assert all(isinstance(d.metadata["score"], float) for d in docs)
    only_a = admin_cross_tenant_retriever(index32, emb32, filter={"tenant_id": a}, k=10)
    assert {d.metadata["tenant_id"] for d in only_a.invoke("vacation")} == {a}


@pytest.mark.parametrize("ns", ["", "__default__"])
def test_admin_refuses_the_default_namespace(index32, emb32, ns) -> None:
    with pytest.raises(TenantIsolationError):
        admin_cross_tenant_retriever(index32, emb32, shared_namespace=ns)


def test_admin_takes_no_namespace_argument(index32, emb32) -> None:
    with pytest.raises(TenantIsolationError):
        admin_cross_tenant_retriever(index32, emb32, namespace="acme")
    with pytest.raises(TypeError):
        admin_cross_tenant_retriever(index32, emb32, bogus=1)
