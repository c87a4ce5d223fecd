"""Private names of llama-index-vector-stores-pinecone (0.9.0) that the LlamaIndex store uses.

* ``_to_pinecone_filter``: LlamaIndex ``MetadataFilters`` -> a Pinecone filter
  dict, exactly as upstream translates them (operators, nesting, ``$and``/``$or``).
* ``_sparse_embedding_model``: the store's sparse model (set by upstream's
  constructor when ``add_sparse_vector=True``), for hybrid upserts and queries.
* ``_pinecone_index``: where upstream keeps the SDK handle. tenant_rag hands
  upstream a namespace-guarded handle, never the raw one; the canary checks
  that this attribute is that guarded handle, so an upstream method we do not
  override cannot reach another namespace through it.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores.types import MetadataFilters
from llama_index.vector_stores.pinecone.base import _to_pinecone_filter

#: The attribute upstream's store keeps its SDK handle under.
PINECONE_INDEX_ATTR = "_pinecone_index"


def to_pinecone_filter(filters: MetadataFilters) -> dict[str, Any]:
    """``filters`` as a Pinecone metadata filter, translated as upstream does."""
    return dict(_to_pinecone_filter(filters))


def sparse_embedding_model(store: Any) -> Any:
    """The store's sparse embedding model, or None."""
    return getattr(store, "_sparse_embedding_model", None)


def upstream_handle(store: Any) -> Any:
    """The handle upstream's own methods use (tenant_rag passes a guarded one)."""
    return getattr(store, PINECONE_INDEX_ATTR, None)
