"""The public API, pinned: what ``tenant_rag`` exports, and the signatures users call most.

A change to either is a change for every user; this test makes it a
deliberate one (update the pin, the README and the release notes together).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import tenant_rag

EXPORTS = [
    "AccessControlError",
    "ConfigurationError",
    "DeletionReceipt",
    "ExtractiveAnswerer",
    "IndexMismatchError",
    "IngestError",
    "IngestReport",
    "InvalidAclError",
    "InvalidTenantError",
    "LocalMiniLMEmbeddings",
    "PerRequestTenantRetriever",
    "PinnedIndex",
    "PortabilityError",
    "Principal",
    "QuotaExceededError",
    "Quotas",
    "RoutingTable",
    "TENANT_ADMIN",
    "TenantIsolationError",
    "TenantPineconeVectorStore",
    "TenantRagError",
    "TenantScope",
    "UnknownDocumentError",
    "UnknownTenantError",
    "UsageMeter",
    "__version__",
    "acl_for",
    "acl_policy",
    "admin_cross_tenant_retriever",
    "connect",
    "copy_tenant",
    "default_embeddings",
    "default_llm",
    "delete_document",
    "document_acl",
    "ensure_index",
    "erase",
    "export_tenant",
    "import_tenant",
    "index_embeddings",
    "ingest",
    "list_documents",
    "list_tenants",
    "migrate_isolation",
    "move_tenant",
    "offboard",
    "onboard",
    "per_request_rag_chain",
    "per_request_retriever",
    "rag_chain",
    "reembed_tenant",
    "set_acl",
    "set_acl_policy",
    "tenant_id_for",
    "tenant_retriever",
    "tenant_stats",
    "tenant_vector_store",
    "update_record",
    "validate_tenant",
]

P, K, V, KW = "positional", "keyword-only", "*args", "**kwargs"
#: name -> [(parameter, kind, default)], ``...`` for "no default".
SIGNATURES: dict[str, list[tuple[str, str, Any]]] = {
    "tenant_retriever": [
        ("index", P, ...),
        ("tenant", P, ...),
        ("embedding", P, ...),
        ("k", K, 4),
        ("search_type", K, "similarity"),
        ("filter", K, None),
        ("isolation", K, "namespace"),
        ("text_key", K, "text"),
        ("shared_namespace", K, "tenant-shared"),
        ("tenant_field", K, "tenant_id"),
        ("principal", K, None),  # issue 14: who reads inside the tenant
        ("acl_policy", K, None),
        ("search_kwargs", KW, ...),
    ],
    "tenant_vector_store": [
        ("index", P, ...),
        ("tenant", P, ...),
        ("embedding", P, ...),
        ("isolation", K, "namespace"),
        ("text_key", K, "text"),
        ("principal", K, None),  # issue 14
        ("kwargs", KW, ...),
    ],
    "ingest": [
        ("index", P, ...),
        ("tenant", P, ...),
        ("sources", P, ...),
        ("embedding", K, ...),
        ("splitter", K, None),
        ("chunk_size", K, 1000),
        ("chunk_overlap", K, 150),
        ("sync", K, False),
        ("isolation", K, "namespace"),
        ("progress", K, True),
        ("root", K, None),
        ("batch_size", K, 1000),
        ("max_batch_bytes", K, 2 * 1024 * 1024 - 256 * 1024),
        ("embed_batch_size", K, 256),
        ("wave_chunks", K, 512),
        ("writers", K, None),
        ("retry", K, None),
        ("on_conflict", K, "refuse"),  # issue 12: another source's document is not replaced
        ("doc_id_prefix", K, ""),
        ("origin", K, None),
        ("acl", K, None),  # issue 14: the run's access list
        ("acl_sidecars", K, True),
    ],
    "offboard": [
        ("tenant", P, ...),
        ("indexes", V, ...),
        ("isolation", K, "namespace"),
        ("shared_namespace", K, "tenant-shared"),
        ("wait", K, 30.0),
        ("pc", K, None),
        ("raise_if_unverified", K, True),
        ("audit_log", K, None),  # issue 13: the receipt is appended to an audit log
    ],
    "connect": [("grpc", K, False)],
    "ensure_index": [
        ("pc", P, ...),
        ("name", P, ...),
        ("dimension", K, None),
        ("embedding", K, None),
        ("metric", K, "cosine"),
        ("cloud", K, "aws"),
        ("region", K, "us-east-1"),
        ("deletion_protection", K, "disabled"),
        ("tags", K, None),
        ("ready_timeout", K, 300.0),
    ],
}
_KINDS = {
    inspect.Parameter.POSITIONAL_OR_KEYWORD: P,
    inspect.Parameter.KEYWORD_ONLY: K,
    inspect.Parameter.VAR_POSITIONAL: V,
    inspect.Parameter.VAR_KEYWORD: KW,
}


def test_all_is_exactly_what_the_package_exports() -> None:
    assert sorted(tenant_rag.__all__) == sorted(EXPORTS)
    for name in tenant_rag.__all__:
        assert getattr(tenant_rag, name) is not None, name
    plumbing = {"annotations", "importlib", "Any", "TYPE_CHECKING"}
    public = {
        n
        for n in dir(tenant_rag)
        if not n.startswith("_")
        and n not in plumbing
        and not inspect.ismodule(getattr(tenant_rag, n))  # subpackages, once imported
    }
    assert public - set(EXPORTS) == set(), "public names outside __all__"


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signatures_and_defaults_are_pinned(name: str) -> None:
    params = inspect.signature(getattr(tenant_rag, name)).parameters.values()
    found = [
        (p.name, _KINDS[p.kind], ... if p.default is inspect.Parameter.empty else p.default)
        for p in params
    ]
    assert found == SIGNATURES[name]


def test_hashing_embeddings_left_the_root_namespace() -> None:
    assert "HashingTestEmbeddings" not in tenant_rag.__all__
    with pytest.raises(AttributeError, match="tenant_rag.models.hashing"):
        tenant_rag.HashingTestEmbeddings  # noqa: B018
    from tenant_rag.models.hashing import HashingTestEmbeddings

    assert HashingTestEmbeddings(dimension=8).embed_query("x")
