"""Which models default_embeddings() / default_llm() pick, by environment (no network)."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from tenant_rag.models import (
    ExtractiveAnswerer,
    LocalMiniLMEmbeddings,
    default_embeddings,
    default_llm,
    embedding_dimension,
)
from tenant_rag.models._openai import PLACEHOLDER_API_KEY


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_BASE",
        "TENANT_RAG_EMBEDDING_MODEL",
        "TENANT_RAG_CHAT_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_local_defaults_without_openai_env() -> None:
    emb = default_embeddings()
    assert isinstance(emb, LocalMiniLMEmbeddings)
    assert emb is default_embeddings()  # one shared instance per process
    assert embedding_dimension(emb) == 384
    assert isinstance(default_llm(), ExtractiveAnswerer)


def test_blank_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "  ")
    assert isinstance(default_embeddings(), LocalMiniLMEmbeddings)
    assert isinstance(default_llm(), ExtractiveAnswerer)


def test_openai_with_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    emb = default_embeddings()
    assert isinstance(emb, OpenAIEmbeddings)
    assert emb.model == "text-embedding-3-small"
    assert emb.openai_api_key is not None and emb.openai_api_key.get_secret_value() == "sk-test"
    assert embedding_dimension(emb) == 1536 == emb.dimension  # type: ignore[attr-defined]
    llm = default_llm()
    assert isinstance(llm, ChatOpenAI)
    assert llm.model_name == "gpt-4o-mini" and llm.streaming


def test_openai_models_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "text-embedding-3-large")
    monkeypatch.setenv("TENANT_RAG_CHAT_MODEL", "gpt-4.1-mini")
    assert embedding_dimension(default_embeddings()) == 3072
    assert default_llm().model_name == "gpt-4.1-mini"  # type: ignore[attr-defined]
    assert (
        embedding_dimension(OpenAIEmbeddings(model="text-embedding-3-large", dimensions=256)) == 256
    )


def test_base_url_only_uses_placeholder_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    emb = default_embeddings()
    assert isinstance(emb, OpenAIEmbeddings)
    assert emb.openai_api_base == "http://127.0.0.1:9/v1"
    assert emb.openai_api_key is not None
    assert emb.openai_api_key.get_secret_value() == PLACEHOLDER_API_KEY
    assert str(emb.client._client.base_url).startswith("http://127.0.0.1:9/v1")
    llm = default_llm()
    assert isinstance(llm, ChatOpenAI)
    assert llm.openai_api_base == "http://127.0.0.1:9/v1"
    assert str(llm.root_client.base_url).startswith("http://127.0.0.1:9/v1")
