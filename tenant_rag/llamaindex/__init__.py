"""LlamaIndex integration: a pinned Pinecone store, ingestion pipeline, index and engines.

Everything here is pinned to one tenant when it is built, with the same
fail-closed rules as the LangChain side (see docs/design.md), and is built
with explicit models, never LlamaIndex's global OpenAI defaults.
"""

from tenant_rag.llamaindex.engines import (
    index_over,
    tenant_chat_engine,
    tenant_index,
    tenant_query_engine,
)
from tenant_rag.llamaindex.pipeline import (
    TenantIngestionPipeline,
    tenant_dirname,
    tenant_ingestion_pipeline,
)
from tenant_rag.llamaindex.resolve import resolve_embed_model, resolve_llm
from tenant_rag.llamaindex.splitting import default_splitter, split_sentences, stable_chunk_id
from tenant_rag.llamaindex.store import TenantPineconeVectorStore, tenant_vector_store

__all__ = [
    "TenantIngestionPipeline",
    "TenantPineconeVectorStore",
    "default_splitter",
    "index_over",
    "resolve_embed_model",
    "resolve_llm",
    "split_sentences",
    "stable_chunk_id",
    "tenant_chat_engine",
    "tenant_dirname",
    "tenant_index",
    "tenant_ingestion_pipeline",
    "tenant_query_engine",
    "tenant_vector_store",
]
