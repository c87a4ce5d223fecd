"""Every public method of both upstream ``PineconeVectorStore``s is overridden or reviewed.

The tenant stores subclass the real integration classes, so a method upstream
adds in a later release is inherited as is. Under metadata isolation the
namespace guard pins only the shared namespace: an inherited method that sends
its own request could read or delete across tenants. So each public name of
the upstream class (and of its vector-store bases) must either be defined by
our pinned class or be listed below with the reason it is safe. An upstream
addition, or a removal, makes this test fail until someone reviews it.

Names inherited from ``pydantic.BaseModel`` (the LlamaIndex store is a
pydantic model: validation, copying, schema) send no request and are not
listed one by one; ``test_copies_stay_pinned`` covers the ones that build an
instance.
"""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import pydantic
import pytest
from langchain_pinecone import PineconeVectorStore as UpstreamLangChain
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.pinecone import PineconeVectorStore as UpstreamLlamaIndex

from tenant_rag.connection import ensure_index
from tenant_rag.llamaindex.store import TenantPineconeVectorStore as LlamaIndexStore
from tenant_rag.llamaindex.store import tenant_vector_store as li_store
from tenant_rag.local import LocalServer
from tenant_rag.stores.langchain import TenantPineconeVectorStore as LangChainStore

#: Reviewed: inherited as is, and why that cannot leave the tenant's pin.
LANGCHAIN_REVIEWED = {
    "add_documents": "calls self.add_texts (pinned)",
    "aadd_documents": "calls self.aadd_texts (pinned)",
    "from_documents": "calls cls.from_texts (pinned; needs index= and tenant=)",
    "afrom_documents": "calls cls.afrom_texts (pinned; needs index= and tenant=)",
    "search": "dispatches to similarity_search / max_marginal_relevance_search / "
    "similarity_search_with_relevance_scores (all pinned)",
    "asearch": "dispatches to their async forms (all pinned)",
    "embeddings": "returns the embedding model; no request",
}
LLAMAINDEX_REVIEWED = {
    "custom_model_dump": "serialises the store's fields; no request",
    "dict": "serialises the store's fields; no request",
    "json": "serialises the store's fields; no request",
    "to_dict": "serialises the store's fields; no request",
    "to_json": "serialises the store's fields; no request",
    "from_dict": "cls(**data): our constructor refuses data without an index handle and tenant",
    "from_json": "cls(**data): our constructor refuses data without an index handle and tenant",
    "persist": "a no-op for vector stores; no request",
}


def _public(cls: type) -> set[str]:
    """Public callables, properties and class/static methods of ``cls`` not from pydantic."""
    names = set()
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next(k for k in cls.__mro__ if name in vars(k))
        if owner.__module__.startswith("pydantic"):
            continue
        attr = inspect.getattr_static(cls, name)
        if callable(attr) or isinstance(attr, classmethod | staticmethod | property | dict):
            names.add(name)
    return names


def _overridden(ours: type, upstream: type) -> set[str]:
    """Names defined by our class or a class of ours between it and upstream."""
    mine = [k for k in ours.__mro__ if k not in upstream.__mro__]
    return {name for k in mine for name in vars(k)}


@pytest.mark.parametrize(
    "ours, upstream, reviewed",
    [
        (LangChainStore, UpstreamLangChain, LANGCHAIN_REVIEWED),
        (LlamaIndexStore, UpstreamLlamaIndex, LLAMAINDEX_REVIEWED),
    ],
    ids=["langchain", "llamaindex"],
)
def test_every_upstream_method_is_overridden_or_reviewed(
    ours: type, upstream: type, reviewed: dict[str, str]
) -> None:
    inherited = _public(upstream) - _overridden(ours, upstream)
    assert sorted(inherited - set(reviewed)) == [], "new upstream methods: override or review"
    assert sorted(set(reviewed) - inherited) == [], "reviewed names now overridden or gone"


def test_the_surface_check_can_fail() -> None:
    """A method upstream has and we neither override nor review is reported."""

    class Upstream:
        def query(self) -> None: ...

        def fetch_all(self) -> None: ...

    class Ours(Upstream):
        def query(self) -> None: ...

    assert _public(Upstream) - _overridden(Ours, Upstream) == {"fetch_all"}


@pytest.fixture(scope="module")
def index(shared_local_server: LocalServer) -> Any:
    return ensure_index(shared_local_server.client(), f"srf-{uuid.uuid4().hex[:10]}", dimension=4)


def test_copies_stay_pinned_and_bare_instances_fail_closed(index: Any) -> None:
    """pydantic's constructors without __init__, and its copies, never yield an unpinned store."""
    store = li_store(index, "acme", isolation="metadata")
    copied = store.model_copy()
    assert copied.pinned.tenant == "acme" and copied.scope.isolation == "metadata"
    with pytest.raises(TypeError, match="index handle and a tenant"):
        LlamaIndexStore.from_params(api_key="k", index_name="rag")
    bare = LlamaIndexStore.model_construct()
    with pytest.raises((AttributeError, pydantic.ValidationError, TypeError)):
        bare.query(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0, 0.0], similarity_top_k=1))
