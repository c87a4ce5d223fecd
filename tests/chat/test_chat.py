"""``POST /chat``: the SSE stream's shape, citations, history, and errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tenant_rag.chains.rag import rag_chain
from tenant_rag.chat import KeyRing
from tenant_rag.errors import QuotaExceededError
from tenant_rag.local import LocalServer
from tenant_rag.stores.langchain import tenant_retriever
from tenant_rag.tenancy import usage

from .conftest import (
    ACME_HANDBOOK,
    ACME_KEY,
    GLOBEX_KEY,
    Backend,
    answer_of,
    make_backend,
    parse_sse,
    sources_of,
)


def test_stream_is_tokens_then_sources_then_done(seeded: Backend) -> None:
    resp = seeded.chat(ACME_KEY, "How many vacation days do employees get?")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(resp.text)
    kinds = [e for e, _ in events]
    n_tokens = kinds.count("token")
    assert n_tokens >= 2, "the answer should arrive in several chunks"
    assert kinds == ["notice"] + ["token"] * n_tokens + ["sources", "done"]
    assert all(isinstance(d["text"], str) for e, d in events if e == "token")
    for source in sources_of(events):
        assert set(source) == {"id", "doc_id", "score", "text"}
        assert isinstance(source["score"], float)


def test_streamed_answer_equals_the_chain_answer(seeded: Backend) -> None:
    """The tokens, joined, are exactly what the same chain answers in one piece."""
    question = "How many vacation days do employees get?"
    expected = rag_chain(
        tenant_retriever(seeded.index, "acme", seeded.embedding, k=4),
        seeded.app.state.service.llm,
    ).invoke({"question": question})
    events = parse_sse(seeded.chat(ACME_KEY, question).text)
    notice, rest = expected["answer"].split("\n", 1)
    assert [d["text"] for e, d in events if e == "notice"] == [notice]
    assert answer_of(events) == rest
    assert [s["id"] for s in sources_of(events)] == [s["id"] for s in expected["sources"]]


def test_stream_arrives_incrementally(seeded: Backend) -> None:
    """Read the response as a stream: token events come before the sources event."""
    seen: list[str] = []
    with seeded.client.stream(
        "POST", "/chat", json={"question": "vacation days?"}, headers=seeded.as_(ACME_KEY)
    ) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("event:"):
                seen.append(line.split(":", 1)[1].strip())
    assert seen[:2] == ["notice", "token"]
    assert seen[-2:] == ["sources", "done"]


def test_upload_then_chat_cites_the_uploaded_document(backend: Backend) -> None:
    text = "The Zephyr project ships on Tuesdays. Zephyr builds are signed by the release bot."
    assert backend.upload(ACME_KEY, ("zephyr.md", text)).status_code == 200
    events = parse_sse(backend.chat(ACME_KEY, "When does the Zephyr project ship?").text)
    sources = sources_of(events)
    assert sources[0]["doc_id"] == "zephyr.md"
    assert sources[0]["id"].startswith("zephyr.md#")
    assert "Tuesdays" in sources[0]["text"]
    answer = answer_of(events)
    assert "Zephyr project ships on Tuesdays" in answer
    assert "[1]" in answer


def test_chat_without_documents_has_empty_sources(backend: Backend) -> None:
    events = parse_sse(backend.chat(GLOBEX_KEY, "anything at all?").text)
    assert sources_of(events) == []
    assert events[-1][0] == "done"


def test_chat_history_is_accepted(seeded: Backend) -> None:
    history = [
        {"role": "user", "content": "Where is the office?"},
        {"role": "assistant", "content": "In Berlin [1]."},
    ]
    events = parse_sse(
        seeded.chat(ACME_KEY, "And how many vacation days?", chat_history=history).text
    )
    assert "25 vacation days" in answer_of(events)


def test_history_reaches_the_model(shared_local_server: LocalServer, keyring: KeyRing) -> None:
    """The history is passed to the LLM as messages (roles mapped to LangChain's)."""
    seen: list[Any] = []

    class Recording(GenericFakeChatModel):
        def _stream(self, messages: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            seen.append(messages)
            return super()._stream(messages, *args, **kwargs)

    llm = Recording(messages=iter([AIMessage(content="fine answer")]))
    b = make_backend(shared_local_server, keyring, llm=llm)
    with b.client:
        history = [{"role": "user", "content": "earlier q"}, {"role": "assistant", "content": "a"}]
        events = parse_sse(b.chat(ACME_KEY, "now?", chat_history=history).text)
    assert answer_of(events) == "fine answer"
    types = [m.type for m in seen[0]]
    assert types[:1] == ["system"] and types[1:3] == ["human", "ai"]
    assert seen[0][1].content == "earlier q"


def test_error_mid_stream_is_an_error_event(
    shared_local_server: LocalServer, keyring: KeyRing
) -> None:
    """Once streaming started, a failing model ends the stream with an ``error`` event."""

    class Failing(GenericFakeChatModel):
        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            yield from list(super()._stream(*args, **kwargs))[:1]
            raise RuntimeError("model crashed")

    b = make_backend(
        shared_local_server, keyring, llm=Failing(messages=iter([AIMessage(content="a b c")]))
    )
    with b.client:
        resp = b.chat(ACME_KEY, "question?")
    events = parse_sse(resp.text)
    assert resp.status_code == 200
    assert events[0][0] == "token"
    assert events[-1][0] == "error"
    assert events[-1][1]["code"] == "internal_error"
    assert "crashed" not in resp.text  # internal details stay in the server log


def test_quota_refusal_before_streaming_is_429(seeded: Backend) -> None:
    """A tenant over quota gets a 429 with the library's message, not a broken stream."""

    def guard(tenant: str, index: str, operation: str, records: int) -> None:
        if tenant == "acme" and operation == "query":
            raise QuotaExceededError("acme", "read units", 10, 11)

    remove = usage.add_guard(guard)
    try:
        resp = seeded.chat(ACME_KEY, "vacation?")
        other = seeded.chat(GLOBEX_KEY, "vacation?")
    finally:
        remove()
    assert resp.status_code == 429, resp.text
    assert resp.json()["code"] == "quota_exceeded"
    assert "read units quota" in resp.json()["detail"]
    assert other.status_code == 200  # the noisy tenant does not affect the other


@pytest.mark.parametrize("key", [ACME_KEY, GLOBEX_KEY])
def test_chat_answers_from_own_handbook(seeded: Backend, key: str) -> None:
    events = parse_sse(seeded.chat(key, "How many vacation days?").text)
    expected = "25 vacation days" if key == ACME_KEY else "12 vacation days"
    assert expected in answer_of(events)
    assert ACME_HANDBOOK not in str(sources_of(events)) or key == ACME_KEY


def test_no_model_notice_is_an_event_of_its_own(seeded: Backend) -> None:
    """The extractive answerer's first line goes out once, as ``notice``, not in the answer."""
    from tenant_rag.models.extractive import NO_LLM_NOTICE

    for question in ("How many vacation days?", "Anything about volcanoes on Mars?"):
        events = parse_sse(seeded.chat(ACME_KEY, question).text)
        assert [d for e, d in events if e == "notice"] == [{"text": NO_LLM_NOTICE}]
        assert "No language model" not in answer_of(events)
        assert answer_of(events).strip()


def test_a_real_model_gets_no_notice(shared_local_server: LocalServer, keyring: KeyRing) -> None:
    """An answer that merely starts like the notice is passed through whole."""
    text = "No language model is what I am not. Shipping takes 2 days."
    b = make_backend(
        shared_local_server,
        keyring,
        llm=GenericFakeChatModel(messages=iter([AIMessage(content=text)])),
    )
    with b.client:
        events = parse_sse(b.chat(ACME_KEY, "shipping?").text)
    assert "notice" not in [e for e, _ in events]
    assert answer_of(events) == text
