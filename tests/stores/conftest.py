"""Fixtures for the LangChain store tests: indexes on the shared embedded server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tenant_rag.connection import ensure_index
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings


@pytest.fixture(scope="session")
def pc(shared_local_server: LocalServer) -> Any:
    """A Pinecone REST client for the session's embedded server."""
    return shared_local_server.client()


@pytest.fixture(scope="session")
def new_index(pc: Any) -> Callable[..., Any]:
    """``new_index(dimension, metric="cosine")``: a fresh, uniquely named index handle."""

    def make(dimension: int, metric: str = "cosine") -> Any:
        return ensure_index(pc, f"ix-{uuid.uuid4().hex[:12]}", dimension=dimension, metric=metric)

    return make


@pytest.fixture(scope="session")
def index6(new_index: Callable[..., Any]) -> Any:
    """A 6-d cosine index (the standard suite's DeterministicFakeEmbedding size)."""
    return new_index(6)


@pytest.fixture(scope="session")
def index32(new_index: Callable[..., Any]) -> Any:
    """A 32-d cosine index for HashingTestEmbeddings(32)."""
    return new_index(32)


@pytest.fixture(scope="session")
def emb32() -> HashingTestEmbeddings:
    """Deterministic word-hashing embeddings, 32-d (tests only)."""
    return HashingTestEmbeddings(32)


@pytest.fixture
def tenants() -> tuple[str, str]:
    """Two fresh tenant ids, unique to the test."""
    tag = uuid.uuid4().hex[:8]
    return f"acme-{tag}", f"globex-{tag}"
