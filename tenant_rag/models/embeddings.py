"""The embedding model: which one to use, what it is called, and which built an index.

Choosing the embedding model is its own decision, separate from the chat
model: ``TENANT_RAG_EMBEDDING_MODEL`` names it, and unset means the offline
local model (all-MiniLM-L6-v2, 384-d). Setting ``OPENAI_API_KEY`` alone
changes the chat model only. A name other than the local model's is an
OpenAI-compatible model (``text-embedding-3-small``, or whatever an Ollama or
vLLM server serves), reached with ``TENANT_RAG_EMBEDDING_BASE_URL``/
``TENANT_RAG_EMBEDDING_API_KEY`` or the shared ``OPENAI_*`` variables.

An index remembers its model: ``ensure_index(pc, name, embedding=emb)``
records `embedding_model_name` in the index's tags when it creates it, and
:func:`index_embeddings` gives back that model for queries, so a later change
of environment cannot make queries embed with another model. Whatever these
functions return exposes ``.dimension``; :func:`embedding_dimension` answers
the same question for any LangChain ``Embeddings``.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from langchain_core.embeddings import Embeddings

from tenant_rag.models._openai import openai_settings
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.models.local_minilm import MODEL_NAME as LOCAL_MODEL_NAME
from tenant_rag.models.local_minilm import LocalMiniLMEmbeddings, ModelIntegrityError

__all__ = [
    "HashingTestEmbeddings",
    "LocalMiniLMEmbeddings",
    "ModelIntegrityError",
    "default_embeddings",
    "embedding_dimension",
    "embedding_model_name",
    "embeddings_named",
    "index_embeddings",
    "shared_local_embeddings",
]

EMBEDDING_MODEL_ENV = "TENANT_RAG_EMBEDDING_MODEL"
DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
#: names that mean the local model in TENANT_RAG_EMBEDDING_MODEL (compared case-insensitively)
LOCAL_ALIASES = frozenset(
    {"local", "minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
    | {LOCAL_MODEL_NAME.lower()}
)
_HASHING_PREFIX = "hashing-test-"
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
    """The model ``TENANT_RAG_EMBEDDING_MODEL`` names; unset: the shared local MiniLM.

    For an existing index use :func:`index_embeddings`, which returns the
    model the index was built with. The environment is read on each call, so
    tests and apps can switch by setting variables.
    """
    name = os.environ.get(EMBEDDING_MODEL_ENV, "").strip()
    return embeddings_named(name) if name else shared_local_embeddings()


def embeddings_named(name: str, *, dimension: int | None = None) -> Embeddings:
    """The embedding model called ``name`` (as `embedding_model_name` reports it, or an alias).

    * the local model (``all-MiniLM-L6-v2``, ``local``): the shared
      :class:`LocalMiniLMEmbeddings`;
    * ``hashing-test-N``: :class:`HashingTestEmbeddings` (tests only);
    * anything else: an OpenAI-compatible model of that name. Against a
      custom base URL texts are sent as strings (LangChain's tiktoken
      pre-tokenisation is off: many compatible servers reject token arrays,
      and it would fetch a tokenizer over the network). ``dimension`` is sent
      as ``dimensions=`` to OpenAI's ``text-embedding-3-*`` models when it
      differs from their native size.

    Raises ``ConfigurationError`` for a remote model with no OpenAI-compatible
    service configured.
    """
    from tenant_rag.errors import ConfigurationError

    key = name.strip()
    if not key:
        raise ConfigurationError("an embedding model name is empty.")
    if key.lower() in LOCAL_ALIASES:
        return shared_local_embeddings()
    if key.startswith(_HASHING_PREFIX) and key[len(_HASHING_PREFIX) :].isdigit():
        return HashingTestEmbeddings(dimension=int(key[len(_HASHING_PREFIX) :]))
    settings = openai_settings("embedding")
    if settings is None:
        raise ConfigurationError(
            f"the embedding model {key!r} is not the local model, so it must come from an "
            "OpenAI-compatible API, and none is configured: set OPENAI_API_KEY (OpenAI) or "
            "TENANT_RAG_EMBEDDING_BASE_URL (another server, e.g. http://localhost:11434/v1). "
            "Or unset TENANT_RAG_EMBEDDING_MODEL to use the local model."
        )
    # Imported here: langchain_openai takes about 1.5 s to import.
    from tenant_rag.models.openai_embeddings import (
        OPENAI_EMBEDDING_DIMENSIONS,
        OpenAIEmbeddingsWithDimension,
    )

    native = OPENAI_EMBEDDING_DIMENSIONS.get(key)
    kwargs: dict[str, Any] = {}
    if (
        dimension is not None
        and native not in (None, dimension)
        and key.startswith("text-embedding-3")
    ):
        kwargs["dimensions"] = dimension
    return OpenAIEmbeddingsWithDimension(
        model=key,
        api_key=settings.api_key,  # type: ignore[arg-type]
        base_url=settings.base_url,
        check_embedding_ctx_length=not settings.custom_server,
        **kwargs,
    )


def embedding_model_name(embeddings: Embeddings) -> str | None:
    """The name an index records for ``embeddings``; None when it cannot be rebuilt by name.

    tenant_rag's own models report ``model_name``; OpenAI-compatible ones their
    ``model``. Other classes return None (the index then records nothing and
    only its dimension is checked).
    """
    own = getattr(embeddings, "tenant_rag_model_name", None)
    if isinstance(own, str) and own:
        return own
    openai_module = sys.modules.get("langchain_openai")  # not imported: not an instance
    if openai_module is not None and isinstance(embeddings, openai_module.OpenAIEmbeddings):
        return str(embeddings.model)
    return None


def same_model(a: str, b: str) -> bool:
    """True when two model names (or aliases) mean the same model."""
    a, b = a.strip(), b.strip()
    if a.lower() in LOCAL_ALIASES and b.lower() in LOCAL_ALIASES:
        return True
    return a == b


def index_embeddings(pc: Any, name: str) -> Embeddings:
    """The embedding model index ``name`` was built with, for querying or adding to it.

    The model recorded in the index's tags (by ``ensure_index(...,
    embedding=...)``) wins. ``TENANT_RAG_EMBEDDING_MODEL`` naming another model
    is an ``IndexMismatchError`` that says how to migrate, never a silent
    switch. An index that records no model (made with ``dimension=`` only) gets
    `default_embeddings`, checked against its dimension.
    """
    from tenant_rag.connection import EMBEDDING_MODEL_TAG, recorded_embedding_model
    from tenant_rag.errors import IndexMismatchError

    desc = pc.describe_index(name)
    dimension = int(desc.dimension)
    recorded = recorded_embedding_model(desc)
    chosen = os.environ.get(EMBEDDING_MODEL_ENV, "").strip()
    if recorded:
        if chosen and not same_model(chosen, recorded):
            raise IndexMismatchError(
                f"index {name!r} was built with the embedding model {recorded!r} "
                f"({dimension}-d, index tag {EMBEDDING_MODEL_TAG!r}), but "
                f"{EMBEDDING_MODEL_ENV}={chosen!r}. Unset {EMBEDDING_MODEL_ENV} to use the "
                "index's model, or migrate: ingest the documents again into a new index with "
                "the new model (tenant-rag ingest --index NEW ...) and use that index."
            )
        return embeddings_named(recorded, dimension=dimension)
    emb = default_embeddings()
    have = embedding_dimension(emb)
    if have != dimension:
        hint = (
            f" (1536-d: perhaps {EMBEDDING_MODEL_ENV}={DEFAULT_OPENAI_EMBEDDING_MODEL} with "
            "OPENAI_API_KEY)"
            if dimension == 1536
            else ""
        )
        raise IndexMismatchError(
            f"index {name!r} has dimension {dimension} and records no embedding model, but "
            f"the embedding model ({embedding_model_name(emb) or type(emb).__name__}) makes "
            f"{have}-d vectors. Set {EMBEDDING_MODEL_ENV} to the model that built the "
            f"index{hint}, or use another index."
        )
    return emb


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
