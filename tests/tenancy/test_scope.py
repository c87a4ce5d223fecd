"""TenantScope: the pin can never be widened by ids, filters or namespaces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenant_rag import TenantIsolationError, TenantScope

PRINTABLE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)


@pytest.mark.parametrize("ns", [None, "", "__default__", "other", "acme2"])
def test_foreign_namespace_kwarg_is_refused(ns: object) -> None:
    scope = TenantScope("acme")
    with pytest.raises(TenantIsolationError, match="pinned to tenant 'acme'"):
        scope.check_namespace_kwarg({"namespace": ns}, where="query")


def test_own_namespace_kwarg_is_a_no_op_and_is_removed() -> None:
    kwargs = {"namespace": "acme", "k": 3}
    TenantScope("acme").check_namespace_kwarg(kwargs)
    assert kwargs == {"k": 3}


def test_namespace_mode_passes_filters_through() -> None:
    scope = TenantScope("acme")
    assert scope.namespace == "acme"
    assert scope.pinned_filter({"genre": "x"}) == {"genre": "x"}
    assert scope.pinned_filter(None) is None
    assert scope.stored_id("doc#0") == "doc#0"


def test_metadata_mode_forces_the_tenant_into_every_filter() -> None:
    scope = TenantScope("acme", "metadata")
    assert scope.namespace == "tenant-shared"
    assert scope.pinned_filter(None) == {"tenant_id": {"$eq": "acme"}}
    assert scope.pinned_filter({"genre": "x"}) == {
        "$and": [{"tenant_id": {"$eq": "acme"}}, {"genre": "x"}]
    }


@pytest.mark.parametrize(
    "widening",
    [
        {"tenant_id": "other"},
        {"$or": [{"tenant_id": {"$eq": "other"}}, {"genre": "x"}]},
        {"$and": [{"genre": "x"}, {"$or": [{"tenant_id": {"$in": ["a", "b"]}}]}]},
        {"tenant_id": {"$exists": True}},
    ],
)
def test_metadata_mode_refuses_filters_naming_the_tenant_field(widening: dict) -> None:
    with pytest.raises(TenantIsolationError, match="reserved tenant field"):
        TenantScope("acme", "metadata").pinned_filter(widening)


def test_metadata_mode_refuses_the_default_namespace_as_shared_namespace() -> None:
    with pytest.raises(TenantIsolationError):
        TenantScope("acme", "metadata", shared_namespace="")
    with pytest.raises(TenantIsolationError):
        TenantScope("acme", "metadata", shared_namespace="__default__")


def test_metadata_mode_refuses_a_forged_tenant_in_metadata() -> None:
    scope = TenantScope("acme", "metadata")
    assert scope.stored_metadata({"a": 1}) == {"a": 1, "tenant_id": "acme"}
    with pytest.raises(TenantIsolationError):
        scope.stored_metadata({"tenant_id": "evil"})
    assert scope.public_metadata({"a": 1, "tenant_id": "acme"}) == {"a": 1}


@given(PRINTABLE.filter(lambda t: t == t.strip()), PRINTABLE.filter(lambda t: t == t.strip()))
def test_metadata_id_prefixes_are_prefix_free(a: str, b: str) -> None:
    """No tenant's prefix starts another tenant's prefix, so list-by-prefix never crosses."""
    if a == b or {a, b} & {"__default__", ".", ".."}:
        return
    pa, pb = TenantScope(a, "metadata").id_prefix, TenantScope(b, "metadata").id_prefix
    assert not pa.startswith(pb) and not pb.startswith(pa)
    assert TenantScope.tenant_of_stored_id(pa + "doc#1") == a


def test_public_id_refuses_foreign_ids() -> None:
    scope = TenantScope("acme", "metadata")
    assert scope.public_id(scope.stored_id("x")) == "x"
    with pytest.raises(TenantIsolationError):
        scope.public_id(TenantScope("acme2", "metadata").stored_id("x"))


def test_record_batches_respect_count_and_byte_budgets_in_order() -> None:
    import json

    from tenant_rag.tenancy.batching import record_batches

    records = [
        {"id": f"r{i}", "values": [0.5] * 8, "metadata": {"text": "x" * (i * 50)}}
        for i in range(40)
    ]
    batches = record_batches(records, max_records=7, max_bytes=4000)
    assert [r["id"] for b in batches for r in b] == [r["id"] for r in records]
    for b in batches:
        assert len(b) <= 7
        assert len(b) == 1 or len(json.dumps(b)) <= 4000
    assert any(len(b) < 7 for b in batches[:-1]), "the byte budget closed some batches early"


def test_sparse_values_count_against_the_byte_budget() -> None:
    import json

    from tenant_rag.tenancy.batching import record_batches, record_bytes

    sparse = {"indices": list(range(4000)), "values": [0.123456789] * 4000}
    rec = {"id": "s", "values": [0.5] * 4, "sparse_values": sparse}
    assert record_bytes(rec) >= len(json.dumps(rec))
    dense_only = {"id": "s", "values": [0.5] * 4}
    assert record_bytes(rec) > record_bytes(dense_only) + 4000 * 30
    assert [len(b) for b in record_batches([rec] * 30, max_bytes=400_000)] == [2] * 15
