"""``OpenAIEmbeddings`` that knows its output size (``.dimension``).

Separate from :mod:`tenant_rag.models.embeddings` so that importing the
defaults does not import ``langchain_openai`` (about 1.5 s) unless the OpenAI
branch is taken.
"""

from __future__ import annotations

from langchain_openai import OpenAIEmbeddings
from pydantic import PrivateAttr

_PROBE_TEXT = "dimension probe"

#: Native output sizes of OpenAI's embedding models (before ``dimensions=``).
OPENAI_EMBEDDING_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class OpenAIEmbeddingsWithDimension(OpenAIEmbeddings):
    """``OpenAIEmbeddings`` that also answers ``.dimension``.

    Known OpenAI models (and an explicit ``dimensions=``) answer without a
    request; any other model name, typical of OpenAI-compatible servers, is
    probed once by embedding a short string and the answer is cached.
    """

    _probed_dimension: int | None = PrivateAttr(default=None)

    @property
    def tenant_rag_model_name(self) -> str:
        """The name an index records for this model (``ensure_index(embedding=...)``)."""
        return str(self.model)

    @property
    def dimension(self) -> int:
        """Output size; may embed one short string the first time for unknown models."""
        known = known_openai_dimension(self)
        if known is not None:
            return known
        if self._probed_dimension is None:
            self._probed_dimension = len(self.embed_query(_PROBE_TEXT))
        return self._probed_dimension


def known_openai_dimension(embeddings: OpenAIEmbeddings) -> int | None:
    """``dimensions=`` when set, else the model's native size if known, else None."""
    if embeddings.dimensions is not None:
        return int(embeddings.dimensions)
    return OPENAI_EMBEDDING_DIMENSIONS.get(embeddings.model)
