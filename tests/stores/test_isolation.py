"""Two tenants, same ids, same texts: every store and retriever method stays in its tenant.

Each record carries ``owner`` metadata naming the tenant that wrote it, so a
read that crossed tenants would show the other owner even though ids and
texts are identical. Every method is driven sync and async, in both
isolation modes, against the embedded server with the real SDK.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.runnables import ConfigurableField

from tenant_rag import TenantIsolationError, tenant_retriever, tenant_vector_store
from tenant_rag.errors import InvalidTenantError
from tenant_rag.stores.langchain import TenantPineconeVectorStore, TenantVectorStoreRetriever

TEXTS = [
    "vacation policy gives twenty five days",
    "vacation requests go to the manager",
    "the office is in berlin",
    "expense reports are due monthly",
]
IDS = ["doc#0", "doc#1", "doc#2", "doc#3"]
MODES = ["namespace", "metadata"]
SEARCH_TYPES = [
    ("similarity", {}),
    ("mmr", {"fetch_k": 10, "lambda_mult": 0.5}),
    ("similarity_score_threshold", {"score_threshold": 0.0}),
]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pair(index32: Any, emb32: Any, tenants: tuple[str, str], mode: str):
    """Two loaded tenant stores with identical ids and texts, differing only in ``owner``."""
    a, b = (tenant_vector_store(index32, t, emb32, isolation=mode) for t in tenants)
    for store in (a, b):
        store.add_texts(TEXTS, ids=IDS, metadatas=[{"owner": store.tenant} for _ in TEXTS])
    yield a, b
    a.delete(delete_all=True)
    b.delete(delete_all=True)


def owners(docs: list[Document]) -> set[str]:
    return {d.metadata["owner"] for d in docs}


def assert_own(
    docs: list[Document], store: TenantPineconeVectorStore, n: int | None = None
) -> None:
    assert docs, "expected results"
    assert owners(docs) == {store.tenant}
    assert all(d.id in IDS for d in docs), "ids come back as the caller wrote them"
    assert all("tenant_id" not in d.metadata for d in docs), "the pin stays internal"
    if n is not None:
        assert len(docs) == n


# -- reads -----------------------------------------------------------------------------------


def test_every_sync_read_sees_only_its_tenant(pair) -> None:
    a, b = pair
    for store in (a, b):
        v = store.embeddings.embed_query("vacation")
        assert_own(store.similarity_search("vacation", k=10), store, 4)
        assert_own([d for d, _ in store.similarity_search_with_score("vacation", k=10)], store, 4)
        assert_own(store.similarity_search_by_vector(v, k=10), store, 4)
        assert_own([d for d, _ in store.similarity_search_by_vector_with_score(v, k=10)], store, 4)
        rel = store.similarity_search_with_relevance_scores("vacation", k=10, score_threshold=0.1)
        assert_own([d for d, _ in rel], store)
        assert all(0.1 <= s <= 1.0 for _, s in rel)
        assert_own(store.max_marginal_relevance_search("vacation", k=3, fetch_k=10), store, 3)
        assert_own(store.max_marginal_relevance_search_by_vector(v, k=3, fetch_k=10), store, 3)
        assert_own(store.search("vacation", "similarity", k=10), store, 4)
        assert_own(store.search("vacation", "mmr", k=2), store, 2)
        got = store.get_by_ids(list(reversed(IDS)) + ["missing"])
        assert [d.id for d in got] == list(reversed(IDS))
        assert_own(got, store, 4)


async def test_every_async_read_sees_only_its_tenant(pair) -> None:
    a, b = pair
    for store in (a, b):
        v = store.embeddings.embed_query("vacation")
        assert_own(await store.asimilarity_search("vacation", k=10), store, 4)
        pairs = await store.asimilarity_search_with_score("vacation", k=10)
        assert_own([d for d, _ in pairs], store, 4)
        assert_own(await store.asimilarity_search_by_vector(v, k=10), store, 4)
        pairs = await store.asimilarity_search_by_vector_with_score(v, k=10)
        assert_own([d for d, _ in pairs], store, 4)
        rel = await store.asimilarity_search_with_relevance_scores("vacation", k=10)
        assert_own([d for d, _ in rel], store, 4)
        assert_own(await store.amax_marginal_relevance_search("vacation", k=3), store, 3)
        assert_own(await store.amax_marginal_relevance_search_by_vector(v, k=3), store, 3)
        assert_own(await store.asearch("vacation", "similarity", k=10), store, 4)
        got = await store.aget_by_ids(IDS)
        assert [d.id for d in got] == IDS
        assert_own(got, store, 4)


@pytest.mark.parametrize(("search_type", "extra"), SEARCH_TYPES)
async def test_retrievers_sync_and_async_stay_in_tenant(
    pair, index32, emb32, mode, search_type, extra
) -> None:
    for store in pair:
        retrievers = [
            store.as_retriever(search_type=search_type, search_kwargs={"k": 3, **extra}),
            tenant_retriever(
                index32, store.tenant, emb32, k=3, search_type=search_type, isolation=mode, **extra
            ),
        ]
        for r in retrievers:
            for docs in (r.invoke("vacation"), await r.ainvoke("vacation")):
                assert_own(docs, store, 3)
                assert all(isinstance(d.metadata["score"], float) for d in docs)
            batched = r.batch(["vacation", "office"])
            assert all(owners(d) == {store.tenant} for d in batched)


async def test_score_threshold_filters_on_relevance(pair, index32, emb32, mode) -> None:
    a, _ = pair
    strict = tenant_retriever(
        index32,
        a.tenant,
        emb32,
        k=4,
        search_type="similarity_score_threshold",
        score_threshold=0.99,
        isolation=mode,
    )
    loose = tenant_retriever(
        index32,
        a.tenant,
        emb32,
        k=4,
        search_type="similarity_score_threshold",
        score_threshold=0.0,
        isolation=mode,
    )
    exact = strict.invoke("the office is in berlin")
    assert [d.page_content for d in exact] == ["the office is in berlin"]
    assert_own(exact, a)
    assert len(loose.invoke("the office is in berlin")) == 4
    assert [d.id for d in await strict.ainvoke("the office is in berlin")] == ["doc#2"]


async def test_filters_combine_with_the_pin(pair, index32, emb32, mode) -> None:
    a, b = pair
    r = tenant_retriever(index32, a.tenant, emb32, k=10, filter={"owner": b.tenant}, isolation=mode)
    assert r.invoke("vacation") == [], "a filter can narrow, never widen"
    assert await r.ainvoke("vacation") == []
    assert a.similarity_search("vacation", k=10, filter={"owner": {"$ne": a.tenant}}) == []
    docs = a.similarity_search("vacation", k=10, filter={"owner": {"$in": [a.tenant, b.tenant]}})
    assert_own(docs, a, 4)


# -- writes and deletes -------------------------------------------------------------------------


async def test_deletes_never_touch_the_other_tenant(pair) -> None:
    a, b = pair
    assert a.delete(ids=["doc#0"]) is True
    assert [d.id for d in a.get_by_ids(IDS)] == IDS[1:]
    assert [d.id for d in b.get_by_ids(IDS)] == IDS
    await a.adelete(ids=["doc#1"])
    assert [d.id for d in await a.aget_by_ids(IDS)] == IDS[2:]
    a.delete(filter={"owner": a.tenant, "text": "the office is in berlin"})
    assert [d.id for d in a.get_by_ids(IDS)] == ["doc#3"]
    assert [d.id for d in b.get_by_ids(IDS)] == IDS
    a.delete(delete_all=True)
    assert a.get_by_ids(IDS) == [] and a.similarity_search("vacation") == []
    assert_own(b.similarity_search("vacation", k=10), b, 4)
    await b.adelete(delete_all=True)
    assert await b.aget_by_ids(IDS) == []


async def test_async_writes_and_overwrites_stay_in_tenant(index32, emb32, tenants, mode) -> None:
    a, b = (tenant_vector_store(index32, t, emb32, isolation=mode) for t in tenants)
    try:
        await a.aadd_texts(TEXTS, ids=IDS, metadatas=[{"owner": a.tenant}] * 4)
        await b.aadd_documents(
            [
                Document(id=i, page_content=t, metadata={"owner": b.tenant})
                for i, t in zip(IDS, TEXTS, strict=True)
            ]
        )
        # b overwrites its own doc#0; a's doc#0 is unchanged
        b.add_documents(
            [Document(page_content="changed", metadata={"owner": b.tenant})], ids=["doc#0"]
        )
        assert a.get_by_ids(["doc#0"])[0].page_content == TEXTS[0]
        assert b.get_by_ids(["doc#0"])[0].page_content == "changed"
        assert_own(await a.asimilarity_search("changed", k=10), a, 4)
    finally:
        a.delete(delete_all=True)
        b.delete(delete_all=True)


def test_delete_without_arguments_refuses(pair) -> None:
    a, b = pair
    with pytest.raises(ValueError, match="Either ids, delete_all, or filter"):
        a.delete()
    assert len(a.get_by_ids(IDS)) == 4 and len(b.get_by_ids(IDS)) == 4


def test_caller_metadata_is_not_mutated_and_numpy_floats_work(index32, tenants, mode) -> None:
    import numpy as np
    from langchain_core.embeddings import Embeddings

    class NumpyEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [list(np.full(32, 0.5, dtype=np.float64) + i) for i, _ in enumerate(texts)]

        def embed_query(self, text: str) -> list[float]:
            return list(np.full(32, 0.5, dtype=np.float32))

    store = tenant_vector_store(index32, tenants[0], NumpyEmbeddings(), isolation=mode)
    md = [{"k": 1}]
    store.add_texts(["x"], metadatas=md, ids=["n"])
    assert md == [{"k": 1}]
    assert [d.id for d in store.similarity_search("x")] == ["n"]
    store.delete(delete_all=True)


# -- namespace overrides and widening attempts -----------------------------------------------------

BAD_NAMESPACES = [None, "", "__default__", "someone-else"]


@pytest.mark.parametrize("ns", BAD_NAMESPACES)
async def test_every_method_refuses_a_foreign_namespace(pair, ns) -> None:
    a, b = pair
    v = a.embeddings.embed_query("vacation")
    sync_calls = [
        lambda: a.add_texts(["x"], ids=["x"], namespace=ns),
        lambda: a.add_texts(["x"], None, ["x"], ns),  # positional, like upstream's signature
        lambda: a.add_documents([Document(page_content="x")], namespace=ns),
        lambda: a.similarity_search("q", namespace=ns),
        lambda: a.similarity_search("q", 4, None, ns),
        lambda: a.similarity_search_with_score("q", namespace=ns),
        lambda: a.similarity_search_by_vector(v, namespace=ns),
        lambda: a.similarity_search_by_vector_with_score(v, namespace=ns),
        lambda: a.similarity_search_with_relevance_scores("q", namespace=ns),
        lambda: a.max_marginal_relevance_search("q", namespace=ns),
        lambda: a.max_marginal_relevance_search_by_vector(v, namespace=ns),
        lambda: a.search("q", "similarity", namespace=ns),
        lambda: a.search("q", "mmr", namespace=ns),
        lambda: a.delete(ids=["doc#0"], namespace=ns),
        lambda: a.delete(delete_all=True, namespace=ns),
        lambda: a.delete(None, True, ns),
        lambda: a.as_retriever(search_kwargs={"namespace": ns}),
        lambda: a.as_retriever().invoke("q", namespace=ns),
        lambda: a.index.query(vector=v, top_k=4, namespace=ns),
        lambda: a.index.delete(delete_all=True, namespace=ns),
        lambda: TenantPineconeVectorStore(a.index, a.embeddings, a.tenant, namespace=ns),
    ]
    for call in sync_calls:
        with pytest.raises(TenantIsolationError):
            call()
    async_calls = [
        lambda: a.aadd_texts(["x"], ids=["x"], namespace=ns),
        lambda: a.aadd_documents([Document(page_content="x")], namespace=ns),
        lambda: a.asimilarity_search("q", namespace=ns),
        lambda: a.asimilarity_search_with_score("q", namespace=ns),
        lambda: a.asimilarity_search_by_vector(v, namespace=ns),
        lambda: a.asimilarity_search_by_vector_with_score(v, namespace=ns),
        lambda: a.asimilarity_search_with_relevance_scores("q", namespace=ns),
        lambda: a.amax_marginal_relevance_search("q", namespace=ns),
        lambda: a.amax_marginal_relevance_search_by_vector(v, namespace=ns),
        lambda: a.asearch("q", "similarity", namespace=ns),
        lambda: a.adelete(ids=["doc#0"], namespace=ns),
        lambda: a.adelete(delete_all=True, namespace=ns),
        lambda: a.as_retriever().ainvoke("q", namespace=ns),
    ]
    for acall in async_calls:
        with pytest.raises(TenantIsolationError):
            await acall()
    # nothing was written or deleted anywhere
    assert len(a.get_by_ids(IDS + ["x"])) == 4 and len(b.get_by_ids(IDS + ["x"])) == 4


def test_own_namespace_is_a_harmless_no_op(pair) -> None:
    a, _ = pair
    assert_own(a.similarity_search("vacation", k=10, namespace=a.namespace), a, 4)
    assert_own(a.as_retriever(search_kwargs={"namespace": a.namespace, "k": 4}).invoke("v"), a, 4)


@pytest.mark.parametrize("ns", BAD_NAMESPACES)
def test_retriever_factories_refuse_namespaces(index32, emb32, tenants, mode, ns) -> None:
    with pytest.raises(TenantIsolationError):
        tenant_retriever(index32, tenants[0], emb32, isolation=mode, namespace=ns)


async def test_config_cannot_retarget_a_pinned_retriever(pair, index32, emb32, mode) -> None:
    a, b = pair
    r = tenant_retriever(index32, a.tenant, emb32, isolation=mode)
    for cfg in (
        {"configurable": {"tenant_id": b.tenant}},
        {"configurable": {"namespace": b.namespace if mode == "namespace" else "other"}},
        {"configurable": {"namespace": None}},
        {"configurable": {"search_kwargs": {"namespace": b.tenant}}},
    ):
        with pytest.raises(TenantIsolationError):
            r.invoke("vacation", config=cfg)
        with pytest.raises(TenantIsolationError):
            await r.ainvoke("vacation", config=cfg)
        with pytest.raises(TenantIsolationError):
            r.batch(["vacation"], config=cfg)
    assert_own(r.invoke("vacation", config={"configurable": {"tenant_id": a.tenant}}), a)
    # configurable search_kwargs, LangChain's per-user how-to: a namespace there raises too
    configurable = r.configurable_fields(search_kwargs=ConfigurableField(id="search_kwargs"))
    with pytest.raises(TenantIsolationError):
        configurable.invoke(
            "vacation", config={"configurable": {"search_kwargs": {"namespace": "x"}}}
        )
    assert_own(
        configurable.invoke("vacation", config={"configurable": {"search_kwargs": {"k": 2}}}), a, 2
    )


def test_metadata_mode_refuses_filters_naming_the_tenant(pair, index32, emb32, mode) -> None:
    a, b = pair
    if mode != "metadata":
        # namespace mode has no tenant field: such a filter just matches nothing extra
        assert a.similarity_search("v", filter={"tenant_id": b.tenant}) == []
        return
    widening = [
        {"tenant_id": b.tenant},
        {"$or": [{"tenant_id": {"$eq": b.tenant}}, {"owner": a.tenant}]},
        {"$and": [{"owner": a.tenant}, {"$or": [{"tenant_id": {"$in": [b.tenant]}}]}]},
        {"tenant_id": {"$exists": True}},
    ]
    for flt in widening:
        with pytest.raises(TenantIsolationError, match="reserved tenant field"):
            a.similarity_search("vacation", filter=flt)
        with pytest.raises(TenantIsolationError):
            a.max_marginal_relevance_search("vacation", filter=flt)
        with pytest.raises(TenantIsolationError):
            a.delete(filter=flt)
        with pytest.raises(TenantIsolationError):
            tenant_retriever(index32, a.tenant, emb32, isolation="metadata", filter=flt)
        with pytest.raises(TenantIsolationError):
            a.as_retriever(search_kwargs={"filter": flt})
    with pytest.raises(TenantIsolationError):
        a.add_texts(["forged"], metadatas=[{"tenant_id": b.tenant}])
    assert len(b.get_by_ids(IDS)) == 4 and len(a.get_by_ids(IDS)) == 4


@pytest.mark.parametrize("bad", ["", "__default__", None, " acme", "a\x00b"])
def test_bad_tenants_are_refused_at_build_time(index32, emb32, bad) -> None:
    with pytest.raises(InvalidTenantError):
        tenant_vector_store(index32, bad, emb32)
    with pytest.raises(InvalidTenantError):
        tenant_retriever(index32, bad, emb32)


def test_the_guarded_index_refuses_cross_namespace_calls(pair) -> None:
    a, b = pair
    v = a.embeddings.embed_query("vacation")
    for name in ("query_namespaces", "list_namespaces", "namespace", "upsert_records", "search"):
        with pytest.raises(AttributeError):
            getattr(a.index, name)
    with pytest.raises(TenantIsolationError):
        a.index.query(vector=v, top_k=3)  # namespace omitted: would mean the default namespace
    with pytest.raises(TenantIsolationError):
        a.index.fetch(IDS, b.namespace)  # positional namespace
    stats = a.index.describe_index_stats()
    assert set(stats.namespaces) <= {a.namespace}
    if a.scope.isolation == "namespace":
        assert stats.total_vector_count == 4, "only the tenant's own records are counted"
    with pytest.raises(AttributeError):
        a.scope = b.scope  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.index._namespace = b.namespace
    # the retriever is a genuine PineconeVectorStore retriever over the pinned store
    assert isinstance(a.as_retriever(), TenantVectorStoreRetriever)


def test_building_ten_thousand_stores_makes_no_request(index32, emb32, monkeypatch) -> None:
    import urllib3.connectionpool

    calls: list[str] = []
    real_urlopen = urllib3.connectionpool.HTTPConnectionPool.urlopen
    real_new_conn = urllib3.connectionpool.HTTPConnectionPool._new_conn

    def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(f"{method} {url}")
        return real_urlopen(self, method, url, *args, **kwargs)

    def new_conn(self: Any) -> Any:
        calls.append("new connection")
        return real_new_conn(self)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "urlopen", urlopen)
    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "_new_conn", new_conn)
    tag = uuid.uuid4().hex[:6]
    stores = [
        tenant_vector_store(index32, f"t{tag}-{i}", emb32, isolation="namespace")
        for i in range(10_000)
    ]
    retrievers = [tenant_retriever(index32, f"r{tag}-{i}", emb32) for i in range(200)]
    assert stores[-1].namespace == f"t{tag}-9999" and retrievers[-1].tenant == f"r{tag}-199"
    assert calls == []
    # and the last one works, through the index's shared pool
    stores[-1].add_texts(["hello"], ids=["h"])
    assert [d.id for d in stores[-1].similarity_search("hello")] == ["h"]
    assert calls
    stores[-1].delete(delete_all=True)


async def test_construction_classmethods_are_pinned(index32, emb32, tenants, mode) -> None:
    a, b = tenants
    docs = [
        Document(id=i, page_content=t, metadata={"owner": a})
        for i, t in zip(IDS, TEXTS, strict=True)
    ]
    sa = TenantPineconeVectorStore.from_documents(
        docs, emb32, index=index32, tenant=a, isolation=mode
    )
    sb = await TenantPineconeVectorStore.afrom_texts(
        TEXTS, emb32, metadatas=[{"owner": b}] * 4, ids=IDS, index=index32, tenant=b, isolation=mode
    )
    try:
        assert_own(sa.similarity_search("vacation", k=10), sa, 4)
        assert_own(await sb.asimilarity_search("vacation", k=10), sb, 4)
        for ns in BAD_NAMESPACES:
            with pytest.raises(TenantIsolationError):
                TenantPineconeVectorStore.from_texts(
                    ["x"], emb32, index=index32, tenant=a, isolation=mode, namespace=ns
                )
        with pytest.raises(TypeError):
            TenantPineconeVectorStore.from_texts(["x"], emb32)  # no index, no tenant
        with pytest.raises(TypeError):
            TenantPineconeVectorStore.from_existing_index("ix", emb32)
        with pytest.raises(TypeError):
            TenantPineconeVectorStore.get_pinecone_index("ix")
        with pytest.raises(TypeError):
            await sa.async_index
        async with sa as same:  # upstream's async context manager is a harmless no-op
            assert same is sa
        assert len(sa.get_by_ids(IDS)) == 4 and len(sb.get_by_ids(IDS)) == 4
    finally:
        sa.delete(delete_all=True)
        sb.delete(delete_all=True)


def test_store_is_a_real_pinecone_vector_store(index32, emb32, tenants) -> None:
    from langchain_core.vectorstores import VectorStoreRetriever
    from langchain_pinecone import PineconeVectorStore

    store = tenant_vector_store(index32, tenants[0], emb32)
    assert isinstance(store, PineconeVectorStore)
    assert isinstance(store.as_retriever(), VectorStoreRetriever)
    assert store.namespace == tenants[0] and store.tenant == tenants[0]
    assert store.delete(ids=[]) is True
    with pytest.raises(ValueError):
        store.as_retriever(search_type="similarity_score_threshold")  # needs score_threshold
    with pytest.raises(ValueError):
        tenant_retriever(index32, tenants[0], emb32, search_type="bogus")
    with pytest.raises(ValueError):
        store.add_texts(["a", "b"], ids=["only-one"])
