"""Default models: embeddings and chat, OpenAI-compatible when configured, else local.

* :func:`default_embeddings` / :func:`embedding_dimension` - LangChain embeddings;
  :class:`LocalMiniLMEmbeddings` (offline, 384-d) and
  :class:`HashingTestEmbeddings` (tests and benchmarks only).
* :func:`default_llm` - LangChain chat model; :class:`ExtractiveAnswerer` when
  no LLM is configured.
* :func:`default_embed_model` / :func:`default_llamaindex_llm` - the same
  choices as LlamaIndex objects (imported lazily: LlamaIndex is slow to import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tenant_rag.models.embeddings import (
    HashingTestEmbeddings,
    LocalMiniLMEmbeddings,
    ModelIntegrityError,
    default_embeddings,
    embedding_dimension,
    embedding_model_name,
    embeddings_named,
    index_embeddings,
    shared_local_embeddings,
)
from tenant_rag.models.llm import ExtractiveAnswerer, default_llm

_LAZY = {
    "OpenAIEmbeddingsWithDimension": "tenant_rag.models.openai_embeddings",
    "default_embed_model": "tenant_rag.models.llamaindex",
    "default_llamaindex_llm": "tenant_rag.models.llamaindex",
    "LangChainChatLLM": "tenant_rag.models.llamaindex",
}

__all__ = [
    "ExtractiveAnswerer",
    "HashingTestEmbeddings",
    "LangChainChatLLM",
    "LocalMiniLMEmbeddings",
    "ModelIntegrityError",
    "OpenAIEmbeddingsWithDimension",
    "default_embed_model",
    "default_embeddings",
    "default_llamaindex_llm",
    "default_llm",
    "embedding_dimension",
    "embedding_model_name",
    "embeddings_named",
    "index_embeddings",
    "shared_local_embeddings",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tenant_rag.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from tenant_rag.models.llamaindex import (
        LangChainChatLLM,
        default_embed_model,
        default_llamaindex_llm,
    )
    from tenant_rag.models.openai_embeddings import OpenAIEmbeddingsWithDimension
