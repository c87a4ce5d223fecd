"""A deterministic, dependency-free embedding for tests and benchmarks only.

Token-hashing bag of words (the "hashing trick"): each lowercase word is
hashed with BLAKE2b (stable across processes, unlike ``hash()``) to a
dimension and a sign, counts are summed, and the vector is L2-normalised. So
texts that share words have a higher cosine than texts that do not, which is
enough for retrieval tests to assert real ranking, at microseconds per text
and with nothing to load. It knows nothing about meaning: never use it for a
real index. The class name says so on purpose.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
from langchain_core.embeddings import Embeddings

_WORD = re.compile(r"\w+", re.UNICODE)


def _bucket(token: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimension, (1.0 if (value >> 63) & 1 == 0 else -1.0)


class HashingTestEmbeddings(Embeddings):
    """Hashing bag-of-words embeddings, FOR TESTS AND BENCHMARKS ONLY.

    Deterministic across runs and machines; unit-length vectors of Python
    ``float``; no model, no network. A text with no word characters (for
    example ``""``) gets a fixed unit vector rather than zeros, because
    Pinecone rejects all-zero dense vectors.
    """

    def __init__(self, dimension: int = 64) -> None:
        if dimension < 2:
            raise ValueError("dimension must be at least 2")
        self.dimension = dimension
        self.model_name = f"hashing-test-{dimension}"

    @property
    def tenant_rag_model_name(self) -> str:
        """The name an index records for this model (``ensure_index(embedding=...)``)."""
        return self.model_name

    def _vector(self, text: str) -> list[float]:
        vec = np.zeros(self.dimension, dtype=np.float64)
        tokens = _WORD.findall(text.lower())
        for token in tokens:
            index, sign = _bucket(token, self.dimension)
            vec[index] += sign
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:  # no words, or every word cancelled out by sign collisions
            index, _ = _bucket("\x00empty", self.dimension)
            vec[:] = 0.0
            vec[index] = 1.0
            norm = 1.0
        result: list[float] = (vec / norm).tolist()
        return result

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text."""
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """Same as a document: the hashing space is symmetric."""
        return self._vector(text)

    def __repr__(self) -> str:
        return f"HashingTestEmbeddings(dimension={self.dimension})"
