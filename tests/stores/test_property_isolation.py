"""Property: under any interleaving of operations across tenants, no read crosses a tenant.

Hypothesis draws sequences of writes, overwrites, deletes, delete-alls and
reads (similarity, MMR, score threshold, get_by_ids, retrievers, sync and
async) spread over three tenants that share ids and texts. A model of each
tenant's records is kept alongside; every read must return only records the
model says the reading tenant currently holds, with that tenant's ``owner``
mark and the content it last wrote; full reads must see all of them. Both
isolation modes.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_rag import per_request_retriever, tenant_retriever, tenant_vector_store

N_TENANTS = 3
IDS = ["a", "b", "c#1", "c#2"]
WORDS = ["vacation", "office", "berlin", "expenses", "policy"]

ops = st.one_of(
    st.tuples(
        st.just("add"),
        st.integers(0, N_TENANTS - 1),
        st.sampled_from(IDS),
        st.sampled_from(WORDS),
    ),
    st.tuples(st.just("delete"), st.integers(0, N_TENANTS - 1), st.sampled_from(IDS)),
    st.tuples(st.just("delete_all"), st.integers(0, N_TENANTS - 1)),
    st.tuples(
        st.just("read"),
        st.integers(0, N_TENANTS - 1),
        st.sampled_from(
            [
                "similarity",
                "mmr",
                "threshold",
                "get_by_ids",
                "retriever",
                "per_request",
                "async",
                "async_mmr",
            ]
        ),
        st.sampled_from(WORDS),
    ),
)


@pytest.mark.parametrize("mode", ["namespace", "metadata"])
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=st.lists(ops, min_size=1, max_size=14))
def test_no_read_ever_crosses_a_tenant(index32: Any, emb32: Any, mode: str, program) -> None:
    tag = uuid.uuid4().hex[:8]
    tenants = [f"p{i}-{tag}" for i in range(N_TENANTS)]
    stores = [tenant_vector_store(index32, t, emb32, isolation=mode) for t in tenants]
    model: list[dict[str, str]] = [{} for _ in tenants]  # tenant -> id -> text
    try:
        for op in program:
            kind, who = op[0], op[1]
            store, mine = stores[who], model[who]
            if kind == "add":
                _, _, rid, word = op
                text = f"{word} note {rid}"
                store.add_texts([text], ids=[rid], metadatas=[{"owner": store.tenant}])
                mine[rid] = text
            elif kind == "delete":
                store.delete(ids=[op[2]])
                mine.pop(op[2], None)
            elif kind == "delete_all":
                store.delete(delete_all=True)
                mine.clear()
            else:
                docs = _read(store, op[2], op[3], index32, emb32, mode)
                for d in docs:
                    assert d.metadata["owner"] == store.tenant
                    assert mine.get(d.id) == d.page_content, (d.id, d.page_content, mine)
                if op[2] in ("similarity", "get_by_ids", "async", "per_request", "retriever"):
                    assert {d.id for d in docs} == set(mine), "every own record is visible"
    finally:
        for s in stores:
            s.delete(delete_all=True)


def _read(store: Any, how: str, word: str, index: Any, emb: Any, mode: str) -> list:
    k = len(IDS)
    if how == "similarity":
        return store.similarity_search(word, k=k)
    if how == "mmr":
        return store.max_marginal_relevance_search(word, k=2, fetch_k=k)
    if how == "threshold":
        pairs = store.similarity_search_with_relevance_scores(word, k=k, score_threshold=0.5)
        return [d for d, _ in pairs]
    if how == "get_by_ids":
        return store.get_by_ids(IDS)
    if how == "retriever":
        return tenant_retriever(index, store.tenant, emb, k=k, isolation=mode).invoke(word)
    if how == "per_request":
        r = per_request_retriever(index, emb, k=k, isolation=mode)
        return r.invoke(word, config={"configurable": {"tenant_id": store.tenant}})
    if how == "async":
        return asyncio.run(store.asimilarity_search(word, k=k))
    return asyncio.run(store.amax_marginal_relevance_search(word, k=2, fetch_k=k))
