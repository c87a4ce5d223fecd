"""The LLM switch keeps your data (issue 12, item 3).

Choosing the chat model and the embedding model are separate decisions, and
an index remembers the embedding model that built it (a Pinecone index tag),
so setting OPENAI_API_KEY or OPENAI_BASE_URL for generated answers never
switches a 384-d index's queries to another model. The OpenAI side is the
loopback fake of `tests.models.openai_fake` (no internet here); Pinecone is
the embedded server, through the real SDK.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenant_rag.cli.app import app
from tenant_rag.connection import EMBEDDING_MODEL_TAG, ensure_index
from tenant_rag.errors import ConfigurationError, IndexMismatchError
from tenant_rag.local import LocalServer
from tenant_rag.models import (
    LocalMiniLMEmbeddings,
    default_llm,
    index_embeddings,
    shared_local_embeddings,
)

from .openai_fake import DIM, fake_openai_server

_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "PINECONE_API_KEY",
    "PINECONE_CONTROLLER_HOST",
    "TENANT_RAG_EMBEDDING_MODEL",
    "TENANT_RAG_CHAT_MODEL",
    "TENANT_RAG_CHAT_BASE_URL",
    "TENANT_RAG_CHAT_API_KEY",
    "TENANT_RAG_EMBEDDING_BASE_URL",
    "TENANT_RAG_EMBEDDING_API_KEY",
    "TENANT_RAG_TEST_EMBEDDINGS",
    "TENANT_RAG_SERVER",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def pc(local_server: LocalServer) -> Any:
    return local_server.client()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    with fake_openai_server(models=["local-chat"]) as (url, handler):
        yield url, handler


def test_an_index_records_the_model_that_built_it(pc: Any) -> None:
    emb = shared_local_embeddings()
    ensure_index(pc, "tagged", embedding=emb)
    tags = pc.describe_index("tagged").tags  # what Pinecone stores: the SDK reads it back
    assert tags[EMBEDDING_MODEL_TAG] == "all-MiniLM-L6-v2-onnx-int8"
    assert pc.describe_index("tagged").dimension == 384
    assert index_embeddings(pc, "tagged") is emb


def test_names_pinecone_would_refuse_are_encoded_losslessly(pc: Any, fake: Any) -> None:
    url, handler = fake
    os.environ["TENANT_RAG_EMBEDDING_BASE_URL"] = url
    os.environ["TENANT_RAG_EMBEDDING_MODEL"] = "nomic-embed-text:latest"
    try:
        emb = index_embeddings_for_new(pc, "colon")
        stored = pc.describe_index("colon").tags[EMBEDDING_MODEL_TAG]
        assert ":" not in stored  # Pinecone tag values allow letters, digits and ;@_-.+ only
        del os.environ["TENANT_RAG_EMBEDDING_MODEL"]
        again = index_embeddings(pc, "colon")
        assert again.model == "nomic-embed-text:latest" == emb.model  # type: ignore[attr-defined]
    finally:
        os.environ.pop("TENANT_RAG_EMBEDDING_BASE_URL", None)
        os.environ.pop("TENANT_RAG_EMBEDDING_MODEL", None)


def index_embeddings_for_new(pc: Any, name: str) -> Any:
    from tenant_rag.models import default_embeddings

    emb = default_embeddings()
    ensure_index(pc, name, embedding=emb)
    return emb


def test_an_openai_key_does_not_switch_an_index_to_other_vectors(
    pc: Any, monkeypatch: pytest.MonkeyPatch, fake: Any
) -> None:
    ensure_index(pc, "kept", embedding=shared_local_embeddings())
    url, handler = fake
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    assert isinstance(index_embeddings(pc, "kept"), LocalMiniLMEmbeddings)
    assert not [p for p, _, _ in handler.requests if p.endswith("/embeddings")]


def test_asking_for_another_model_names_the_fix(pc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_index(pc, "local-built", embedding=shared_local_embeddings())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "text-embedding-3-small")
    with pytest.raises(IndexMismatchError) as info:
        index_embeddings(pc, "local-built")
    text = str(info.value)
    assert "all-MiniLM-L6-v2-onnx-int8" in text and "text-embedding-3-small" in text
    assert "Unset TENANT_RAG_EMBEDDING_MODEL" in text and "migrate" in text
    from tenant_rag.models import default_embeddings

    with pytest.raises(IndexMismatchError, match="built with the embedding model"):
        ensure_index(pc, "local-built", embedding=default_embeddings())


def test_an_untagged_index_is_checked_by_dimension(
    pc: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_index(pc, "old-openai", dimension=1536)  # made before indexes recorded models
    with pytest.raises(IndexMismatchError) as info:
        index_embeddings(pc, "old-openai")
    assert "TENANT_RAG_EMBEDDING_MODEL=text-embedding-3-small" in str(info.value)
    ensure_index(pc, "old-local", dimension=384)
    assert isinstance(index_embeddings(pc, "old-local"), LocalMiniLMEmbeddings)


def test_a_remote_model_index_keeps_embedding_remotely(
    pc: Any, monkeypatch: pytest.MonkeyPatch, fake: Any
) -> None:
    url, handler = fake
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "local-embedder")
    emb = index_embeddings_for_new(pc, "remote")
    assert pc.describe_index("remote").dimension == DIM
    monkeypatch.delenv("TENANT_RAG_EMBEDDING_MODEL")  # later, in another shell
    again = index_embeddings(pc, "remote")
    assert again.model == "local-embedder"  # type: ignore[attr-defined]
    assert len(again.embed_query("hello")) == DIM
    sent = [body["model"] for path, body, _ in handler.requests if path.endswith("/embeddings")]
    assert sent and set(sent) == {"local-embedder"}
    assert emb.model == again.model  # type: ignore[attr-defined]


def test_one_served_model_needs_no_chat_model_variable(
    monkeypatch: pytest.MonkeyPatch, fake: Any
) -> None:
    url, handler = fake
    monkeypatch.setenv("OPENAI_BASE_URL", url)  # the one variable for a local chat server
    llm = default_llm()
    assert llm.model_name == "local-chat"  # type: ignore[attr-defined]
    assert llm.invoke("Say hi").content == "Hello from the fake."
    handler.models = ["llama3.2", "qwen2.5"]
    with pytest.raises(ConfigurationError, match="llama3.2, qwen2.5.*TENANT_RAG_CHAT_MODEL"):
        default_llm()


def test_an_unreachable_chat_server_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(ConfigurationError, match="127.0.0.1:9.*TENANT_RAG_CHAT_MODEL"):
        default_llm()


# -- the scenario, through the CLI ------------------------------------------------------


def test_generated_answers_from_a_local_server_over_a_local_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: Any
) -> None:
    """Ingest with no keys; then point chat at an OpenAI-compatible server: ask still works."""
    monkeypatch.setenv("TENANT_RAG_HOME", str(tmp_path / "home"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "shipping.md").write_text("Zephyr ships every order within 2 days.")
    runner = CliRunner()
    made = runner.invoke(app, ["ingest", "-t", "zephyr", str(docs), "--json"])
    assert made.exit_code == 0, made.output

    url, handler = fake
    monkeypatch.setenv("OPENAI_BASE_URL", url)  # one variable: chat from the local server
    monkeypatch.setenv("OPENAI_API_KEY", "sk-anything")  # and a key must not change vectors
    hits = runner.invoke(app, ["search", "-t", "zephyr", "how fast is shipping", "--json"])
    assert hits.exit_code == 0, hits.output
    assert json.loads(hits.stdout)["results"][0]["id"] == "shipping.md#0"
    asked = runner.invoke(app, ["ask", "-t", "zephyr", "How fast is shipping?", "--json"])
    assert asked.exit_code == 0, asked.output
    data = json.loads(asked.stdout)
    assert data["answer"] == "Hello from the fake."  # generated by the chat server
    assert data["sources"][0]["doc_id"] == "shipping.md"  # retrieved with the local model
    paths = [p for p, _, _ in handler.requests]
    assert "/v1/chat/completions" in paths and "/v1/embeddings" not in paths
    chat = next(b for p, b, _ in handler.requests if p == "/v1/chat/completions")
    assert "Zephyr ships every order within 2 days." in json.dumps(chat["messages"])

    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "text-embedding-3-small")
    refused = runner.invoke(app, ["search", "-t", "zephyr", "shipping"])
    assert refused.exit_code == 1
    assert "Unset TENANT_RAG_EMBEDDING_MODEL" in refused.stderr
