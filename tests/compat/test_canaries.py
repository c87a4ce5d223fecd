"""One canary per private upstream name in `tenant_rag._compat`, against the installed versions.

Each test fails loudly when an upgrade removes or changes what `_compat`
relies on, where the code itself would fall back to a slower public path (or
read a prompt wrongly) without a word. Real SDK, real embedded server.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from langchain_core.prompts import ChatPromptTemplate
from llama_index.core.base.embeddings.base_sparse import BaseSparseEmbedding
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from tenant_rag._compat import langchain_pinecone as lc_compat
from tenant_rag._compat import llamaindex as li_compat
from tenant_rag._compat import pinecone_sdk
from tenant_rag.connection import ensure_index
from tenant_rag.ingestion.sdk import lean_handle
from tenant_rag.llamaindex import tenant_vector_store as li_store
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.models.llamaindex_prompts import read_llamaindex_prompt
from tenant_rag.stores.langchain import tenant_vector_store as lc_store
from tenant_rag.tenancy.guard import NamespaceGuardedIndex

DIM = 4


@pytest.fixture(scope="module")
def index(shared_local_server: LocalServer) -> Any:
    return ensure_index(shared_local_server.client(), f"can-{uuid.uuid4().hex[:10]}", dimension=DIM)


# -- pinecone SDK ---------------------------------------------------------------------------


def test_upsert_type_checks_can_be_switched_off(index: Any) -> None:
    """``_check_type=False``: ints pass where the checked path refuses them."""
    record = {"id": "ints", "values": [1, 0, 0, 0]}
    with pytest.raises(Exception, match="Required value type is float"):
        index.upsert(vectors=[record], namespace="canary")
    index.upsert(vectors=[record], namespace="canary", **pinecone_sdk.SKIP_REQUEST_CHECKS)


def test_response_type_checks_can_be_switched_off(index: Any) -> None:
    from pinecone.openapi_support import OPENAPI_ENDPOINT_PARAMS

    (name,) = pinecone_sdk.SKIP_RESPONSE_CHECKS
    assert name in OPENAPI_ENDPOINT_PARAMS, "the SDK would drop it silently"
    index.query(
        vector=[1.0, 0.0, 0.0, 0.0],
        top_k=1,
        namespace="canary",
        **pinecone_sdk.SKIP_RESPONSE_CHECKS,
    )


def test_openapi_models_keep_their_fields_in_a_dict(index: Any) -> None:
    index.upsert(
        vectors=[{"id": "m", "values": [1.0, 0.0, 0.0, 0.0], "metadata": {"k": "v"}}],
        namespace="md",
    )
    match = index.query(
        vector=[1.0, 0.0, 0.0, 0.0], top_k=1, namespace="md", include_metadata=True
    ).matches[0]
    fields = pinecone_sdk.model_fields(match)
    assert isinstance(fields, dict) and fields["id"] == "m"
    assert dict(fields["metadata"]) == {"k": "v"}


def test_handles_expose_their_host(index: Any) -> None:
    config = pinecone_sdk.handle_config(index)
    assert config is not None and str(config.host).startswith("http")


def test_the_rest_index_class_and_the_lean_transport(index: Any) -> None:
    index_class = pinecone_sdk.rest_index_class()
    assert index_class is not None and isinstance(index, index_class)
    transport = pinecone_sdk.RestTransport(index)
    stats = transport.request("POST", "/describe_index_stats", body=b"{}")
    assert stats["dimension"] == DIM
    assert lean_handle(index)._transport is not None, "ingestion's fast path is active"


def test_the_transport_knows_the_handles_host_key_and_ca(
    shared_local_server: LocalServer, index: Any
) -> None:
    """What the gRPC read path needs from the REST handle (`ingestion.grpc_fetch`): its host,
    its API key and its CA file, and a GET of a URL outside the index's host."""
    transport = pinecone_sdk.RestTransport(index)
    assert transport.host.endswith("/_index/" + index._tenant_rag_index_name)
    assert transport.api_key and transport.api_key.startswith("local")  # what client() sends
    assert transport.ca_file  # the SDK always names a bundle (certifi's by default)
    name = index._tenant_rag_index_name
    answer = transport.get_raw(f"{shared_local_server.url}/_local/grpc/{name}")
    assert b"grpc_host" in answer
    lean = lean_handle(index)
    assert lean.fetches_float32_over_grpc(), "the read-back's gRPC path is on"
    lean.fetch_float32(ids=["nothing"], namespace="canary")
    assert lean.fetches_float32_over_grpc(), "a gRPC fetch with that key worked"


def test_the_asyncio_index_is_recognised(shared_local_server: LocalServer, index: Any) -> None:
    async def check() -> bool:
        client = shared_local_server.async_client()
        handle = client.IndexAsyncio(host=pinecone_sdk.handle_config(index).host)
        try:
            return pinecone_sdk.is_asyncio_index(handle)
        finally:
            await handle.close()
            await client.close()

    assert asyncio.run(check()) is True
    assert pinecone_sdk.is_asyncio_index(index) is False


# -- langchain-pinecone / langchain-core ------------------------------------------------------


def test_distance_strategy_and_the_store_hooks(index: Any) -> None:
    strategy = lc_compat.DistanceStrategy
    assert {s.name for s in strategy} >= {"COSINE", "EUCLIDEAN_DISTANCE", "MAX_INNER_PRODUCT"}
    store = lc_store(index, "acme", HashingTestEmbeddings(DIM))
    assert lc_compat.relevance_score_fn(store)(1.0) == pytest.approx(1.0)  # cosine: (1 + s) / 2
    assert lc_compat.relevance_score_fn(store)(-1.0) == pytest.approx(0.0)
    assert "TenantPineconeVectorStore" in lc_compat.retriever_tags(store)


# -- llama-index ------------------------------------------------------------------------------


def test_metadata_filters_translate_as_upstream_does() -> None:
    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="color", value="red"),
            MetadataFilter(key="n", value=[1, 2], operator=FilterOperator.IN),
        ],
        condition=FilterCondition.OR,
    )
    assert li_compat.to_pinecone_filter(filters) == {
        "$or": [{"color": {"$eq": "red"}}, {"n": {"$in": [1, 2]}}]
    }


def test_the_sparse_model_and_the_guarded_upstream_handle(index: Any) -> None:
    plain = li_store(index, "acme")
    assert li_compat.sparse_embedding_model(plain) is None
    sparse = _Sparse()
    hybrid = li_store(index, "acme", add_sparse_vector=True, sparse_embedding_model=sparse)
    assert li_compat.sparse_embedding_model(hybrid) is sparse
    handle = li_compat.upstream_handle(plain)
    assert isinstance(handle, NamespaceGuardedIndex), "upstream's own methods stay pinned"
    with pytest.raises(Exception, match="namespace"):
        handle.query(vector=[1.0, 0.0, 0.0, 0.0], top_k=1, namespace="globex")


def test_no_store_attribute_is_a_raw_sdk_handle(index: Any) -> None:
    """Whatever attribute upstream keeps a handle under, ours hold only guarded ones."""
    index_class = pinecone_sdk.rest_index_class()
    for store in (li_store(index, "acme"), lc_store(index, "acme", HashingTestEmbeddings(DIM))):
        values = {**vars(store), **(getattr(store, "__pydantic_private__", None) or {})}
        raw = [k for k, v in values.items() if index_class and isinstance(v, index_class)]
        assert raw == [], f"{type(store).__module__}: raw SDK handle under {raw}"


class _Sparse(BaseSparseEmbedding):
    """A sparse model that needs no download (upstream's default needs transformers)."""

    def _get_query_embedding(self, query: str) -> dict[int, float]:
        return {1: 1.0}

    async def _aget_query_embedding(self, query: str) -> dict[int, float]:
        return {1: 1.0}

    def _get_text_embedding(self, text: str) -> dict[int, float]:
        return {1: 1.0}

    async def _aget_text_embedding(self, text: str) -> dict[int, float]:
        return {1: 1.0}


# -- LlamaIndex prompt wording ------------------------------------------------------------------

NODES = "doc_id: a.md\n\nAcme ships in 2 days.\n\ndoc_id: b.md\n\nRefunds take 5 days."
QUESTION = "How fast is shipping?"


def _templates() -> dict[str, str]:
    from llama_index.core.chat_engine import condense_plus_context as cpc
    from llama_index.core.chat_engine import context as ctx
    from llama_index.core.prompts import chat_prompts as chat
    from llama_index.core.prompts import default_prompts as plain

    def messages(prompt: Any, **kw: str) -> str:
        return "\n".join(m.content or "" for m in prompt.format_messages(**kw))

    qa = {"context_str": NODES, "query_str": QUESTION}
    refine = {"context_msg": NODES, "query_str": QUESTION, "existing_answer": "Soon."}
    return {
        "text_qa": plain.DEFAULT_TEXT_QA_PROMPT.format(**qa),
        "chat_text_qa": messages(chat.CHAT_TEXT_QA_PROMPT, **qa),
        "tree_summarize": plain.DEFAULT_TREE_SUMMARIZE_PROMPT.format(**qa),
        "chat_tree_summarize": messages(chat.CHAT_TREE_SUMMARIZE_PROMPT, **qa),
        "refine": plain.DEFAULT_REFINE_PROMPT.format(**refine),
        "chat_refine": messages(chat.CHAT_REFINE_PROMPT, **refine),
        "context_chat": ctx.DEFAULT_CONTEXT_TEMPLATE.format(context_str=NODES),
        "condense_plus_context": cpc.DEFAULT_CONTEXT_PROMPT_TEMPLATE.format(context_str=NODES),
    }


@pytest.mark.parametrize("name", list(_templates()))
def test_llamaindex_default_prompts_are_still_read(name: str) -> None:
    found = read_llamaindex_prompt(_templates()[name])
    assert found is not None, f"{name}: the wording no longer matches"
    passages, question, _ = found
    assert [(p.doc_id, p.text) for p in passages] == [
        ("a.md", "Acme ships in 2 days."),
        ("b.md", "Refunds take 5 days."),
    ]
    if name not in ("context_chat", "condense_plus_context"):  # those carry it in the user turn
        assert question == QUESTION


def test_a_reworded_template_is_noticed() -> None:
    """The canary above can fail: a template in other words is not read."""
    other = ChatPromptTemplate.from_template("Facts:\n{c}\nAsk: {q}").format(c=NODES, q=QUESTION)
    assert read_llamaindex_prompt(other) is None
