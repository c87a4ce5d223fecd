"""Tenant stores report usage per tenant (read units included) and honour usage guards."""

from __future__ import annotations

import pytest

from tenant_rag import QuotaExceededError, tenant_retriever, tenant_vector_store
from tenant_rag.tenancy import usage


@pytest.mark.parametrize("mode", ["namespace", "metadata"])
async def test_usage_events_name_the_tenant_and_carry_read_units(index32, emb32, tenants, mode):
    a, b = (tenant_vector_store(index32, t, emb32, isolation=mode) for t in tenants)
    events: list[usage.UsageEvent] = []
    stop = usage.add_listener(events.append)
    try:
        a.add_texts(["vacation days", "office"], ids=["1", "2"])
        b.add_texts(["vacation days"], ids=["1"])
        a.similarity_search("vacation")
        await a.amax_marginal_relevance_search("vacation", k=1)
        tenant_retriever(index32, a.tenant, emb32, isolation=mode).invoke("vacation")
        a.get_by_ids(["1"])
        a.delete(ids=["2"])
    finally:
        stop()
        a.delete(delete_all=True)
        b.delete(delete_all=True)
    mine = [e for e in events if e.tenant == a.tenant]
    assert [e.operation for e in mine] == ["upsert", "query", "query", "query", "fetch", "delete"]
    assert all(e.read_units > 0 for e in mine if e.operation in ("query", "fetch"))
    assert mine[0].records == 2 and mine[0].write_units >= 5
    assert {e.index for e in events} == {index32._tenant_rag_index_name}
    assert [e.operation for e in events if e.tenant == b.tenant] == ["upsert"]


async def test_a_guard_can_refuse_a_tenants_queries(index32, emb32, tenants):
    a, b = (tenant_vector_store(index32, t, emb32) for t in tenants)

    def over_quota(tenant: str, index: str, operation: str, records: int) -> None:
        if tenant == a.tenant and operation == "query":
            raise QuotaExceededError(tenant, "read_units", 10, 11)

    unguard = usage.add_guard(over_quota)
    try:
        with pytest.raises(QuotaExceededError):
            a.similarity_search("vacation")
        with pytest.raises(QuotaExceededError):
            await tenant_retriever(index32, a.tenant, emb32).ainvoke("vacation")
        assert b.similarity_search("vacation") == []  # the other tenant is unaffected
    finally:
        unguard()
