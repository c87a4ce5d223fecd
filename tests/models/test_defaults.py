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
        "TENANT_RAG_CHAT_BASE_URL",
        "TENANT_RAG_CHAT_API_KEY",
        "TENANT_RAG_EMBEDDING_BASE_URL",
        "TENANT_RAG_EMBEDDING_API_KEY",
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


def test_an_openai_key_switches_the_chat_model_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert isinstance(default_embeddings(), LocalMiniLMEmbeddings)  # embeddings stay local
    llm = default_llm()
    assert isinstance(llm, ChatOpenAI)
    assert llm.model_name == "gpt-4o-mini" and llm.streaming


def test_openai_embeddings_are_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "text-embedding-3-small")
    emb = default_embeddings()
    assert isinstance(emb, OpenAIEmbeddings)
    assert emb.model == "text-embedding-3-small"
    assert emb.openai_api_key is not None and emb.openai_api_key.get_secret_value() == "sk-test"
    assert embedding_dimension(emb) == 1536 == emb.dimension  # type: ignore[attr-defined]


def test_openai_models_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "text-embedding-3-large")
    monkeypatch.setenv("TENANT_RAG_CHAT_MODEL", "gpt-4.1-mini")
    assert embedding_dimension(default_embeddings()) == 3072
    assert default_llm().model_name == "gpt-4.1-mini"  # type: ignore[attr-defined]
    assert (
        embedding_dimension(OpenAIEmbeddings(model="text-embedding-3-large", dimensions=256)) == 256
    )


def test_local_model_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    for alias in ("local", "all-MiniLM-L6-v2", "all-MiniLM-L6-v2-onnx-int8"):
        monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", alias)
        assert isinstance(default_embeddings(), LocalMiniLMEmbeddings), alias


def test_a_remote_embedding_model_without_a_service_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tenant_rag.errors import ConfigurationError

    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "text-embedding-3-small")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        default_embeddings()


def test_base_url_only_uses_placeholder_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "nomic-embed-text")
    monkeypatch.setenv("TENANT_RAG_CHAT_MODEL", "llama3.2")
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


def test_chat_and_embeddings_have_their_own_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-shared")
    monkeypatch.setenv("TENANT_RAG_CHAT_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("TENANT_RAG_CHAT_API_KEY", "ollama-key")
    monkeypatch.setenv("TENANT_RAG_CHAT_MODEL", "llama3.2")
    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "text-embedding-3-small")
    llm = default_llm()
    assert llm.openai_api_base == "http://127.0.0.1:11434/v1"  # type: ignore[attr-defined]
    assert llm.openai_api_key.get_secret_value() == "ollama-key"  # type: ignore[attr-defined]
    emb = default_embeddings()
    assert emb.openai_api_base is None  # type: ignore[attr-defined]  # OpenAI itself
    assert emb.openai_api_key.get_secret_value() == "sk-shared"  # type: ignore[attr-defined]
