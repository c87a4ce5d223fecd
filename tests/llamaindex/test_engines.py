"""tenant_index, tenant_query_engine and tenant_chat_engine: answers from the tenant's own documents."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

from tenant_rag.connection import ensure_index
from tenant_rag.errors import ConfigurationError, TenantIsolationError
from tenant_rag.llamaindex import (
    TenantPineconeVectorStore,
    tenant_chat_engine,
    tenant_index,
    tenant_ingestion_pipeline,
    tenant_query_engine,
)

from .conftest import stored_ids

ACME_DOCS = [
    Document(
        id_="refunds.md",
        text="Acme refunds are paid within five business days.",
        metadata={"topic": "billing"},
    ),
    Document(
        id_="rockets.md",
        text="Acme rockets launch every Tuesday from the desert pad.",
        metadata={"topic": "launch"},
    ),
]
GLOBEX_DOCS = [
    Document(
        id_="refunds.md",
        text="Globex refunds are never paid, by policy.",
        metadata={"topic": "billing"},
    ),
]


@pytest.fixture
def no_llamaindex_defaults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make any fallback to LlamaIndex's global Settings (OpenAI by default) fail loudly."""
    import llama_index.core.settings as settings_module

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"LlamaIndex fell back to its global Settings: {args!r}")

    monkeypatch.setattr(settings_module.Settings, "_llm", None)
    monkeypatch.setattr(settings_module.Settings, "_embed_model", None)
    monkeypatch.setattr(settings_module, "resolve_llm", refuse)
    monkeypatch.setattr(settings_module, "resolve_embed_model", refuse)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    yield


@pytest.fixture
def loaded(index, embed_model, tenants) -> tuple[Any, str, str]:
    acme, globex = tenants
    tenant_ingestion_pipeline(index, acme, embed_model=embed_model).run(documents=ACME_DOCS)
    tenant_ingestion_pipeline(index, globex, embed_model=embed_model).run(documents=GLOBEX_DOCS)
    return index, acme, globex


def sources(response: Any) -> list[str]:
    return [n.node.get_content() for n in response.source_nodes]


def test_query_engine_answers_from_the_tenants_documents_only(
    loaded, embed_model, no_llamaindex_defaults
) -> None:
    index, acme, globex = loaded
    engine = tenant_query_engine(index, acme, llm=MockLLM(), embed_model=embed_model)
    response = engine.query("How are refunds paid?")
    assert sources(response)[0] == "Acme refunds are paid within five business days."
    assert all(s.startswith("Acme") for s in sources(response))
    assert "Acme refunds are paid" in str(response)  # MockLLM echoes its prompt
    assert "Globex" not in str(response)

    other = tenant_query_engine(index, globex, llm=MockLLM(), embed_model=embed_model)
    assert sources(other.query("How are refunds paid?")) == [
        "Globex refunds are never paid, by policy."
    ]


def test_query_engine_filters_narrow_and_never_widen(
    loaded, embed_model, no_llamaindex_defaults
) -> None:
    index, acme, globex = loaded
    launch = MetadataFilters(filters=[MetadataFilter(key="topic", value="launch")])
    engine = tenant_query_engine(
        index, acme, llm=MockLLM(), embed_model=embed_model, filters=launch
    )
    assert sources(engine.query("refunds")) == [
        "Acme rockets launch every Tuesday from the desert pad."
    ]
    with pytest.raises(TenantIsolationError):
        tenant_query_engine(index, acme, llm=MockLLM(), embed_model=embed_model, namespace=globex)
    smuggled = tenant_query_engine(
        index,
        acme,
        llm=MockLLM(),
        embed_model=embed_model,
        vector_store_kwargs={"namespace": globex},
    )
    with pytest.raises(TenantIsolationError):
        smuggled.query("refunds")


def test_metadata_isolation_engine_refuses_a_filter_on_the_tenant_field(
    index, embed_model, tenants, no_llamaindex_defaults
) -> None:
    acme, globex = tenants
    for tenant, docs in ((acme, ACME_DOCS), (globex, GLOBEX_DOCS)):
        tenant_ingestion_pipeline(index, tenant, embed_model=embed_model, isolation="metadata").run(
            documents=docs
        )
    engine = tenant_query_engine(
        index,
        acme,
        llm=MockLLM(),
        embed_model=embed_model,
        isolation="metadata",
        similarity_top_k=10,
    )
    assert all(s.startswith("Acme") for s in sources(engine.query("refunds paid")))
    sneaky = MetadataFilters(filters=[MetadataFilter(key="tenant_id", value=globex)])
    widened = tenant_query_engine(
        index, acme, llm=MockLLM(), embed_model=embed_model, isolation="metadata", filters=sneaky
    )
    with pytest.raises(TenantIsolationError, match="tenant_id"):
        widened.query("refunds")


def test_chat_engine_retrieves_per_turn_from_the_tenant(
    loaded, embed_model, no_llamaindex_defaults
) -> None:
    index, acme, _ = loaded
    chat = tenant_chat_engine(index, acme, llm=MockLLM(), embed_model=embed_model)
    first = chat.chat("When do rockets launch?")
    assert sources(first)[0].startswith("Acme rockets launch every Tuesday")
    assert "Globex" not in str(first)
    second = chat.chat("And refunds?")
    assert sources(second)[0].startswith("Acme refunds")
    assert len(chat.chat_history) == 4
    with pytest.raises(ValueError, match="never retrieves"):
        tenant_chat_engine(index, acme, llm=MockLLM(), embed_model=embed_model, chat_mode="simple")


async def test_async_query_and_chat(loaded, embed_model, no_llamaindex_defaults) -> None:
    index, acme, _ = loaded
    engine = tenant_query_engine(index, acme, llm=MockLLM(), embed_model=embed_model)
    response = await engine.aquery("rockets launch")
    assert sources(response)[0].startswith("Acme rockets")
    chat = tenant_chat_engine(index, acme, llm=MockLLM(), embed_model=embed_model)
    reply = await chat.achat("refunds?")
    assert sources(reply)[0].startswith("Acme refunds")


def test_tenant_index_insert_and_delete_ref_doc(index, embed_model, tenants) -> None:
    acme, globex = tenants
    vindex = tenant_index(index, acme, embed_model=embed_model)
    assert isinstance(vindex, VectorStoreIndex)
    assert isinstance(vindex.vector_store, TenantPineconeVectorStore)
    vindex.insert(Document(id_="doc1", text="one"))
    vindex.insert(Document(id_="doc10", text="ten"))
    assert stored_ids(index, acme) == ["doc1#0", "doc10#0"]
    vindex.delete_ref_doc("doc1")
    assert stored_ids(index, acme) == ["doc10#0"]
    assert stored_ids(index, globex) == []
    retrieved = vindex.as_retriever(similarity_top_k=5).retrieve("ten")
    assert [r.node.get_content() for r in retrieved] == ["ten"]


def test_model_names_and_foreign_objects_are_refused(index, embed_model) -> None:
    with pytest.raises(ConfigurationError, match="model object"):
        tenant_query_engine(index, "acme", llm="default", embed_model=embed_model)
    with pytest.raises(ConfigurationError, match="LangChain language model"):
        tenant_chat_engine(index, "acme", llm=object(), embed_model=embed_model)
    with pytest.raises(ConfigurationError, match="BaseEmbedding"):
        tenant_index(index, "acme", embed_model=object())


def test_default_models_are_local_and_answer_from_the_tenant(
    li_pc, tenants, no_llamaindex_defaults
) -> None:
    """No keys: the local MiniLM embeddings and the extractive answerer, never OpenAI."""
    from tenant_rag.models.embeddings import embedding_dimension, shared_local_embeddings

    dimension = embedding_dimension(shared_local_embeddings())
    index = ensure_index(li_pc, f"li-{uuid.uuid4().hex[:12]}", dimension=dimension)
    acme, globex = tenants
    tenant_ingestion_pipeline(index, acme).run(documents=ACME_DOCS)
    tenant_ingestion_pipeline(index, globex).run(documents=GLOBEX_DOCS)
    response = tenant_query_engine(index, acme).query("How fast are refunds paid?")
    assert sources(response)[0] == "Acme refunds are paid within five business days."
    assert "five business days" in str(response)
    assert "Globex" not in str(response)
    reply = tenant_chat_engine(index, globex).chat("Are refunds paid?")
    assert "never paid" in str(reply) and "Acme" not in str(reply)


def test_streaming_query_and_chat(loaded, embed_model, no_llamaindex_defaults) -> None:
    index, acme, _ = loaded
    engine = tenant_query_engine(
        index, acme, llm=MockLLM(), embed_model=embed_model, streaming=True
    )
    streamed = engine.query("rockets launch")
    text = "".join(streamed.response_gen)
    assert "Acme rockets launch" in text and "Globex" not in text
    chat = tenant_chat_engine(index, acme, llm=MockLLM(), embed_model=embed_model)
    reply = chat.stream_chat("refunds?")
    assert "Acme refunds" in "".join(reply.response_gen)
    assert sources(reply)[0].startswith("Acme refunds")
