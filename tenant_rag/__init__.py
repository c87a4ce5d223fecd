"""tenant_rag: per-tenant RAG on Pinecone that fails closed.

One serverless index per workload, one namespace per tenant, and every
upsert, query, update and delete pinned to exactly one tenant. With
``PINECONE_API_KEY`` unset everything runs on the embedded Pinecone-compatible
server (`tenant_rag.local`); with it set, on Pinecone serverless.

The public API is re-exported here lazily, so ``import tenant_rag`` stays
cheap (the CLI's ``serve`` and the embedded server never import LangChain or
LlamaIndex) while ``from tenant_rag import tenant_retriever`` still works.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "TenantRagError": "tenant_rag.errors",
    "InvalidTenantError": "tenant_rag.errors",
    "TenantIsolationError": "tenant_rag.errors",
    "IndexMismatchError": "tenant_rag.errors",
    "ConfigurationError": "tenant_rag.errors",
    "QuotaExceededError": "tenant_rag.errors",
    "IngestError": "tenant_rag.errors",
    "InvalidAclError": "tenant_rag.errors",
    "AccessControlError": "tenant_rag.errors",
    "PortabilityError": "tenant_rag.errors",
    "UnknownTenantError": "tenant_rag.errors",
    "UnknownDocumentError": "tenant_rag.errors",
    # tenant ids and scope
    "validate_tenant": "tenant_rag.tenancy.ids",
    "tenant_id_for": "tenant_rag.tenancy.ids",
    "TenantScope": "tenant_rag.tenancy.scope",
    "PinnedIndex": "tenant_rag.tenancy.pinned",
    # access lists inside a tenant
    "Principal": "tenant_rag.tenancy.acl",
    "TENANT_ADMIN": "tenant_rag.tenancy.acl",
    "acl_for": "tenant_rag.tenancy.acl",
    "set_acl": "tenant_rag.ingestion.access",
    "document_acl": "tenant_rag.ingestion.access",
    "set_acl_policy": "tenant_rag.lifecycle.access",
    "acl_policy": "tenant_rag.lifecycle.access",
    # connection
    "connect": "tenant_rag.connection",
    "ensure_index": "tenant_rag.connection",
    # default models
    "default_embeddings": "tenant_rag.models.embeddings",
    "default_llm": "tenant_rag.models.llm",
    "index_embeddings": "tenant_rag.models.embeddings",
    "LocalMiniLMEmbeddings": "tenant_rag.models.embeddings",
    "ExtractiveAnswerer": "tenant_rag.models.llm",
    # LangChain stores and retrievers
    "TenantPineconeVectorStore": "tenant_rag.stores.langchain",
    "tenant_vector_store": "tenant_rag.stores.langchain",
    "tenant_retriever": "tenant_rag.stores.langchain",
    "PerRequestTenantRetriever": "tenant_rag.stores.per_request",
    "per_request_retriever": "tenant_rag.stores.per_request",
    "admin_cross_tenant_retriever": "tenant_rag.stores.admin",
    # chains
    "rag_chain": "tenant_rag.chains.rag",
    "per_request_rag_chain": "tenant_rag.chains.rag",
    # ingestion
    "ingest": "tenant_rag.ingestion.pipeline",
    "IngestReport": "tenant_rag.ingestion.report",
    "delete_document": "tenant_rag.ingestion.pipeline",
    # lifecycle and operations
    "onboard": "tenant_rag.lifecycle.tenants",
    "offboard": "tenant_rag.lifecycle.tenants",
    "list_tenants": "tenant_rag.lifecycle.tenants",
    "tenant_stats": "tenant_rag.lifecycle.tenants",
    "update_record": "tenant_rag.lifecycle.tenants",
    "erase": "tenant_rag.lifecycle.erasure",
    "DeletionReceipt": "tenant_rag.lifecycle.erasure",
    # portability (issue 13): export, import, copy, move, re-embed; the routing table
    "export_tenant": "tenant_rag.lifecycle.portability",
    "import_tenant": "tenant_rag.lifecycle.portability",
    "copy_tenant": "tenant_rag.lifecycle.portability",
    "move_tenant": "tenant_rag.lifecycle.portability",
    "migrate_isolation": "tenant_rag.lifecycle.portability",
    "reembed_tenant": "tenant_rag.lifecycle.portability",
    "RoutingTable": "tenant_rag.tenancy.routing",
    "list_documents": "tenant_rag.lifecycle.documents",
    "UsageMeter": "tenant_rag.lifecycle.metering",
    "Quotas": "tenant_rag.lifecycle.metering",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


#: Names that left the root namespace, and where they live now.
_MOVED = {
    "HashingTestEmbeddings": "tenant_rag.models.hashing (a test-only embedding, not public API)",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if name in _MOVED:
            raise AttributeError(f"tenant_rag.{name} moved: import it from {_MOVED[name]}.")
        raise AttributeError(f"module 'tenant_rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from tenant_rag.chains.rag import (
        per_request_rag_chain,
        rag_chain,
    )
    from tenant_rag.connection import connect, ensure_index
    from tenant_rag.errors import (
        AccessControlError,
        ConfigurationError,
        IndexMismatchError,
        IngestError,
        InvalidAclError,
        InvalidTenantError,
        PortabilityError,
        QuotaExceededError,
        TenantIsolationError,
        TenantRagError,
        UnknownDocumentError,
        UnknownTenantError,
    )
    from tenant_rag.ingestion.access import document_acl, set_acl
    from tenant_rag.ingestion.pipeline import delete_document, ingest
    from tenant_rag.ingestion.report import IngestReport
    from tenant_rag.lifecycle.access import acl_policy, set_acl_policy
    from tenant_rag.lifecycle.documents import list_documents
    from tenant_rag.lifecycle.erasure import DeletionReceipt, erase
    from tenant_rag.lifecycle.metering import Quotas, UsageMeter
    from tenant_rag.lifecycle.portability import (
        copy_tenant,
        export_tenant,
        import_tenant,
        migrate_isolation,
        move_tenant,
        reembed_tenant,
    )
    from tenant_rag.lifecycle.tenants import (
        list_tenants,
        offboard,
        onboard,
        tenant_stats,
        update_record,
    )
    from tenant_rag.models.embeddings import (
        LocalMiniLMEmbeddings,
        default_embeddings,
        index_embeddings,
    )
    from tenant_rag.models.llm import (
        ExtractiveAnswerer,
        default_llm,
    )
    from tenant_rag.stores.admin import admin_cross_tenant_retriever
    from tenant_rag.stores.langchain import (
        TenantPineconeVectorStore,
        tenant_retriever,
        tenant_vector_store,
    )
    from tenant_rag.stores.per_request import (
        PerRequestTenantRetriever,
        per_request_retriever,
    )
    from tenant_rag.tenancy.acl import TENANT_ADMIN, Principal, acl_for
    from tenant_rag.tenancy.ids import (
        tenant_id_for,
        validate_tenant,
    )
    from tenant_rag.tenancy.pinned import PinnedIndex
    from tenant_rag.tenancy.routing import RoutingTable
    from tenant_rag.tenancy.scope import TenantScope
