"""One retriever for every tenant: the tenant comes from each call's config, never a default."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda

from tenant_rag import (
    InvalidTenantError,
    PerRequestTenantRetriever,
    TenantIsolationError,
    per_request_retriever,
    tenant_vector_store,
)

TEXTS = ["vacation policy gives twenty five days", "the office is in berlin", "expenses monthly"]
IDS = ["d#0", "d#1", "d#2"]


def cfg(tenant: Any) -> dict[str, Any]:
    return {"configurable": {"tenant_id": tenant}}


@pytest.fixture(params=["namespace", "metadata"])
def loaded(request, index32, emb32, tenants):
    """(mode, tenants): two tenants with identical ids and texts, marked by ``owner``."""
    mode = request.param
    stores = [tenant_vector_store(index32, t, emb32, isolation=mode) for t in tenants]
    for s in stores:
        s.add_texts(TEXTS, ids=IDS, metadatas=[{"owner": s.tenant}] * 3)
    yield mode, tenants
    for s in stores:
        s.delete(delete_all=True)


def owners(docs) -> set[str]:
    return {d.metadata["owner"] for d in docs}


async def test_the_tenant_comes_from_the_config(loaded, index32, emb32) -> None:
    mode, (a, b) = loaded
    r = per_request_retriever(index32, emb32, k=3, isolation=mode)
    assert isinstance(r, PerRequestTenantRetriever)
    for t in (a, b):
        assert owners(r.invoke("vacation", config=cfg(t))) == {t}
        assert owners(await r.ainvoke("vacation", config=cfg(t))) == {t}
        assert owners(r.with_config(configurable={"tenant_id": t}).invoke("vacation")) == {t}
    out = r.batch(["vacation", "office", "expenses"], config=[cfg(a), cfg(b), cfg(a)])
    assert [owners(d) for d in out] == [{a}, {b}, {a}]
    out = await r.abatch(["vacation", "office"], config=[cfg(b), cfg(a)])
    assert [owners(d) for d in out] == [{b}, {a}]
    # inside a chain, the chain's config reaches the retriever
    chain = RunnableLambda(lambda q: q) | r
    assert owners(chain.invoke("vacation", config=cfg(b))) == {b}
    assert owners(await chain.ainvoke("vacation", config=cfg(a))) == {a}
    docs = r.invoke("vacation", config=cfg(a))
    assert all(isinstance(d.metadata["score"], float) for d in docs)


@pytest.mark.parametrize(
    "config",
    [
        None,
        {},
        {"configurable": {}},
        {"configurable": {"tenant_id": None}},
        {"metadata": {"tenant_id": "x"}},
    ],
)
async def test_a_call_without_a_tenant_raises(index32, emb32, config) -> None:
    r = per_request_retriever(index32, emb32)
    with pytest.raises(TenantIsolationError, match="no tenant for this call"):
        r.invoke("vacation", config=config)
    with pytest.raises(TenantIsolationError):
        await r.ainvoke("vacation", config=config)
    with pytest.raises(TenantIsolationError):
        (RunnableLambda(lambda q: q) | r).invoke("vacation", config=config)
    with pytest.raises(TenantIsolationError):
        r.batch(["a", "b"], config=[cfg("acme"), config or {}])


@pytest.mark.parametrize("bad", ["", "__default__", " acme", 42])
def test_invalid_tenants_in_config_raise(index32, emb32, bad) -> None:
    r = per_request_retriever(index32, emb32)
    with pytest.raises(InvalidTenantError):
        r.invoke("vacation", config=cfg(bad))


def test_namespaces_are_refused_everywhere(loaded, index32, emb32) -> None:
    mode, (a, b) = loaded
    with pytest.raises(TenantIsolationError):
        per_request_retriever(index32, emb32, namespace=b)
    with pytest.raises(TenantIsolationError):
        PerRequestTenantRetriever(index=index32, embedding=emb32, search_kwargs={"namespace": b})
    r = per_request_retriever(index32, emb32, isolation=mode)
    with pytest.raises(TenantIsolationError):
        r.invoke("vacation", config={"configurable": {"tenant_id": a, "namespace": b}})
    with pytest.raises(TenantIsolationError):
        r.invoke("vacation", config=cfg(a), namespace=b)
    with pytest.raises(TenantIsolationError):
        r.invoke(
            "vacation",
            config={"configurable": {"tenant_id": a, "search_kwargs": {"namespace": b}}},
        )
    if mode == "metadata":
        with pytest.raises(TenantIsolationError):
            per_request_retriever(
                index32, emb32, isolation="metadata", filter={"$or": [{"tenant_id": b}]}
            )


def test_concurrent_threads_never_mix_tenants(loaded, index32, emb32) -> None:
    mode, (a, b) = loaded
    r = per_request_retriever(index32, emb32, k=3, isolation=mode, search_type="mmr")
    plan = [random.Random(i).choice((a, b)) for i in range(120)]

    def call(t: str) -> tuple[str, set[str]]:
        return t, owners(r.invoke("vacation days", config=cfg(t)))

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(call, plan))
    assert all(got == {t} for t, got in results)
    assert {t for t, _ in results} == {a, b}


async def test_concurrent_gather_never_mixes_tenants(loaded, index32, emb32) -> None:
    mode, (a, b) = loaded
    r = per_request_retriever(index32, emb32, k=3, isolation=mode)
    plan = [random.Random(i).choice((a, b)) for i in range(120)]
    results = await asyncio.gather(*(r.ainvoke("vacation", config=cfg(t)) for t in plan))
    assert [owners(d) for d in results] == [{t} for t in plan]


def test_the_cache_is_bounded(index32, emb32) -> None:
    r = per_request_retriever(index32, emb32, cache_size=3)
    first = r.retriever_for("t-0")
    for i in range(10):
        r.retriever_for(f"t-{i}")
    assert len(r._cache) == 3
    assert [key[0] for key in r._cache] == [
        "t-7",
        "t-8",
        "t-9",
    ]  # (tenant, index, isolation, reader)
    assert r.retriever_for("t-9") is r.retriever_for("t-9")
    assert r.retriever_for("t-0") is not first  # rebuilt after eviction, cheaply


def test_bad_search_options_fail_at_construction(index32, emb32) -> None:
    with pytest.raises(ValueError):
        per_request_retriever(index32, emb32, search_type="similarity_score_threshold")
    with pytest.raises(ValueError):
        per_request_retriever(index32, emb32, search_type="bogus")
    ok = per_request_retriever(
        index32, emb32, search_type="similarity_score_threshold", score_threshold=1
    )
    assert ok.search_kwargs["score_threshold"] == 1.0
