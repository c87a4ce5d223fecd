"""Fixtures for CLI tests: an embedded data dir with two tenants, and a CliRunner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenant_rag.cli._common import TEST_EMBEDDINGS_ENV

ACME_DOCS = [
    ("Employees at Acme get 25 vacation days per year.", "handbook.md"),
    ("The Acme office opens at 9am on weekdays.", "office.md"),
    ("Acme expense reports are due on the fifth of each month.", "expenses.md"),
]
GLOBEX_DOCS = [
    ("Globex pays annual bonuses every March.", "pay.md"),
    ("Globex staff work remotely on Fridays.", "remote.md"),
]


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """TENANT_RAG_HOME for this module's CLI runs, with test embeddings (no model load)."""
    home = tmp_path_factory.mktemp("cli-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TENANT_RAG_HOME", str(home))
        mp.setenv(TEST_EMBEDDINGS_ENV, "hashing")
        mp.delenv("PINECONE_API_KEY", raising=False)
        mp.delenv("OPENAI_API_KEY", raising=False)
        mp.delenv("OPENAI_BASE_URL", raising=False)
        mp.delenv("TENANT_RAG_DEBUG", raising=False)
        yield home


def seed(index_name: str = "rag") -> Any:
    """Create ``index_name`` (64-d) in the current data dir with acme and globex documents."""
    from tenant_rag import connect, ensure_index, tenant_vector_store
    from tenant_rag.models.hashing import HashingTestEmbeddings

    ix = ensure_index(connect(), index_name, dimension=64)
    emb = HashingTestEmbeddings(dimension=64)
    for tenant, docs in (("acme", ACME_DOCS), ("globex", GLOBEX_DOCS)):
        store = tenant_vector_store(ix, tenant, emb)
        store.add_texts(
            [t for t, _ in docs],
            metadatas=[{"doc_id": d} for _, d in docs],
            ids=[f"{d}#0" for _, d in docs],
        )
    return ix


def without_backend(stderr: str) -> str:
    """stderr minus the ``backend: ...`` line every command that connects prints first."""
    return "".join(
        line for line in stderr.splitlines(keepends=True) if not line.startswith("backend: ")
    )


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
