"""The test-only hashing embedding: deterministic, unit length, word overlap ranks higher."""

from __future__ import annotations

import numpy as np
import pytest

from tenant_rag.models import HashingTestEmbeddings, embedding_dimension


def test_deterministic_unit_python_floats() -> None:
    emb = HashingTestEmbeddings()
    a = emb.embed_query("Refunds within thirty days")
    assert a == HashingTestEmbeddings().embed_documents(["Refunds within thirty days"])[0]
    assert len(a) == 64 == embedding_dimension(emb)
    assert all(type(v) is float for v in a)
    assert np.linalg.norm(a) == pytest.approx(1.0)


def test_shared_words_score_higher() -> None:
    emb = HashingTestEmbeddings(dimension=256)
    q, near, far = (
        np.array(v)
        for v in emb.embed_documents(
            ["vacation days policy", "our vacation policy gives 25 days", "server crashed at night"]
        )
    )
    assert q @ near > q @ far


def test_empty_text_is_not_a_zero_vector() -> None:
    vec = HashingTestEmbeddings(dimension=8).embed_query("")
    assert np.linalg.norm(vec) == pytest.approx(1.0)
    assert "test" in HashingTestEmbeddings.__doc__.lower()  # type: ignore[union-attr]
