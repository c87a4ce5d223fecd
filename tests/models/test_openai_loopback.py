"""The OpenAI branch end to end at the HTTP level, against a loopback fake.

This is a mocked transport (`tests.models.openai_fake`): the OpenAI cloud is
unreachable from this environment. It shows that ``default_embeddings()`` and
``default_llm()`` really send their requests to ``OPENAI_BASE_URL`` with the
configured key and model names.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tenant_rag.models import default_embeddings, default_llm, embedding_dimension

from .openai_fake import DIM, FakeOpenAI, fake_openai_server


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeOpenAI]]:
    with fake_openai_server() as (url, handler):
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.delenv("OPENAI_API_BASE", raising=False)
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "local-embedder")
        monkeypatch.setenv("TENANT_RAG_CHAT_MODEL", "local-chat")
        yield handler


def test_embeddings_go_through_base_url(fake_openai: type[FakeOpenAI]) -> None:
    emb = default_embeddings()
    vec = emb.embed_query("hello")
    assert len(vec) == DIM and vec[0] == 5.0 and all(type(v) is float for v in vec)
    path, payload, auth = fake_openai.requests[-1]
    assert path == "/v1/embeddings"
    assert payload["model"] == "local-embedder"
    assert payload["input"] == ["hello"]  # strings, not token arrays, for compatible servers
    assert auth == "Bearer tenant-rag-no-key"
    # An unknown model's dimension is probed once through the same server.
    assert embedding_dimension(emb) == DIM


def test_chat_goes_through_base_url_streaming(fake_openai: type[FakeOpenAI]) -> None:
    llm = default_llm()
    assert llm.invoke("Say hi").content == "Hello from the fake."
    chunks = [c.content for c in llm.stream("Say hi")]
    assert "".join(str(c) for c in chunks) == "Hello from the fake."
    chats = [p for path, p, _ in fake_openai.requests if path == "/v1/chat/completions"]
    assert chats and all(p["model"] == "local-chat" and p["stream"] for p in chats)
    assert chats[0]["messages"][-1]["content"] == "Say hi"
