"""A tenant's `VectorStoreIndex`, query engine and chat engine.

Each is a plain LlamaIndex object over a :class:`TenantPineconeVectorStore`,
so retrieval can only ever see the tenant's records, whatever filters or
retriever options the caller adds. Models are always passed explicitly
(see `tenant_rag.llamaindex.resolve`), so LlamaIndex's global ``Settings``
(OpenAI by default) are never consulted.
"""

from __future__ import annotations

from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.chat_engine.types import BaseChatEngine, ChatMode

from tenant_rag.llamaindex.resolve import resolve_embed_model, resolve_llm
from tenant_rag.llamaindex.splitting import default_splitter
from tenant_rag.llamaindex.store import TenantPineconeVectorStore, tenant_vector_store
from tenant_rag.tenancy.acl import Reader
from tenant_rag.tenancy.scope import Isolation, TenantScope

#: Passages retrieved per question unless the caller says otherwise.
DEFAULT_TOP_K = 4


def tenant_index(
    index: Any,
    tenant: str | TenantScope,
    *,
    embed_model: Any = None,
    isolation: Isolation = "namespace",
    principal: Reader = None,
    **store_kwargs: Any,
) -> VectorStoreIndex:
    """A `VectorStoreIndex` over ``tenant``'s records in ``index``, read for ``principal``.

    ``insert()`` chunks with stable ids (``{doc_id}#{n}``) and
    ``delete_ref_doc()`` deletes exactly that document's chunks.
    Retrieval sees what ``principal`` may read (`tenant_rag.tenancy.acl`;
    ``None``: what everyone in the tenant may read, ``TENANT_ADMIN``: all).
    ``store_kwargs`` go to :func:`tenant_vector_store`.
    """
    store = tenant_vector_store(
        index, tenant, isolation=isolation, principal=principal, **store_kwargs
    )
    return index_over(store, embed_model=embed_model)


def index_over(store: TenantPineconeVectorStore, *, embed_model: Any = None) -> VectorStoreIndex:
    """A `VectorStoreIndex` over an already pinned store, with explicit models."""
    return VectorStoreIndex.from_vector_store(
        store,
        embed_model=resolve_embed_model(embed_model),
        transformations=[default_splitter()],
    )


def tenant_query_engine(
    index: Any,
    tenant: str | TenantScope,
    *,
    llm: Any = None,
    embed_model: Any = None,
    isolation: Isolation = "namespace",
    principal: Reader = None,
    store_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> BaseQueryEngine:
    """A query engine answering from ``tenant``'s documents only.

    ``kwargs`` go to ``VectorStoreIndex.as_query_engine`` (``similarity_top_k``,
    ``filters=MetadataFilters(...)``, ``response_mode``, ...); filters narrow
    the tenant's records and never widen them. ``principal`` decides which
    documents inside the tenant it may draw on (`tenant_rag.tenancy.acl`).
    ``llm`` defaults to the project's default model, never LlamaIndex's
    OpenAI default.
    """
    vindex = tenant_index(
        index,
        tenant,
        embed_model=embed_model,
        isolation=isolation,
        principal=principal,
        **(store_kwargs or {}),
    )
    _refuse_namespace(vindex, kwargs)
    kwargs.setdefault("similarity_top_k", DEFAULT_TOP_K)
    return vindex.as_query_engine(llm=resolve_llm(llm), **kwargs)


def tenant_chat_engine(
    index: Any,
    tenant: str | TenantScope,
    *,
    llm: Any = None,
    embed_model: Any = None,
    isolation: Isolation = "namespace",
    chat_mode: ChatMode | str = ChatMode.CONTEXT,
    principal: Reader = None,
    store_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> BaseChatEngine:
    """A chat engine that retrieves from ``tenant``'s documents only.

    ``chat_mode`` defaults to ``"context"`` (retrieve for each message, one
    LLM call per turn), which works with the local extractive model too;
    ``"condense_plus_context"`` suits a real LLM. ``"simple"`` (no retrieval)
    is refused: it would not be a tenant RAG engine at all. ``principal``
    decides which documents inside the tenant it may draw on.
    """
    mode = ChatMode(chat_mode)
    if mode == ChatMode.SIMPLE:
        raise ValueError("chat_mode='simple' never retrieves; use 'context' or similar.")
    vindex = tenant_index(
        index,
        tenant,
        embed_model=embed_model,
        isolation=isolation,
        principal=principal,
        **(store_kwargs or {}),
    )
    _refuse_namespace(vindex, kwargs)
    kwargs.setdefault("similarity_top_k", DEFAULT_TOP_K)
    return vindex.as_chat_engine(chat_mode=mode, llm=resolve_llm(llm), **kwargs)


def _refuse_namespace(vindex: VectorStoreIndex, kwargs: dict[str, Any]) -> None:
    store = vindex.vector_store
    assert isinstance(store, TenantPineconeVectorStore)
    store.scope.check_namespace_kwarg(kwargs, where="the engine's arguments")
