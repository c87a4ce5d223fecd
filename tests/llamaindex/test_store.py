"""TenantPineconeVectorStore against the embedded server with the real SDK."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from tenant_rag.errors import IngestError, InvalidTenantError, TenantIsolationError
from tenant_rag.llamaindex import TenantPineconeVectorStore, tenant_vector_store
from tenant_rag.tenancy.acl import TENANT_ADMIN
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE

from .conftest import stored_ids


def make_node(embed_model: Any, doc_id: str, n: int, text: str, **metadata: Any) -> TextNode:
    node = TextNode(
        id_=f"{doc_id}#{n}",
        text=text,
        metadata=metadata,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc_id)},
    )
    node.embedding = embed_model.get_text_embedding(text)
    return node


def ask(store: TenantPineconeVectorStore, embed_model: Any, text: str, k: int = 10, **kw: Any):
    query = VectorStoreQuery(
        query_embedding=embed_model.get_query_embedding(text), similarity_top_k=k, **kw
    )
    return store.query(query)


def texts(result: Any) -> list[str]:
    return [n.get_content() for n in result.nodes]


def test_add_query_delete_stay_in_the_tenant_namespace(index, embed_model, tenants) -> None:
    acme, globex = tenants
    a = tenant_vector_store(index, acme)
    g = tenant_vector_store(index, globex)
    assert isinstance(a, TenantPineconeVectorStore) and a.namespace == acme
    ids = a.add([make_node(embed_model, "refunds", 0, "Refunds take five days at Acme.")])
    g.add([make_node(embed_model, "refunds", 0, "Globex never refunds anything.")])
    assert ids == ["refunds#0"]
    assert stored_ids(index, acme) == ["refunds#0"]
    assert stored_ids(index, globex) == ["refunds#0"]

    result = ask(a, embed_model, "how long do refunds take")
    assert texts(result) == ["Refunds take five days at Acme."]
    assert result.ids == ["refunds#0"] and result.similarities[0] > 0.3
    assert result.nodes[0].ref_doc_id == "refunds"
    assert result.nodes[0].embedding is None, "vectors are not fetched unless asked for"

    a.delete("refunds")
    assert stored_ids(index, acme) == []
    assert stored_ids(index, globex) == ["refunds#0"], "the other tenant is untouched"
    assert texts(ask(a, embed_model, "refunds")) == []


def test_upstream_node_ids_get_the_ref_doc_prefix(index, embed_model, tenants) -> None:
    store = tenant_vector_store(index, tenants[0])
    node = make_node(embed_model, "guide", 0, "text")
    node.id_ = "3f1c-random-uuid"
    assert store.add([node]) == ["guide#3f1c-random-uuid"]
    store.delete("guide")
    assert stored_ids(index, tenants[0]) == []


def test_delete_doc1_leaves_doc10(index, embed_model, tenants) -> None:
    store = tenant_vector_store(index, tenants[0])
    store.add(
        [
            make_node(embed_model, "doc1", 0, "one a"),
            make_node(embed_model, "doc1", 1, "one b"),
            make_node(embed_model, "doc10", 0, "ten a"),
            make_node(embed_model, "doc1x", 0, "one x"),
        ]
    )
    store.delete("doc1")
    assert stored_ids(index, tenants[0]) == ["doc10#0", "doc1x#0"]


@pytest.mark.parametrize("bad", [None, "", "__default__", " acme", "acmé"])
def test_invalid_tenants_are_refused(index, bad) -> None:
    with pytest.raises(InvalidTenantError):
        tenant_vector_store(index, bad)


@pytest.mark.parametrize("other", ["globex", None, "", "__default__"])
def test_a_namespace_other_than_the_tenants_is_refused(index, embed_model, other) -> None:
    with pytest.raises(TenantIsolationError, match="pinned to tenant 'acme'"):
        tenant_vector_store(index, "acme", namespace=other)
    with pytest.raises(TenantIsolationError):
        tenant_vector_store(index, "acme", insert_kwargs={"namespace": other})
    store = tenant_vector_store(index, "acme", namespace="acme")  # its own: a no-op
    query = VectorStoreQuery(query_embedding=embed_model.get_query_embedding("x"))
    with pytest.raises(TenantIsolationError):
        store.query(query, namespace=other)
    with pytest.raises(TenantIsolationError):
        store.delete("doc", namespace=other)
    with pytest.raises(TenantIsolationError):
        store.namespace = other
    assert store.namespace == "acme"


def test_client_is_the_pinned_handle_and_no_unpinned_client_can_be_built(index) -> None:
    store = tenant_vector_store(index, "acme")
    assert store.client is store.pinned and store.client.namespace == "acme"
    with pytest.raises(TypeError, match="ensure_index"):
        tenant_vector_store(None, "acme")
    with pytest.raises(TypeError, match="api_key"):
        tenant_vector_store(index, "acme", api_key="k")


def test_metadata_filters_narrow_within_the_tenant(index, embed_model, tenants) -> None:
    acme, globex = tenants
    a = tenant_vector_store(index, acme)
    g = tenant_vector_store(index, globex)
    a.add(
        [
            make_node(embed_model, "faq", 0, "shipping policy one", topic="shipping", year=2023),
            make_node(embed_model, "faq", 1, "shipping policy two", topic="shipping", year=2025),
            make_node(embed_model, "faq", 2, "billing policy", topic="billing", year=2025),
        ]
    )
    g.add([make_node(embed_model, "faq", 0, "shipping policy globex", topic="shipping")])
    shipping = MetadataFilters(filters=[MetadataFilter(key="topic", value="shipping")])
    assert sorted(texts(ask(a, embed_model, "policy", filters=shipping))) == [
        "shipping policy one",
        "shipping policy two",
    ]
    either = MetadataFilters(
        filters=[
            MetadataFilter(key="year", value=2023, operator=FilterOperator.EQ),
            MetadataFilter(key="topic", value="billing"),
        ],
        condition=FilterCondition.OR,
    )
    assert sorted(texts(ask(a, embed_model, "policy", filters=either))) == [
        "billing policy",
        "shipping policy one",
    ]
    # a raw Pinecone filter through kwargs is pinned the same way
    raw = a.query(
        VectorStoreQuery(query_embedding=embed_model.get_query_embedding("x"), similarity_top_k=9),
        filter={"topic": {"$eq": "billing"}},
    )
    assert texts(raw) == ["billing policy"]
    assert texts(ask(a, embed_model, "policy", doc_ids=["other"])) == []


def test_metadata_isolation_pins_ids_metadata_and_filters(index, embed_model, tenants) -> None:
    acme, globex = tenants
    a = tenant_vector_store(index, acme, isolation="metadata")
    g = tenant_vector_store(index, globex, isolation="metadata")
    assert a.namespace == DEFAULT_SHARED_NAMESPACE
    a.add([make_node(embed_model, "doc1", 0, "acme secret plan", topic="plans")])
    g.add([make_node(embed_model, "doc1", 0, "globex secret plan", topic="plans")])
    g.add([make_node(embed_model, "doc10", 0, "globex other plan", topic="plans")])
    assert stored_ids(index, DEFAULT_SHARED_NAMESPACE) == sorted(
        [f"{acme}::doc1#0", f"{globex}::doc1#0", f"{globex}::doc10#0"]
    )
    raw = index.fetch(ids=[f"{acme}::doc1#0"], namespace=DEFAULT_SHARED_NAMESPACE)
    assert raw.vectors[f"{acme}::doc1#0"].metadata["tenant_id"] == acme

    plans = MetadataFilters(filters=[MetadataFilter(key="topic", value="plans")])
    result = ask(a, embed_model, "secret plan", filters=plans)
    assert texts(result) == ["acme secret plan"] and result.ids == ["doc1#0"]
    assert "tenant_id" not in result.nodes[0].metadata

    naming = MetadataFilters(filters=[MetadataFilter(key="tenant_id", value=globex)])
    hidden = MetadataFilters(
        filters=[plans, MetadataFilters(filters=[MetadataFilter(key="tenant_id", value=globex)])],
        condition=FilterCondition.OR,
    )
    for filters in (naming, hidden):
        with pytest.raises(TenantIsolationError, match="tenant_id"):
            ask(a, embed_model, "plan", filters=filters)
        with pytest.raises(TenantIsolationError, match="tenant_id"):
            a.delete_nodes(filters=filters)
    with pytest.raises(TenantIsolationError):
        a.query(
            VectorStoreQuery(query_embedding=embed_model.get_query_embedding("x")),
            filter={"tenant_id": {"$eq": globex}},
        )
    with pytest.raises(TenantIsolationError):
        a.add([make_node(embed_model, "doc2", 0, "forged", tenant_id=globex)])

    g.delete("doc1")
    assert stored_ids(index, DEFAULT_SHARED_NAMESPACE) == sorted(
        [f"{acme}::doc1#0", f"{globex}::doc10#0"]
    )
    a.clear()
    assert stored_ids(index, DEFAULT_SHARED_NAMESPACE) == [f"{globex}::doc10#0"]


def test_results_of_another_tenant_are_refused(index, embed_model, tenants) -> None:
    """Defence in depth: a record carrying another tenant's mark never comes back."""
    acme, globex = tenants
    a = tenant_vector_store(index, acme, isolation="metadata")
    index.upsert(
        vectors=[
            {
                "id": f"{acme}::doc#0",
                "values": embed_model.get_text_embedding("planted"),
                "metadata": {"tenant_id": globex, "_node_content": "{}"},
            }
        ],
        namespace=DEFAULT_SHARED_NAMESPACE,
    )
    # the pin filters on tenant_id, so the server never returns it ...
    assert texts(ask(a, embed_model, "planted")) == []
    # ... and if a server ignored the filter, the post-check would refuse the match
    ignoring = _Proxy(index, query=lambda **kw: index.query(**{**kw, "filter": None}))
    a.pinned.index = ignoring
    with pytest.raises(TenantIsolationError, match="refusing"):
        ask(a, embed_model, "planted")


def test_delete_nodes_and_get_nodes_are_pinned(index, embed_model, tenants) -> None:
    acme, globex = tenants
    a = tenant_vector_store(index, acme)
    g = tenant_vector_store(index, globex)
    for store in (a, g):
        store.add(
            [
                make_node(embed_model, "d", 0, "red", color="red"),
                make_node(embed_model, "d", 1, "blue", color="blue"),
            ]
        )
    red = MetadataFilters(filters=[MetadataFilter(key="color", value="red")])
    assert [n.get_content() for n in a.get_nodes(filters=red)] == ["red"]
    a.delete_nodes(filters=red)
    assert stored_ids(index, acme) == ["d#1"]
    a.delete_nodes(node_ids=["d#1"])
    assert stored_ids(index, acme) == []
    assert stored_ids(index, globex) == ["d#0", "d#1"]
    with pytest.raises(ValueError, match="clear"):
        a.delete_nodes(filters=MetadataFilters(filters=[]))


def test_metadata_over_the_limit_writes_nothing(index, embed_model, tenants) -> None:
    store = tenant_vector_store(index, tenants[0])
    fine = make_node(embed_model, "big", 0, "small")
    huge = make_node(embed_model, "big", 1, "x" * 45_000)
    with pytest.raises(IngestError, match="'big'"):
        store.add([fine, huge])
    assert stored_ids(index, tenants[0]) == []


def test_ids_pinecone_would_reject_are_named_before_writing(index, embed_model, tenants) -> None:
    store = tenant_vector_store(index, tenants[0])
    orphan = make_node(embed_model, "x", 0, "no source document")
    orphan.relationships = {}
    orphan.id_ = "résumé.md"  # no ref_doc_id: the node id is the record id, and not ASCII
    with pytest.raises(IngestError, match="résumé.md"):
        store.add([make_node(embed_model, "ok", 0, "fine"), orphan])
    with pytest.raises(IngestError, match="at most 512"):
        store.add([make_node(embed_model, "d" * 600, 0, "long id")])
    assert stored_ids(index, tenants[0]) == []


def test_non_ascii_document_ids_are_escaped_like_ingestion(index, embed_model, tenants) -> None:
    """A document id Pinecone cannot store as given gets ingestion's record ids, not an error."""
    store = tenant_vector_store(index, tenants[0])
    assert store.add([make_node(embed_model, "résumé.md", 0, "x")]) == ["r%C3%A9sum%C3%A9.md#0"]
    store.delete("résumé.md")
    assert stored_ids(index, tenants[0]) == []


def test_a_failed_batch_leaves_none_of_the_call_behind(index, embed_model, tenants) -> None:
    store = tenant_vector_store(index, tenants[0], batch_size=1)
    real_upsert = index.upsert
    calls = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["vectors"][0]["id"])
        if len(calls) == 2:
            raise RuntimeError("injected failure")
        return real_upsert(*args, **kwargs)

    store.pinned.index = _Proxy(index, upsert=flaky)
    nodes = [make_node(embed_model, "doc", i, f"part {i}") for i in range(3)]
    with pytest.raises(RuntimeError, match="injected"):
        store.add(nodes)
    assert calls == ["doc#0", "doc#1"]
    assert stored_ids(index, tenants[0]) == []


def test_no_empty_filter_and_no_unpinned_stats_call(index, embed_model, tenants) -> None:
    """Upstream sends ``filter={}`` on every query and reads index-wide stats for the dimension."""
    store = tenant_vector_store(index, tenants[0])
    store.add([make_node(embed_model, "d", 0, "spied on", color="red")])
    sent: list[dict[str, Any]] = []

    def query_spy(**kwargs: Any) -> Any:
        sent.append(kwargs)
        return index.query(**kwargs)

    def no_stats(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("describe_index_stats() was called")

    store.pinned.index = _Proxy(index, query=query_spy, describe_index_stats=no_stats)
    ask(store, embed_model, "spied")
    red = MetadataFilters(filters=[MetadataFilter(key="color", value="red")])
    assert [n.get_content() for n in store.get_nodes(filters=red)] == ["spied on"]
    # no principal: the only filter is the access condition (never upstream's empty {})
    everyone = {"$or": [{"acl": {"$exists": False}}, {"acl": {"$in": ["!policy", "tenant"]}}]}
    assert sent[0]["filter"] == everyone
    assert sent[1]["filter"] == {"$and": [everyone, {"color": {"$eq": "red"}}]}
    assert all(kw["namespace"] == tenants[0] for kw in sent)
    admin = tenant_vector_store(index, tenants[0], principal=TENANT_ADMIN)
    admin.pinned.index = _Proxy(index, query=query_spy, describe_index_stats=no_stats)
    ask(admin, embed_model, "spied")
    assert "filter" not in sent[2], "the tenant admin's queries carry no filter at all"


def test_query_without_an_embedding_is_a_clear_error(index, embed_model) -> None:
    store = tenant_vector_store(index, "acme")
    with pytest.raises(ValueError, match="query_embedding"):
        store.query(VectorStoreQuery(query_str="hello"))
    with pytest.raises(ValueError, match="node_ids"):
        ask(store, embed_model, "x", node_ids=["a"])


def test_unsupported_dense_modes_still_search_by_the_embedding(index, embed_model, tenants) -> None:
    store = tenant_vector_store(index, tenants[0])
    store.add(
        [
            make_node(embed_model, "a", 0, "apples and pears"),
            make_node(embed_model, "b", 0, "rockets and fuel"),
        ]
    )
    result = ask(store, embed_model, "rockets fuel", k=1, mode=VectorStoreQueryMode.MMR)
    assert texts(result) == ["rockets and fuel"]


def test_usage_is_reported_per_tenant(index, embed_model, tenants, events) -> None:
    store = tenant_vector_store(index, tenants[0])
    store.add([make_node(embed_model, "d", 0, "metered")])
    ask(store, embed_model, "metered")
    ops = [(e.tenant, e.operation) for e in events]
    assert (tenants[0], "upsert") in ops and (tenants[0], "query") in ops
    query_event = next(e for e in events if e.operation == "query")
    assert query_event.read_units > 0
    assert all(e.tenant == tenants[0] for e in events)


async def test_async_methods_run_off_the_event_loop(index, embed_model, tenants) -> None:
    acme, globex = tenants
    store = tenant_vector_store(index, acme)
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real_query = index.query

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real_query(*args, **kwargs)

    store.pinned.index = _Proxy(index, query=spy)
    ids = await store.async_add([make_node(embed_model, "a", 0, "async alpha")])
    assert ids == ["a#0"]
    await tenant_vector_store(index, globex).async_add(
        [make_node(embed_model, "a", 0, "async beta")]
    )
    q = VectorStoreQuery(
        query_embedding=embed_model.get_query_embedding("alpha"), similarity_top_k=5
    )
    results = await asyncio.gather(store.aquery(q), store.aquery(q))
    assert [texts(r) for r in results] == [["async alpha"], ["async alpha"]]
    assert threads and loop_thread not in threads, "the SDK call ran on the event loop thread"
    red = MetadataFilters(filters=[MetadataFilter(key="doc_id", value="a")])
    assert [n.get_content() for n in await store.aget_nodes(filters=red)] == ["async alpha"]
    await store.adelete("a")
    assert stored_ids(index, acme) == []
    await store.async_add([make_node(embed_model, "b", 0, "again")])
    await store.adelete_nodes(node_ids=["b#0"])
    assert stored_ids(index, acme) == []
    await store.async_add([make_node(embed_model, "c", 0, "again")])
    await store.aclear()
    assert stored_ids(index, acme) == []
    assert stored_ids(index, globex) == ["a#0"]


class _Proxy:
    """The SDK index with some methods replaced (to inject faults or observe calls)."""

    def __init__(self, inner: Any, **overrides: Any) -> None:
        self._inner = inner
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
