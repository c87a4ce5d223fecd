"""rag_chain and per_request_rag_chain: invoke, stream, astream, batch, over the embedded server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate

from tenant_rag import (
    ExtractiveAnswerer,
    TenantIsolationError,
    ensure_index,
    per_request_rag_chain,
    rag_chain,
    tenant_retriever,
    tenant_vector_store,
)
from tenant_rag.context import parse_context
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings

DOCS = {
    "acme": [
        ("handbook.md#0", "Acme employees get 25 vacation days per year."),
        ("handbook.md#1", "The Acme office is in Berlin."),
    ],
    "globex": [
        ("handbook.md#0", "Globex employees get 10 vacation days per year."),
        ("handbook.md#1", "The Globex office is in Springfield."),
    ],
}


@pytest.fixture(scope="module")
def world(shared_local_server: LocalServer) -> Iterator[tuple[Any, Any, dict[str, str]]]:
    """(index, embedding, {"acme": tenant, "globex": tenant}) with the handbook loaded."""
    pc = shared_local_server.client()
    emb = HashingTestEmbeddings(32)
    index = ensure_index(pc, f"rag-{uuid.uuid4().hex[:10]}", dimension=32)
    tag = uuid.uuid4().hex[:6]
    names = {k: f"{k}-{tag}" for k in DOCS}
    stores = []
    for key, rows in DOCS.items():
        store = tenant_vector_store(index, names[key], emb)
        store.add_texts(
            [t for _, t in rows],
            ids=[i for i, _ in rows],
            metadatas=[{"doc_id": "handbook.md", "lang": "en"} for _ in rows],
        )
        stores.append(store)
    yield index, emb, names
    for s in stores:
        s.delete(delete_all=True)


def test_invoke_answers_with_sources(world) -> None:
    index, emb, names = world
    chain = rag_chain(tenant_retriever(index, names["acme"], emb, k=2), ExtractiveAnswerer())
    out = chain.invoke({"question": "How many vacation days do employees get?"})
    assert set(out) == {"answer", "sources"}
    assert "No language model is configured" in out["answer"]
    assert "25 vacation days" in out["answer"] and "[1]" in out["answer"]
    assert "Globex" not in out["answer"]
    src = out["sources"]
    assert [s["id"] for s in src] == ["handbook.md#0", "handbook.md#1"]
    first = src[0]
    assert set(first) == {"id", "doc_id", "score", "text", "metadata"}
    assert first["doc_id"] == "handbook.md"
    assert first["text"] == DOCS["acme"][0][1]
    assert isinstance(first["score"], float) and first["score"] >= src[1]["score"]
    assert first["metadata"] == {"doc_id": "handbook.md", "lang": "en"}


def test_chat_history_tuples_and_messages_reach_the_model(world) -> None:
    index, emb, names = world
    seen: list[list[Any]] = []

    class Recording(GenericFakeChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[override]
            seen.append(messages)
            return super()._generate(messages, stop, run_manager, **kwargs)

    llm = Recording(messages=iter([AIMessage(content="ok [1]")] * 2))
    chain = rag_chain(tenant_retriever(index, names["acme"], emb, k=1), llm)
    for history in (
        [("user", "hi"), ("assistant", "hello!")],
        [HumanMessage(content="hi"), AIMessage(content="hello!")],
    ):
        out = chain.invoke({"question": "Where is the office?", "chat_history": history})
        assert out["answer"] == "ok [1]"
    for messages in seen:
        roles = [m.type for m in messages]
        assert roles == ["system", "human", "ai", "human"]
        passages = parse_context(messages[-1].content)
        assert [p.id for p in passages] == ["handbook.md#1"]
        assert messages[-1].content.endswith("Question: Where is the office?")


def test_a_string_input_is_the_question_and_bad_input_raises(world) -> None:
    index, emb, names = world
    chain = rag_chain(tenant_retriever(index, names["globex"], emb, k=1), ExtractiveAnswerer())
    assert "Springfield" in chain.invoke("Where is the office?")["answer"]
    with pytest.raises(ValueError):
        chain.invoke({"question": ""})
    with pytest.raises(TypeError):
        chain.invoke(42)


def _check_stream(chunks: list[dict[str, Any]], tenant_word: str) -> None:
    assert len(chunks) > 2
    assert all(set(c) == {"answer"} for c in chunks[:-1]), "answer tokens first"
    assert set(chunks[-1]) == {"sources"}, "then exactly one sources chunk"
    answer = "".join(c["answer"] for c in chunks[:-1])
    assert tenant_word in answer
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total["answer"] == answer and total["sources"] == chunks[-1]["sources"]


async def test_stream_and_astream_yield_tokens_then_sources(world) -> None:
    index, emb, names = world
    chain = rag_chain(tenant_retriever(index, names["acme"], emb, k=2), ExtractiveAnswerer())
    q = {"question": "How many vacation days?"}
    _check_stream(list(chain.stream(q)), "25 vacation days")
    _check_stream([c async for c in chain.astream(q)], "25 vacation days")
    assert (await chain.ainvoke(q)) == chain.invoke(q)


async def test_batch_and_abatch(world) -> None:
    index, emb, names = world
    chain = rag_chain(tenant_retriever(index, names["acme"], emb, k=1), ExtractiveAnswerer())
    qs = [{"question": "How many vacation days?"}, {"question": "Where is the office?"}]
    for outs in (chain.batch(qs), await chain.abatch(qs)):
        assert "25 vacation days" in outs[0]["answer"]
        assert "Berlin" in outs[1]["answer"]
        assert [o["sources"][0]["id"] for o in outs] == ["handbook.md#0", "handbook.md#1"]


def test_default_llm_and_custom_prompt(world, monkeypatch) -> None:
    index, emb, names = world
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    chain = rag_chain(tenant_retriever(index, names["acme"], emb, k=1))
    assert "No language model is configured" in chain.invoke("vacation days?")["answer"]
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief.\n{context}"), ("human", "{question}")]
    )
    custom = rag_chain(tenant_retriever(index, names["acme"], emb, k=1), prompt=prompt)
    out = custom.invoke("How many vacation days?")
    assert "25 vacation days" in out["answer"]


def test_no_sources_gives_an_honest_answer(world) -> None:
    index, emb, _ = world
    empty = tenant_retriever(index, f"empty-{uuid.uuid4().hex[:6]}", emb)
    out = rag_chain(empty, ExtractiveAnswerer()).invoke("How many vacation days?")
    assert out["sources"] == []
    assert "nothing relevant" in out["answer"]


async def test_per_request_chain_serves_two_tenants_concurrently(world) -> None:
    index, emb, names = world
    chain = per_request_rag_chain(index, emb, ExtractiveAnswerer(), k=1)
    expect = {names["acme"]: "25 vacation days", names["globex"]: "10 vacation days"}
    plan = [names["acme"], names["globex"]] * 20

    def call(t: str) -> tuple[str, dict[str, Any]]:
        cfg = {"configurable": {"tenant_id": t}}
        return t, chain.invoke({"question": "How many vacation days?"}, config=cfg)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for t, out in pool.map(call, plan):
            assert expect[t] in out["answer"]
            other = next(v for k, v in expect.items() if k != t)
            assert other not in out["answer"]
    outs = await asyncio.gather(
        *(
            chain.ainvoke({"question": "vacation days?"}, config={"configurable": {"tenant_id": t}})
            for t in plan
        )
    )
    for t, out in zip(plan, outs, strict=True):
        assert expect[t] in out["answer"]
    batch = chain.batch(
        [{"question": "vacation days?"}] * 2,
        config=[{"configurable": {"tenant_id": t}} for t in names.values()],
    )
    assert [expect[t] in o["answer"] for t, o in zip(names.values(), batch, strict=True)] == [
        True,
        True,
    ]
    chunks = list(
        chain.stream(
            {"question": "vacation days?"}, config={"configurable": {"tenant_id": names["globex"]}}
        )
    )
    _check_stream(chunks, "10 vacation days")


async def test_per_request_chain_without_a_tenant_raises_before_the_model(world) -> None:
    index, emb, _ = world
    calls: list[Any] = []

    class Spy(GenericFakeChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[override]
            calls.append(messages)
            return super()._generate(messages, stop, run_manager, **kwargs)

    chain = per_request_rag_chain(index, emb, Spy(messages=iter([AIMessage(content="x")])))
    with pytest.raises(TenantIsolationError):
        chain.invoke({"question": "vacation?"})
    with pytest.raises(TenantIsolationError):
        await chain.ainvoke({"question": "vacation?"}, config={"configurable": {}})
    with pytest.raises(TenantIsolationError):
        list(chain.stream({"question": "vacation?"}))
    with pytest.raises(TenantIsolationError):
        [c async for c in chain.astream({"question": "vacation?"})]
    assert calls == []
