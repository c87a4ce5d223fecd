"""LangChain vector stores and retrievers pinned to one tenant (imported lazily)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TenantPineconeVectorStore": "tenant_rag.stores.langchain",
    "TenantVectorStoreRetriever": "tenant_rag.stores.langchain",
    "tenant_vector_store": "tenant_rag.stores.langchain",
    "tenant_retriever": "tenant_rag.stores.langchain",
    "PerRequestTenantRetriever": "tenant_rag.stores.per_request",
    "per_request_retriever": "tenant_rag.stores.per_request",
    "AdminCrossTenantRetriever": "tenant_rag.stores.admin",
    "admin_cross_tenant_retriever": "tenant_rag.stores.admin",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenant_rag.stores' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
