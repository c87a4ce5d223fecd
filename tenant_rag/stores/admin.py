"""The one cross-tenant reader, for metadata isolation only, named as such.

Under ``isolation="metadata"`` every tenant lives in one shared namespace, so
an operator can search across all of them (support, audits, evaluation).
That capability must never be reachable by accident, so it exists only here,
under a name that says what it does: :func:`admin_cross_tenant_retriever`.

* It reads the shared namespace only; it refuses Pinecone's default
  namespace and has no way to read a namespace-isolated tenant's namespace
  other than naming it explicitly as ``shared_namespace``.
* Its filter may name the tenant field (that is the point: ``{"tenant_id":
  {"$in": ["acme", "globex"]}}``).
* Each document says whose it is: ``metadata["tenant_id"]`` is kept, the id
  is the caller-facing id (tenant prefix removed) and the stored id is in
  ``metadata["stored_id"]``; the raw score is in ``metadata["score"]``.

Do not hand this retriever to a tenant-facing chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores.utils import maximal_marginal_relevance
from pydantic import ConfigDict, model_validator

from tenant_rag.context import SCORE_KEY
from tenant_rag.errors import TenantIsolationError
from tenant_rag.stores.langchain import SEARCH_TYPES
from tenant_rag.tenancy.ids import DEFAULT_NAMESPACE_NAMES
from tenant_rag.tenancy.pinned import as_floats
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, TENANT_FIELD, TenantScope


class AdminCrossTenantRetriever(BaseRetriever):
    """Searches every tenant of a metadata-isolated shared namespace. Admin use only."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    embedding: Embeddings
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE
    k: int = 4
    search_type: str = "similarity"
    filter: dict[str, Any] | None = None
    fetch_k: int = 20
    lambda_mult: float = 0.5
    score_threshold: float | None = None
    text_key: str = "text"
    tenant_field: str = TENANT_FIELD

    @model_validator(mode="after")
    def _validate(self) -> AdminCrossTenantRetriever:
        if self.shared_namespace in DEFAULT_NAMESPACE_NAMES or not self.shared_namespace:
            raise TenantIsolationError(
                "the admin retriever reads a named shared namespace, never Pinecone's default "
                "namespace."
            )
        if self.search_type not in SEARCH_TYPES:
            raise ValueError(
                f"search_type must be one of {SEARCH_TYPES}, got {self.search_type!r}."
            )
        if self.search_type == "similarity_score_threshold" and self.score_threshold is None:
            raise ValueError("similarity_score_threshold needs score_threshold=<float in [0, 1]>.")
        return self

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        vector = as_floats(self.embedding.embed_query(query))
        mmr = self.search_type == "mmr"
        resp = self.index.query(
            vector=vector,
            top_k=max(self.fetch_k, self.k) if mmr else self.k,
            namespace=self.shared_namespace,
            filter=self.filter or None,
            include_metadata=True,
            include_values=mmr,
        )
        matches = [m for m in (resp.matches or []) if self.text_key in (m.metadata or {})]
        if mmr and matches:
            chosen = maximal_marginal_relevance(
                np.array([vector], dtype=np.float32),
                [list(m.values) for m in matches],
                k=self.k,
                lambda_mult=self.lambda_mult,
            )
            matches = [matches[i] for i in chosen]
        if self.search_type == "similarity_score_threshold":
            threshold = float(self.score_threshold or 0.0)
            matches = [m for m in matches if (float(m.score) + 1.0) / 2.0 >= threshold]
        return [self._document(m) for m in matches]

    def _document(self, match: Any) -> Document:
        metadata = dict(match.metadata or {})
        text = str(metadata.pop(self.text_key))
        stored_id = str(match.id)
        tenant = TenantScope.tenant_of_stored_id(stored_id)
        public_id = stored_id.partition("::")[2] if tenant is not None else stored_id
        metadata["stored_id"] = stored_id
        metadata[SCORE_KEY] = float(match.score)
        return Document(id=public_id, page_content=text, metadata=metadata)


def admin_cross_tenant_retriever(
    index: Any,
    embedding: Embeddings,
    *,
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    k: int = 4,
    search_type: str = "similarity",
    filter: Mapping[str, Any] | None = None,
    text_key: str = "text",
    tenant_field: str = TENANT_FIELD,
    **search_kwargs: Any,
) -> AdminCrossTenantRetriever:
    """A retriever over ALL tenants of a metadata-isolated index. Operators only.

    Reads ``shared_namespace`` (default ``"tenant-shared"``) without the
    tenant pin. ``filter`` may select tenants by ``tenant_field``. Search
    options: ``fetch_k`` and ``lambda_mult`` for ``"mmr"``,
    ``score_threshold`` for ``"similarity_score_threshold"`` (cosine
    relevance scale). Scores are reported in ``metadata["score"]`` (raw);
    the score threshold assumes a cosine index.
    """
    if "namespace" in search_kwargs:
        raise TenantIsolationError(
            "the admin retriever reads shared_namespace only; pass shared_namespace=..."
        )
    unknown = set(search_kwargs) - {"fetch_k", "lambda_mult", "score_threshold"}
    if unknown:
        raise TypeError(f"unexpected search arguments {sorted(unknown)}.")
    return AdminCrossTenantRetriever(
        index=index,
        embedding=embedding,
        shared_namespace=shared_namespace,
        k=k,
        search_type=search_type,
        filter=dict(filter) if filter else None,
        text_key=text_key,
        tenant_field=tenant_field,
        **search_kwargs,
    )


__all__ = ["AdminCrossTenantRetriever", "admin_cross_tenant_retriever"]
