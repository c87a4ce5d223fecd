"""Lifecycle against the embedded server with the real SDK: offboard, list, stats, update."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pinecone.exceptions import NotFoundException

from tenant_rag.errors import InvalidTenantError, TenantIsolationError
from tenant_rag.lifecycle import (
    OffboardVerificationError,
    list_tenants,
    offboard,
    onboard,
    tenant_stats,
    update_record,
)
from tenant_rag.tenancy import PinnedIndex

from .conftest import seed_records, vec

# -- onboard ------------------------------------------------------------------------------


def test_onboard_returns_namespace_and_creates_nothing(new_index: Any) -> None:
    ix = new_index()
    assert onboard(ix, "acme") == "acme"
    assert onboard(ix, "acme", isolation="metadata") == "tenant-shared"
    assert list_tenants(ix) == []


@pytest.mark.parametrize("bad", [None, "", "__default__", " acme", "ümlaut", 42, "tenant-shared"])
def test_onboard_refuses_bad_tenants(new_index: Any, bad: Any) -> None:
    with pytest.raises(InvalidTenantError):
        onboard(new_index(), bad)


# -- offboard -----------------------------------------------------------------------------


def test_offboard_deletes_verifies_and_is_idempotent(new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "acme", 7)
    seed_records(ix, "globex", 3)

    report = offboard("acme", ix)
    assert report.verified and report.deleted == 7
    [row] = report.indexes
    assert (row.namespace, row.deleted, row.remaining) == ("acme", 7, 0)
    assert PinnedIndex(ix, "acme").count() == 0
    assert list(PinnedIndex(ix, "acme").list_ids()) == []
    # the other tenant is intact
    assert PinnedIndex(ix, "globex").count() == 3
    assert sorted(PinnedIndex(ix, "globex").fetch(["doc-0", "doc-1", "doc-2"])) == [
        "doc-0",
        "doc-1",
        "doc-2",
    ]

    again = offboard("acme", ix)
    assert again.verified and again.deleted == 0


def test_offboard_spans_every_named_index(new_index: Any) -> None:
    rag, search = new_index("rag"), new_index("search")
    for ix in (rag, search):
        seed_records(ix, "acme", 4)
        seed_records(ix, "globex", 2)

    report = offboard("acme", rag, search)
    assert report.verified
    assert [(r.index, r.deleted) for r in report.indexes] == [
        (rag._tenant_rag_index_name, 4),
        (search._tenant_rag_index_name, 4),
    ]
    for ix in (rag, search):
        assert [t.tenant for t in list_tenants(ix)] == ["globex"]
        assert PinnedIndex(ix, "globex").count() == 2


def test_offboard_by_index_name(pc: Any, new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "acme", 2)
    report = offboard("acme", ix._tenant_rag_index_name, pc=pc)
    assert report.deleted == 2 and report.verified


def test_offboard_metadata_isolation_deletes_only_the_tenants_prefixed_ids(new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "acme", 5, isolation="metadata")
    seed_records(ix, "acme-corp", 2, isolation="metadata")  # prefix look-alike
    seed_records(ix, "globex", 3, isolation="metadata")

    report = offboard("acme", ix, isolation="metadata")
    assert report.verified and report.deleted == 5
    assert report.indexes[0].namespace == "tenant-shared"
    remaining = {t.tenant: t.record_count for t in list_tenants(ix, isolation="metadata")}
    assert remaining == {"acme-corp": 2, "globex": 3}
    assert offboard("acme", ix, isolation="metadata").deleted == 0


def test_offboard_never_reaches_default_or_shared_namespace(pc: Any, new_index: Any) -> None:
    ix = new_index()
    # raw SDK writes into the default namespace and the shared namespace
    ix.upsert(vectors=[("public", vec(1))], namespace="")
    ix.upsert(vectors=[("shared", vec(2))], namespace="tenant-shared")
    seed_records(ix, "acme", 1)

    for bad in (None, "", "__default__", "tenant-shared"):
        with pytest.raises(InvalidTenantError):
            offboard(bad, ix)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one index"):
        offboard("acme")
    offboard("acme", ix)

    stats = ix.describe_index_stats()
    default = stats.namespaces.get("__default__") or stats.namespaces[""]
    assert default.vector_count == 1
    assert stats.namespaces["tenant-shared"].vector_count == 1
    assert [t.tenant for t in list_tenants(ix)] == []  # neither is a tenant


class _NeverEmpties:
    """A handle whose stats always report a leftover record (eventual consistency gone wrong)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._tenant_rag_index_name = "stuck"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def describe_index_stats(self, **kw: Any) -> Any:
        return SimpleNamespace(namespaces={"acme": SimpleNamespace(vector_count=1)}, dimension=8)

    def describe_namespace(self, namespace: str, **kw: Any) -> Any:
        return SimpleNamespace(name=namespace, record_count=1)


def test_offboard_reports_unverified_deletion_after_bounded_wait(new_index: Any) -> None:
    stuck = _NeverEmpties(new_index())
    with pytest.raises(OffboardVerificationError, match="still has records") as err:
        offboard("acme", stuck, wait=0.2)
    assert err.value.report.indexes[0].remaining == 1
    report = offboard("acme", stuck, wait=0.1, raise_if_unverified=False)
    assert not report.verified


# -- list_tenants ----------------------------------------------------------------------------


class _CountingPages:
    """Counts the namespace-listing requests made through a real handle."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._tenant_rag_index_name = inner._tenant_rag_index_name
        self.pages = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def list_namespaces_paginated(self, **kw: Any) -> Any:
        self.pages += 1
        return self._inner.list_namespaces_paginated(**kw)


def test_list_tenants_pages_past_100(new_index: Any) -> None:
    ix = new_index()
    tenants = [f"t{i:03d}" for i in range(105)]
    for i, t in enumerate(tenants):
        PinnedIndex(ix, t).upsert([("a", vec(i))] + ([("b", vec(i + 1))] if i % 10 == 0 else []))
    ix.upsert(vectors=[("public", vec(0))], namespace="")

    counted = _CountingPages(ix)
    found = list_tenants(counted)
    assert counted.pages == 2  # 105 tenants at 100 per page (the default namespace is skipped)
    assert [t.tenant for t in found] == tenants
    assert all(t.record_count == (2 if i % 10 == 0 else 1) for i, t in enumerate(found))
    assert list_tenants(ix, page_size=30) == found


def _grpc_unimplemented() -> Exception:
    """What GRPCIndex raises when the server has no namespace listing: cause is a grpc error."""
    import grpc
    from pinecone.exceptions import PineconeException

    class _RpcError(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNIMPLEMENTED

    exc = PineconeException("Method not implemented")
    exc.__cause__ = _RpcError()
    return exc


class _NoNamespaceListing:
    """Wraps a real handle; namespace listing fails the way older servers/SDKs do."""

    def __init__(self, inner: Any, exc: BaseException) -> None:
        self._inner, self._exc = inner, exc
        self._tenant_rag_index_name = inner._tenant_rag_index_name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def list_namespaces_paginated(self, **kw: Any) -> Any:
        raise self._exc


@pytest.mark.parametrize(
    "exc",
    [
        NotFoundException(status=404, reason="Not Found"),
        AttributeError("list_namespaces_paginated"),
        type("MethodNotAllowed", (Exception,), {"status": 405})(),
        _grpc_unimplemented(),
    ],
    ids=["404", "attribute", "405", "grpc-unimplemented"],
)
def test_list_tenants_falls_back_to_stats(new_index: Any, exc: BaseException) -> None:
    ix = new_index()
    seed_records(ix, "acme", 2)
    seed_records(ix, "globex", 1)
    ix.upsert(vectors=[("public", vec(0))], namespace="")
    ix.upsert(vectors=[("shared", vec(0))], namespace="tenant-shared")
    found = list_tenants(_NoNamespaceListing(ix, exc))
    assert [(t.tenant, t.record_count) for t in found] == [("acme", 2), ("globex", 1)]


def test_list_tenants_does_not_hide_other_errors(new_index: Any) -> None:
    broken = _NoNamespaceListing(new_index(), PermissionError("denied"))
    with pytest.raises(PermissionError):
        list_tenants(broken)


def test_list_tenants_metadata_mode_from_id_prefixes(new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "a b/c", 3, isolation="metadata")  # quoted in the id prefix
    seed_records(ix, "globex", 1, isolation="metadata")
    ix.upsert(vectors=[("unprefixed", vec(0))], namespace="tenant-shared")
    found = list_tenants(ix, isolation="metadata", page_size=2)
    assert [(t.tenant, t.record_count, t.isolation) for t in found] == [
        ("a b/c", 3, "metadata"),
        ("globex", 1, "metadata"),
    ]
    assert list_tenants(new_index(), isolation="metadata") == []


# -- tenant_stats and update_record -------------------------------------------------------------


def test_tenant_stats(new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "acme", 4)
    seed_records(ix, "globex", 2)
    stats = tenant_stats(ix, "acme")
    assert (stats.tenant, stats.namespace, stats.record_count) == ("acme", "acme", 4)
    assert stats.dimension == 8 and stats.index_record_count == 6
    assert stats.to_dict()["record_count"] == 4
    assert tenant_stats(ix, "nobody").record_count == 0

    seed_records(ix, "acme", 3, isolation="metadata")
    md = tenant_stats(ix, "acme", isolation="metadata")
    assert (md.namespace, md.record_count) == ("tenant-shared", 3)
    with pytest.raises(InvalidTenantError):
        tenant_stats(ix, "")


def test_update_record_namespace_mode(new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "acme", 2)
    seed_records(ix, "globex", 2)
    update_record(ix, "acme", "doc-1", values=vec(99), metadata={"genre": "drama"})
    rec = PinnedIndex(ix, "acme").fetch(["doc-1"])["doc-1"]
    assert rec.metadata == {"text": "acme record 1", "genre": "drama"}
    assert rec.values == pytest.approx(vec(99), rel=1e-6)
    other = PinnedIndex(ix, "globex").fetch(["doc-1"])["doc-1"]
    assert "genre" not in other.metadata  # same id in another tenant untouched

    with pytest.raises(ValueError, match="values=, metadata="):
        update_record(ix, "acme", "doc-1")
    with pytest.raises(InvalidTenantError):
        update_record(ix, "__default__", "doc-1", metadata={"x": "y"})


def test_update_record_metadata_mode_cannot_touch_tenant_field(new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "acme", 1, isolation="metadata")
    update_record(ix, "acme", "doc-0", metadata={"genre": "news"}, isolation="metadata")
    rec = PinnedIndex(ix, "acme", isolation="metadata").fetch(["doc-0"])["doc-0"]
    assert rec.metadata["genre"] == "news"
    with pytest.raises(TenantIsolationError):
        update_record(ix, "acme", "doc-0", metadata={"tenant_id": "globex"}, isolation="metadata")
    raw = ix.fetch(ids=["acme::doc-0"], namespace="tenant-shared").vectors["acme::doc-0"]
    assert raw.metadata["tenant_id"] == "acme"


def test_lifecycle_over_grpc(shared_local_server: Any, new_index: Any) -> None:
    from pinecone.grpc import GRPCClientConfig

    rest = new_index("grpc")
    name = rest._tenant_rag_index_name
    grpc_ix = shared_local_server.grpc_client().Index(
        name=name, host=shared_local_server.grpc_target, grpc_config=GRPCClientConfig(secure=False)
    )
    seed_records(grpc_ix, "acme", 3)
    seed_records(grpc_ix, "globex", 2)
    assert [(t.tenant, t.record_count) for t in list_tenants(grpc_ix)] == [
        ("acme", 3),
        ("globex", 2),
    ]
    update_record(grpc_ix, "acme", "doc-0", metadata={"genre": "news"})
    assert tenant_stats(grpc_ix, "acme").record_count == 3
    report = offboard("acme", grpc_ix)
    assert report.verified and report.deleted == 3
    assert offboard("acme", grpc_ix).deleted == 0
    assert [t.tenant for t in list_tenants(rest)] == ["globex"]
