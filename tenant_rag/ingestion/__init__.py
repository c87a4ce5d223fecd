"""Tenant ingestion: load, chunk, embed and upsert a tenant's documents, idempotently.

``ingest(index, tenant, sources, embedding=...)`` returns an `IngestReport`;
``delete_document(index, tenant, doc_id)`` deletes exactly one document;
``set_acl(index, tenant, doc_id, acl)`` changes who may read it (metadata only).
See `tenant_rag.ingestion.pipeline` for the design (the index is the only
state; chunk ``#0`` commits a document's version).
"""

from __future__ import annotations

from pathlib import Path

from tenant_rag.ingestion.access import document_acl, set_acl
from tenant_rag.ingestion.pipeline import delete_document, ingest
from tenant_rag.ingestion.report import IngestReport
from tenant_rag.tenancy.retry import RetryPolicy


def sample_corpus() -> Path:
    """The sample corpus shipped with tenant_rag: one folder per tenant, plus ``questions.json``."""
    return Path(__file__).resolve().parent.parent / "data" / "sample"


__all__ = [
    "IngestReport",
    "RetryPolicy",
    "delete_document",
    "document_acl",
    "ingest",
    "sample_corpus",
    "set_acl",
]
