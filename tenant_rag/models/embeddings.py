"""The default embedding model, and how to learn any model's dimension.

``default_embeddings()`` picks OpenAI (or any OpenAI-compatible server) when
``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` is set, else the offline local model.
Whatever it returns exposes ``.dimension`` so ``ensure_index`` can size the
index before anything is embedded; :func:`embedding_dimension` answers the
same question for any LangChain ``Embeddings``.

The local model lives in :mod:`tenant_rag.models.local_minilm` and the test
embedding in :mod:`tenant_rag.models.hashing`; both are re-exported here.
"""

from __future__ import annotations

import os
import sys
import threading

from langchain_core.embeddings import Embeddings

from tenant_rag.models._openai import openai_settings
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.models.local_minilm import LocalMiniLMEmbeddings, ModelIntegrityError

__all__ = [
    "HashingTestEmbeddings",
    "LocalMiniLMEmbeddings",
    "ModelIntegrityError",
    "default_embeddings",
    "embedding_dimension",
    "shared_local_embeddings",
]

EMBEDDING_MODEL_ENV = "TENANT_RAG_EMBEDDING_MODEL"
DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
_PROBE_TEXT = "dimension probe"

_SHARED_LOCAL: LocalMiniLMEmbeddings | None = None
_SHARED_LOCK = threading.Lock()


def shared_local_embeddings() -> LocalMiniLMEmbeddings:
    """The process-wide :class:`LocalMiniLMEmbeddings` (not loaded until used)."""
    global _SHARED_LOCAL
    with _SHARED_LOCK:
        if _SHARED_LOCAL is None:
            _SHARED_LOCAL = LocalMiniLMEmbeddings()
        return _SHARED_LOCAL


def default_embeddings() -> Embeddings:
    """OpenAI-compatible embeddings when configured, else the local MiniLM.

    With ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` set: OpenAI embeddings, model
    ``$TENANT_RAG_EMBEDDING_MODEL`` (default ``text-embedding-3-small``, 1536-d).
    Against a custom base URL texts are sent as strings (LangChain's tiktoken
    pre-tokenisation is switched off: many compatible servers reject token
    arrays, and it would fetch a tokenizer file over the network). Otherwise
    the shared offline :class:`LocalMiniLMEmbeddings` (384-d). The environment
    is read on each call, so tests and apps can switch by setting variables.
    """
    settings = openai_settings()
    if settings is None:
        return shared_local_embeddings()
    # Imported here: langchain_openai takes about 1.5 s to import.
    from tenant_rag.models.openai_embeddings import OpenAIEmbeddingsWithDimension

    model = os.environ.get(EMBEDDING_MODEL_ENV, "").strip() or DEFAULT_OPENAI_EMBEDDING_MODEL
    return OpenAIEmbeddingsWithDimension(
        model=model,
        api_key=settings.api_key,  # type: ignore[arg-type]
        base_url=settings.base_url,
        check_embedding_ctx_length=not settings.custom_server,
    )


def embedding_dimension(embeddings: Embeddings) -> int:
    """The vector size ``embeddings`` produces, without a request when knowable.

    Uses an integer ``.dimension`` attribute when present (all of tenant_rag's
    models), then OpenAI's ``dimensions=`` or known model sizes, and as a last
    resort embeds one short string and measures it.
    """
    dimension = getattr(embeddings, "dimension", None)
    if isinstance(dimension, int) and not isinstance(dimension, bool):
        return dimension
    openai_module = sys.modules.get("langchain_openai")  # not imported: not an instance
    if openai_module is not None and isinstance(embeddings, openai_module.OpenAIEmbeddings):
        from tenant_rag.models.openai_embeddings import known_openai_dimension

        known = known_openai_dimension(embeddings)
        if known is not None:
            return known
    return len(embeddings.embed_query(_PROBE_TEXT))
