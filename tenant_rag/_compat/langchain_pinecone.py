"""Private names of langchain-pinecone (0.2.13) and langchain-core hooks the LangChain store uses.

* ``DistanceStrategy`` exists only in ``langchain_pinecone._utilities`` (the
  store's constructor takes one; ``langchain_pinecone.vectorstores`` merely
  imports it from there).
* ``VectorStore._select_relevance_score_fn`` and ``_get_retriever_tags``:
  langchain-core's hooks for subclasses; the pinned retriever calls them to
  map scores and tag its runs exactly as upstream's ``as_retriever`` does.

``maximal_marginal_relevance`` is not here: langchain-core exports it publicly
(``langchain_core.vectorstores.utils``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_pinecone._utilities import DistanceStrategy

__all__ = ["DistanceStrategy", "relevance_score_fn", "retriever_tags"]


def relevance_score_fn(store: Any) -> Callable[[float], float]:
    """The store's map from raw scores to LangChain's [0, 1] relevance scale."""
    fn: Callable[[float], float] = store._select_relevance_score_fn()
    return fn


def retriever_tags(store: Any) -> list[str]:
    """The tags ``VectorStore.as_retriever`` gives its retriever (store and embedding class names)."""
    return list(store._get_retriever_tags())
