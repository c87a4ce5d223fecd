"""PinnedIndex against the embedded server with the real SDK, REST and gRPC, both isolation modes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tenant_rag import PinnedIndex, QuotaExceededError, TenantIsolationError, ensure_index
from tenant_rag.local import LocalServer
from tenant_rag.tenancy import usage
from tenant_rag.tenancy.pinned import Record

DIM = 4


def unit(i: int) -> list[float]:
    v = [0.0] * DIM
    v[i % DIM] = 1.0
    return v


@pytest.fixture(scope="module")
def rest_index(shared_local_server: LocalServer) -> Any:
    return ensure_index(shared_local_server.client(), f"pin-{uuid.uuid4().hex[:10]}", dimension=DIM)


@pytest.fixture(scope="module")
def grpc_index(shared_local_server: LocalServer, rest_index: Any) -> Any:
    return shared_local_server.grpc_index(rest_index._tenant_rag_index_name)


@pytest.fixture(params=["rest-namespace", "rest-metadata", "grpc-namespace", "grpc-metadata"])
def pair(request, rest_index, grpc_index):
    """Two PinnedIndex objects (same transport and mode) with identical records, ``owner`` aside."""
    transport, mode = request.param.split("-")
    raw = rest_index if transport == "rest" else grpc_index
    tag = uuid.uuid4().hex[:8]
    a, b = (PinnedIndex(raw, f"{n}-{tag}", isolation=mode) for n in ("acme", "globex"))
    for p in (a, b):
        assert (
            p.upsert(
                [
                    {"id": "r1", "values": unit(0), "metadata": {"owner": p.tenant, "n": 1}},
                    ("r2", unit(1), {"owner": p.tenant, "n": 2}),
                    Record(id="r3", values=unit(2), metadata={"owner": p.tenant, "n": 3}),
                ]
            )
            == 3
        )
    yield a, b
    a.delete_all()
    b.delete_all()


def test_query_by_vector_and_by_id_stays_in_tenant(pair) -> None:
    a, b = pair
    for p in (a, b):
        hits = p.query(vector=unit(0), top_k=10)
        assert [h.id for h in hits][0] == "r1" and len(hits) == 3
        assert {h.metadata["owner"] for h in hits} == {p.tenant}
        assert all("tenant_id" not in h.metadata for h in hits)
        assert hits[0].score == pytest.approx(1.0)
        by_id = p.query(id="r2", top_k=1, include_values=True)
        assert by_id[0].id == "r2" and by_id[0].values == pytest.approx(unit(1))
        assert p.query(vector=unit(0), top_k=10, filter={"n": {"$gte": 2}})[0].id in {"r2", "r3"}
        assert p.query(vector=unit(0), top_k=10, filter={"owner": "nobody"}) == []


def test_fetch_list_count(pair) -> None:
    a, b = pair
    for p in (a, b):
        got = p.fetch(["r1", "r3", "missing"])
        assert sorted(got) == ["r1", "r3"]
        assert got["r1"].metadata == {"owner": p.tenant, "n": 1}
        assert got["r1"].values == pytest.approx(unit(0))
        assert list(p.list_ids()) == ["r1", "r2", "r3"]
        assert list(p.list_ids("r2")) == ["r2"]
        assert p.count() == 3


def test_update_and_delete_touch_one_tenant(pair) -> None:
    a, b = pair
    a.update("r1", values=unit(3), set_metadata={"n": 10})
    assert a.fetch(["r1"])["r1"].metadata["n"] == 10
    assert a.fetch(["r1"])["r1"].values == pytest.approx(unit(3))
    assert b.fetch(["r1"])["r1"].metadata["n"] == 1
    assert a.delete(["r1", "r2"]) == 2
    assert list(a.list_ids()) == ["r3"] and b.count() == 3
    a.delete_by_filter({"n": 3})
    assert a.count() == 0 and b.count() == 3
    with pytest.raises(ValueError):
        a.delete_by_filter({})


def test_delete_all_deletes_only_the_tenant(pair) -> None:
    a, b = pair
    assert a.delete_all() == 3
    assert a.count() == 0 and list(a.list_ids()) == [] and a.query(vector=unit(0)) == []
    assert b.count() == 3
    assert a.delete_all() == 0, "idempotent"
    a.upsert([("again", unit(0))])
    assert list(a.list_ids()) == ["again"]


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_metadata_mode_refuses_the_tenant_field(transport, rest_index, grpc_index) -> None:
    raw = rest_index if transport == "rest" else grpc_index
    tag = uuid.uuid4().hex[:8]
    a, b = (PinnedIndex(raw, f"{n}-{tag}", isolation="metadata") for n in ("acme", "globex"))
    b.upsert([("r1", unit(0), {"owner": b.tenant})])
    try:
        with pytest.raises(TenantIsolationError):
            a.upsert([{"id": "x", "values": unit(0), "metadata": {"tenant_id": b.tenant}}])
        with pytest.raises(TenantIsolationError):
            a.update("r1", set_metadata={"tenant_id": b.tenant})
        with pytest.raises(TenantIsolationError):
            a.query(vector=unit(0), filter={"$or": [{"tenant_id": b.tenant}]})
        with pytest.raises(TenantIsolationError):
            a.delete_by_filter({"tenant_id": {"$ne": "x"}})
        assert a.count() == 0 and b.count() == 1
        assert b.fetch(["r1"])["r1"].metadata == {"owner": b.tenant}
    finally:
        b.delete_all()


def test_a_foreign_record_in_a_response_is_refused(rest_index) -> None:
    """Defence in depth: a record without the tenant's mark is never returned."""
    tag = uuid.uuid4().hex[:8]
    a = PinnedIndex(rest_index, f"acme-{tag}", isolation="metadata")
    # written behind the pin's back: a's id prefix but no tenant mark in metadata
    rest_index.upsert(
        vectors=[{"id": a.scope.stored_id("forged"), "values": unit(0), "metadata": {"x": 1}}],
        namespace=a.namespace,
    )
    try:
        with pytest.raises(TenantIsolationError, match="refusing"):
            a.fetch(["forged"])
    finally:
        rest_index.delete(ids=[a.scope.stored_id("forged")], namespace=a.namespace)


def test_usage_is_reported_and_guards_can_refuse(pair) -> None:
    a, _ = pair
    events: list[usage.UsageEvent] = []
    stop = usage.add_listener(events.append)

    def quota(tenant: str, index: str, operation: str, records: int) -> None:
        if operation == "upsert" and records > 2:
            raise QuotaExceededError(tenant, "records", 2, records)

    unguard = usage.add_guard(quota)
    try:
        a.query(vector=unit(0), top_k=2)
        a.fetch(["r1"])
        a.upsert([("r4", unit(0))])
        with pytest.raises(QuotaExceededError):
            a.upsert([(f"x{i}", unit(0)) for i in range(3)])
        assert "x0" not in a.fetch(["x0"])
    finally:
        stop()
        unguard()
    ops = [(e.operation, e.tenant) for e in events]
    assert ("query", a.tenant) in ops and ("fetch", a.tenant) in ops and ("upsert", a.tenant) in ops
    query = next(e for e in events if e.operation == "query")
    assert query.read_units > 0
    upsert = next(e for e in events if e.operation == "upsert")
    assert upsert.write_units >= 5 and upsert.records == 1
    assert query.index == a.index_name and not a.index_name.startswith("http")


def test_query_needs_exactly_one_of_vector_or_id(pair) -> None:
    a, _ = pair
    with pytest.raises(ValueError):
        a.query(top_k=1)
    with pytest.raises(ValueError):
        a.query(vector=unit(0), id="r1")
