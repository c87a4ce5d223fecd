"""LlamaIndex adapters over the default models, with the extractive answerer."""

from __future__ import annotations

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.embeddings.langchain import LangchainEmbedding
from llama_index.llms.langchain import LangChainLLM

from tenant_rag.models import ExtractiveAnswerer, HashingTestEmbeddings, default_llamaindex_llm
from tenant_rag.models.extractive import NO_LLM_NOTICE
from tenant_rag.models.llamaindex import LangChainChatLLM, default_embed_model
from tenant_rag.models.llamaindex_prompts import node_passages

DOCS = [
    Document(
        text="Employees get 25 vacation days per year. Unused days expire in March.",
        metadata={"doc_id": "handbook.md"},
    ),
    Document(
        text="Refunds are accepted within 30 days of purchase.\n\nThe office is closed on Sundays.",
        metadata={"doc_id": "policy.md"},
    ),
]


@pytest.fixture(autouse=True)
def no_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture(scope="module")
def index() -> VectorStoreIndex:
    embed = LangchainEmbedding(HashingTestEmbeddings(dimension=256))
    return VectorStoreIndex.from_documents(DOCS, embed_model=embed)


def test_default_objects() -> None:
    llm = default_llamaindex_llm()
    assert isinstance(llm, LangChainLLM) and isinstance(llm.llm, ExtractiveAnswerer)
    assert llm.metadata.is_chat_model
    embed = default_embed_model()
    assert len(embed.get_text_embedding("hello")) == 384


@pytest.mark.parametrize("mode", ["compact", "refine", "tree_summarize", "simple_summarize"])
def test_query_engine_modes(index: VectorStoreIndex, mode: str) -> None:
    engine = index.as_query_engine(llm=default_llamaindex_llm(), response_mode=mode)
    answer = str(engine.query("When are refunds accepted?"))
    assert answer.startswith(NO_LLM_NOTICE)
    assert '"Refunds are accepted within 30 days of purchase."' in answer


def test_citation_is_the_node_number(index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(llm=default_llamaindex_llm(), similarity_top_k=2)
    response = engine.query("When is the office closed?")
    docs = [n.node.metadata["doc_id"] for n in response.source_nodes]
    assert f'"The office is closed on Sundays." [{docs.index("policy.md") + 1}]' in str(response)


def test_streaming_and_chat_engines(index: VectorStoreIndex) -> None:
    llm = default_llamaindex_llm()
    streamed = index.as_query_engine(llm=llm, streaming=True).query("vacation days?")
    assert "25 vacation days" in "".join(streamed.response_gen)  # type: ignore[union-attr]
    for mode in ("context", "condense_plus_context"):
        reply = index.as_chat_engine(llm=llm, chat_mode=mode).chat("When are refunds accepted?")
        assert "Refunds are accepted" in str(reply)


async def test_async_query(index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(llm=LangChainChatLLM(llm=ExtractiveAnswerer()))
    assert "Refunds are accepted" in str(await engine.aquery("refunds accepted?"))


def test_paragraphs_without_metadata() -> None:
    passages = node_passages("First para.\n\nSecond para.")
    assert [(p.n, p.text) for p in passages] == [(1, "First para."), (2, "Second para.")]
