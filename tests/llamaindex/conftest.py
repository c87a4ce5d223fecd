"""Fixtures for the LlamaIndex tests: fresh indexes on the session's embedded server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.embeddings.langchain import LangchainEmbedding

from tenant_rag.connection import ensure_index
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.tenancy import usage

DIM = 64


@pytest.fixture(scope="session")
def li_pc(shared_local_server: LocalServer) -> Any:
    """A Pinecone REST client of the session's embedded server."""
    return shared_local_server.client()


@pytest.fixture
def index(li_pc: Any) -> Any:
    """A fresh, uniquely named 64-d cosine index handle (from ensure_index)."""
    return ensure_index(li_pc, f"li-{uuid.uuid4().hex[:12]}", dimension=DIM)


@pytest.fixture(scope="session")
def embed_model() -> BaseEmbedding:
    """Word-hashing embeddings (tests only) through LlamaIndex's LangChain adapter."""
    return LangchainEmbedding(HashingTestEmbeddings(DIM))


@pytest.fixture
def tenants() -> tuple[str, str]:
    """Two fresh tenant ids, unique to the test."""
    tag = uuid.uuid4().hex[:8]
    return f"acme-{tag}", f"globex-{tag}"


@pytest.fixture
def events() -> Iterator[list[usage.UsageEvent]]:
    """Every usage event emitted during the test, in order."""
    seen: list[usage.UsageEvent] = []
    unsubscribe = usage.add_listener(seen.append)
    try:
        yield seen
    finally:
        unsubscribe()


def stored_ids(index: Any, namespace: str) -> list[str]:
    """Every record id in a namespace, read at the server with the unpinned SDK handle."""
    return sorted(i for page in index.list(namespace=namespace) for i in page)


def upserted(events: list[usage.UsageEvent], tenant: str) -> int:
    """How many records ``tenant`` upserted, according to the usage events."""
    return sum(e.records for e in events if e.tenant == tenant and e.operation == "upsert")


MakeNode = Callable[..., Any]
