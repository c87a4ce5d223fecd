"""Re-embedding a tenant into a new model's index, verified, then switched through the routes.

Per-request chains resolve the tenant's index through the routing table, so a
switch is seen by the next call; a rollback is another switch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tenant_rag.chains.rag import per_request_rag_chain
from tenant_rag.connection import ensure_index
from tenant_rag.errors import (
    ConfigurationError,
    DestinationNotEmptyError,
    PortabilityError,
)
from tenant_rag.ingestion import ingest
from tenant_rag.lifecycle import reembed_tenant
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.stores.per_request import per_request_retriever
from tenant_rag.tenancy import PinnedIndex
from tenant_rag.tenancy.routing import RoutingTable

OLD, NEW = HashingTestEmbeddings(32), HashingTestEmbeddings(48)
DOCS = [
    ("shipping.md", "Acme ships every order within two days by truck.", {}),
    ("refunds.md", "Refunds are paid back within thirty days of a return.", {}),
    ("office.md", "The Acme office in Berlin opens at nine every morning.", {}),
    ("support.md", "Support answers email on weekdays, chat around the clock.", {}),
    ("security.md", "Passwords are hashed and keys rotate every ninety days.", {}),
    ("hiring.md", "Engineers interview in two rounds, one of them remote.", {}),
    ("holidays.md", "Staff get twenty five vacation days and public holidays.", {}),
    ("travel.md", "Train travel is preferred for trips under six hours.", {}),
]


@pytest.fixture
def indexes(pc: Any, request: pytest.FixtureRequest) -> tuple[Any, Any]:
    tag = abs(hash(request.node.name)) % 10**8
    old = ensure_index(pc, f"re-old-{tag}", dimension=32)
    new = ensure_index(pc, f"re-new-{tag}", dimension=48)
    ingest(old, "acme", DOCS, embedding=OLD, progress=False, chunk_size=200)
    ingest(old, "globex", DOCS[:2], embedding=OLD, progress=False, chunk_size=200)
    return old, new


def test_reembed_verifies_then_switches_and_rolls_back(
    indexes: tuple[Any, Any], tmp_path: Path
) -> None:
    old, new = indexes
    routes = RoutingTable(tmp_path / "routes.json")
    retriever = per_request_retriever(
        old, OLD, k=1, routes=routes, open_index=lambda name: (new, NEW)
    )
    cfg = {"configurable": {"tenant_id": "acme"}}

    def top(question: str) -> tuple[str, int]:
        [doc] = retriever.invoke(question, config=cfg)
        return doc.metadata["doc_id"], len(retriever.target_of("acme")[1].embed_query("x"))

    assert top("when does the Berlin office open") == ("office.md", 32)

    report = reembed_tenant(old, new, "acme", embedding=NEW, routes=routes)
    assert report.verified and report.routed and report.records == len(DOCS)
    assert report.probes >= 1 and report.probes_found == report.probes
    assert report.previous_route == old._tenant_rag_index_name
    assert routes.index_for("acme", "x") == new._tenant_rag_index_name
    # same ids and metadata, new vectors of the new dimension
    old_ids = sorted(PinnedIndex(old, "acme").list_ids())
    assert sorted(PinnedIndex(new, "acme").list_ids()) == old_ids
    rec = PinnedIndex(new, "acme").fetch([old_ids[0]])[old_ids[0]]
    assert len(rec.values) == 48
    assert rec.metadata == PinnedIndex(old, "acme").fetch([old_ids[0]])[old_ids[0]].metadata

    # the next call is served by the new index with the new model
    assert top("when does the Berlin office open") == ("office.md", 48)
    # other tenants keep the old index
    [g] = retriever.invoke("refunds", config={"configurable": {"tenant_id": "globex"}})
    assert g.metadata["doc_id"] == "refunds.md"

    routes.rollback("acme")
    assert top("refunds are paid back") == ("refunds.md", 32)


def test_chain_follows_the_route(indexes: tuple[Any, Any], tmp_path: Path) -> None:
    old, new = indexes
    routes = RoutingTable(tmp_path / "routes.json")
    chain = per_request_rag_chain(old, OLD, k=1, routes=routes, open_index=lambda n: (new, NEW))
    cfg = {"configurable": {"tenant_id": "acme"}}
    reembed_tenant(old, new, "acme", embedding=NEW, routes=routes)
    PinnedIndex(old, "acme").delete_all()  # the old copy is gone: only the new index can answer
    out = chain.invoke({"question": "when are refunds paid back"}, config=cfg)
    assert out["sources"][0]["doc_id"] == "refunds.md"


def test_records_without_text_stop_before_switching(
    indexes: tuple[Any, Any], tmp_path: Path
) -> None:
    old, new = indexes
    PinnedIndex(old, "acme").upsert([("raw-vector", [0.1] * 32, {"kind": "no text"})])
    routes = RoutingTable(tmp_path / "routes.json")
    with pytest.raises(PortabilityError, match="'raw-vector'.*text_key"):
        reembed_tenant(old, new, "acme", embedding=NEW, routes=routes)
    assert routes.get("acme") is None
    assert PinnedIndex(new, "acme").count() == 0  # what it wrote is gone again


def test_model_dimension_must_match_the_new_index(indexes: tuple[Any, Any]) -> None:
    old, new = indexes
    with pytest.raises(ConfigurationError, match="16-d vectors.*dimension 32.*dimension=16"):
        reembed_tenant(new, old, "acme", embedding=OLD.__class__(16))  # 16-d into a 32-d index
    with pytest.raises(PortabilityError, match="same index"):
        reembed_tenant(old, old, "acme", embedding=OLD)


def test_destination_with_records_needs_replace(indexes: tuple[Any, Any]) -> None:
    old, new = indexes
    PinnedIndex(new, "acme").upsert([("leftover", NEW.embed_query("x"), {"text": "old run"})])
    with pytest.raises(DestinationNotEmptyError):
        reembed_tenant(old, new, "acme", embedding=NEW)
    report = reembed_tenant(old, new, "acme", embedding=NEW, on_existing="replace")
    assert report.verified and not report.routed and report.notes
    assert "leftover" not in set(PinnedIndex(new, "acme").list_ids())
