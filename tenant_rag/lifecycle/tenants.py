"""Tenant lifecycle: onboard, offboard with verification, list, stats, update.

Every function here takes an explicit tenant id (validated by
`tenant_rag.tenancy.ids.validate_tenant`) and reaches Pinecone through a
`PinnedIndex`, so the fail-closed rules hold for operations work too: an
offboarding can only ever delete the one tenant's namespace (or, under
metadata isolation, the tenant's prefixed ids), never the default namespace
and never the shared namespace of metadata isolation.

`list_tenants` is the one function that looks across tenants. It returns
tenant names and record counts only, never records, and under metadata
isolation it reads every stored id of the shared namespace: an admin
operation, meant for operators, not for request paths.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tenant_rag.errors import InvalidTenantError, TenantRagError
from tenant_rag.lifecycle.erasure import DeletionReceipt, IndexErasure
from tenant_rag.lifecycle.scoping import tenant_scope
from tenant_rag.lifecycle.settle import until as settle_until
from tenant_rag.tenancy.acl import TENANT_ADMIN
from tenant_rag.tenancy.ids import DEFAULT_NAMESPACE_NAMES, validate_tenant
from tenant_rag.tenancy.pinned import PinnedIndex, index_name_of
from tenant_rag.tenancy.retry import RetryPolicy
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation, TenantScope
from tenant_rag.tenancy.sdk_errors import http_status
from tenant_rag.tenancy.sdk_models import field_of

#: HTTP statuses that mean "this server has no namespace listing" (older APIs, proxies).
_NO_LISTING_STATUSES = frozenset({404, 405, 501})
_PAGE_SIZE = 100


class OffboardVerificationError(TenantRagError):
    """Records of an offboarded tenant were still visible after the bounded wait.

    Pinecone is eventually consistent, so a delete can take a moment to show.
    ``report`` (also ``receipt``) is the `DeletionReceipt`: what was deleted and
    what was still counted per index; calling `offboard` again is safe (it is
    idempotent) and usually finishes the job.
    """

    def __init__(self, message: str, report: DeletionReceipt) -> None:
        super().__init__(message)
        self.report = report
        self.receipt = report


@dataclass(frozen=True)
class TenantInfo:
    """One tenant found in an index, with its record count as the API reports it."""

    tenant: str
    index: str
    record_count: int
    isolation: Isolation = "namespace"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: What offboarding did in one index (kept under its earlier name).
IndexOffboard = IndexErasure
#: `offboard` returns a `DeletionReceipt` (the earlier `OffboardReport`, same fields and more).
OffboardReport = DeletionReceipt


@dataclass(frozen=True)
class TenantStats:
    """A tenant's size in one index, what the index reports, and metered usage."""

    tenant: str
    index: str
    isolation: Isolation
    namespace: str
    record_count: int
    dimension: int | None = None
    metric: str | None = None
    index_fullness: float | None = None
    index_record_count: int | None = None
    vector_type: str | None = None
    usage: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- onboarding ----------------------------------------------------------------------


def onboard(
    index: Any,
    tenant: str,
    *,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
) -> str:
    """Check that ``tenant`` can be onboarded onto ``index``; return its namespace.

    Optional: as in Pinecone, a tenant's namespace is created by its first
    upsert, so there is nothing to create here. Calling it at sign-up still
    pays off: it rejects a tenant id that the data path would reject later
    (empty, ``__default__``, non-ASCII, too long) and a namespace-mode tenant
    named like the metadata-isolation shared namespace.
    """
    scope = tenant_scope(tenant, isolation, shared_namespace)
    _ = index  # accepted for symmetry with the other calls; nothing to create
    return scope.namespace


# -- offboarding ---------------------------------------------------------------------


def offboard(
    tenant: str,
    *indexes: Any,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    wait: float = 30.0,
    pc: Any = None,
    raise_if_unverified: bool = True,
    audit_log: str | os.PathLike[str] | None = None,
) -> DeletionReceipt:
    """Delete every record of ``tenant`` in each index named, prove nothing is left, return a receipt.

    ``indexes`` are data-plane handles (from ``ensure_index``) or index names
    (opened with ``pc``, default `tenant_rag.connection.connect()`). Namespace
    isolation deletes the tenant's namespace; metadata isolation deletes the
    tenant's prefixed ids in the shared namespace. Both go through
    `PinnedIndex.delete_all`, so nothing else can be reached.

    Before deleting, every id of the tenant is listed (for the receipt's count
    and SHA-256 of the deleted ids). Afterwards each index is polled (back-off,
    at most ``wait`` seconds in all) until it reports no record of the tenant,
    since Pinecone is eventually consistent; a probe query must find nothing;
    on the embedded server the write-ahead log is checkpointed, so the records
    are gone from disk too. The `DeletionReceipt` (see
    `tenant_rag.lifecycle.erasure`) is appended to ``audit_log`` (or
    ``$TENANT_RAG_AUDIT_LOG``) when one is named. Idempotent: a second call
    deletes 0 and succeeds.

    Raises:
        InvalidTenantError: the tenant id is missing, empty, the default
            namespace, or the metadata-isolation shared namespace.
        ValueError: no index was named.
        OffboardVerificationError: records were still visible after ``wait``
            (only when ``raise_if_unverified``; the receipt is attached).
    """
    from tenant_rag.lifecycle.erasure import (
        append_receipt,
        backups_before,
        inventory,
        make_physical,
        now_iso,
        probe_count,
        receipt_notes,
    )

    scope = tenant_scope(tenant, isolation, shared_namespace)
    if not indexes:
        raise ValueError(
            f"offboard({scope.tenant!r}) needs at least one index: pass the handle or name of "
            "every workload index the tenant has data in (e.g. the 'rag' and 'search' indexes)."
        )
    started = now_iso()
    handles = [_open(pc, ix) for ix in indexes]
    pinned = [PinnedIndex(h, scope, retry=RetryPolicy(), principal=TENANT_ADMIN) for h in handles]
    before = [inventory(p) for p in pinned]
    deleted = [p.delete_all() for p in pinned]
    deadline = time.monotonic() + max(0.0, wait)
    results = []
    for handle, p, n, (count, ids_digest, listed) in zip(
        handles, pinned, deleted, before, strict=True
    ):
        remaining, waited, seen = _wait_until_empty(p, deadline)
        results.append(
            IndexErasure(
                index=p.index_name,
                namespace=p.namespace,
                deleted=n,
                remaining=remaining,
                verified=remaining == 0,
                seconds_waited=round(waited, 3),
                records_before=max(count, n),
                deleted_ids_sha256=ids_digest,
                ids_listed=listed,
                verification={**seen, "probe": probe_count(p)},
                storage=make_physical(handle),
                backups=backups_before(handle, p.index_name, started, pc),
            )
        )
    report = DeletionReceipt(
        scope.tenant,
        scope.isolation,
        tuple(results),
        kind="offboard",
        started_at=started,
        finished_at=now_iso(),
        notes=tuple(receipt_notes(results)),
    )
    append_receipt(report, audit_log)
    if raise_if_unverified and not report.verified:
        left = ", ".join(f"{r.index}: {r.remaining}" for r in results if not r.verified)
        raise OffboardVerificationError(
            f"tenant {scope.tenant!r} still has records after {wait:g} s ({left}). Pinecone is "
            "eventually consistent: run offboard again (it is idempotent) or raise wait=.",
            report,
        )
    return report


def _wait_until_empty(pinned: PinnedIndex, deadline: float) -> tuple[int, float, dict[str, int]]:
    """Poll until the tenant has no record in this index or the deadline passes.

    Returns (records still seen, seconds waited, what the last poll saw: ``stats``
    count and ``list``ed ids).
    """
    start = time.monotonic()
    seen: dict[str, int] = {}

    def empty() -> bool:
        seen.update(_remaining(pinned))
        return max(seen.values()) == 0

    settle_until(empty, deadline - start, max_delay=1.0)
    return max(seen.values()), time.monotonic() - start, seen


def _remaining(pinned: PinnedIndex) -> dict[str, int]:
    """Records of the tenant still visible: both the count and one page of ids."""
    counted = pinned.count()
    listed = sum(1 for _ in pinned.list_ids(limit=_PAGE_SIZE))
    return {"stats": counted, "list": listed}


# -- listing -------------------------------------------------------------------------


def list_tenants(
    index: Any,
    *,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    page_size: int = _PAGE_SIZE,
) -> list[TenantInfo]:
    """Every tenant with data in ``index``, sorted by id, with record counts.

    Namespace isolation pages through ``list_namespaces`` (100 per page); on
    a server without namespace listing (404/405/501, or an SDK/handle without
    the method) it falls back to ``describe_index_stats``. Metadata
    isolation derives the tenants from the prefixes of the stored ids in the
    shared namespace: that reads every id, so it is an admin operation
    (1 RU per page of 100 ids on Pinecone), not something to call per request.

    The default namespace and the shared namespace are never reported as
    tenants, nor is any namespace whose name is not a valid tenant id.
    """
    name = index_name_of(index)
    if isolation == "metadata":
        counts: dict[str, int] = {}
        for stored in _list_stored_ids(index, shared_namespace, page_size):
            owner = TenantScope.tenant_of_stored_id(stored)
            if owner is not None and _is_tenant_name(owner, shared_namespace):
                counts[owner] = counts.get(owner, 0) + 1
        return [TenantInfo(t, name, c, "metadata") for t, c in sorted(counts.items())]
    if isolation != "namespace":
        raise ValueError(f"isolation must be 'namespace' or 'metadata', got {isolation!r}.")
    try:
        namespaces = dict(_list_namespaces(index, page_size))
    except Exception as exc:
        if not _listing_unavailable(exc):
            raise
        namespaces = _namespaces_from_stats(index)
    return [
        TenantInfo(ns, name, count, "namespace")
        for ns, count in sorted(namespaces.items())
        if _is_tenant_name(ns, shared_namespace)
    ]


def _list_namespaces(index: Any, page_size: int) -> Iterator[tuple[str, int]]:
    """(name, record_count) for every namespace, following pagination tokens."""
    token: str | None = None
    seen: set[str] = set()
    while True:
        kwargs: dict[str, Any] = {"limit": page_size}
        if token:
            kwargs["pagination_token"] = token
        page = index.list_namespaces_paginated(**kwargs)
        for ns in field_of(page, "namespaces") or []:
            yield str(field_of(ns, "name")), int(field_of(ns, "record_count") or 0)
        token = _next_token(page)
        if not token or token in seen:  # a repeated token would loop forever
            return
        seen.add(token)


def _namespaces_from_stats(index: Any) -> dict[str, int]:
    stats = index.describe_index_stats()
    namespaces = field_of(stats, "namespaces") or {}
    return {str(ns): int(field_of(s, "vector_count") or 0) for ns, s in namespaces.items()}


def _list_stored_ids(index: Any, namespace: str, page_size: int) -> Iterator[str]:
    token: str | None = None
    seen: set[str] = set()
    while True:
        kwargs: dict[str, Any] = {"namespace": namespace, "limit": page_size}
        if token:
            kwargs["pagination_token"] = token
        try:
            page = index.list_paginated(**kwargs)
        except Exception as exc:
            if http_status(exc) == 404:  # the shared namespace does not exist yet
                return
            raise
        for item in field_of(page, "vectors") or []:
            yield str(field_of(item, "id"))
        token = _next_token(page)
        if not token or token in seen:
            return
        seen.add(token)


def _listing_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, AttributeError | NotImplementedError) or (
        http_status(exc) in _NO_LISTING_STATUSES
    )


def _is_tenant_name(name: str, shared_namespace: str) -> bool:
    if name in DEFAULT_NAMESPACE_NAMES or name == shared_namespace:
        return False
    try:
        validate_tenant(name)
    except InvalidTenantError:
        return False
    return True


# -- stats and update ----------------------------------------------------------------


def tenant_stats(
    index: Any,
    tenant: str,
    *,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    meter: Any = None,
) -> TenantStats:
    """The tenant's record count in ``index``, the index's own figures, and usage.

    Usage comes from ``meter`` (a `UsageMeter`) or, if none is given, the
    most recently started meter in this process; it is ``None`` when no meter
    is running. The count is exact under namespace isolation; under metadata
    isolation it lists the tenant's ids (1 RU per 100 on Pinecone).
    """
    scope = tenant_scope(tenant, isolation, shared_namespace)
    pinned = PinnedIndex(index, scope, principal=TENANT_ADMIN)
    count = pinned.count()
    stats = index.describe_index_stats()
    usage_figures = None
    if meter is None:
        from tenant_rag.lifecycle.metering import active_meter

        meter = active_meter()
    if meter is not None:
        usage_figures = meter.usage(tenant=scope.tenant, index=pinned.index_name).to_dict()
    dimension = field_of(stats, "dimension")
    fullness = field_of(stats, "index_fullness")
    total = field_of(stats, "total_vector_count")
    return TenantStats(
        tenant=scope.tenant,
        index=pinned.index_name,
        isolation=scope.isolation,
        namespace=scope.namespace,
        record_count=count,
        dimension=int(dimension) if dimension is not None else None,
        metric=_opt_str(field_of(stats, "metric")),
        index_fullness=float(fullness) if fullness is not None else None,
        index_record_count=int(total) if total is not None else None,
        vector_type=_opt_str(field_of(stats, "vector_type")),
        usage=usage_figures,
    )


def update_record(
    index: Any,
    tenant: str,
    id: str,
    *,
    values: Sequence[float] | None = None,
    metadata: Mapping[str, Any] | None = None,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
) -> None:
    """Update one of the tenant's records: new values and/or merged metadata.

    The seed's update step, pinned: the id is the tenant's own (prefixed
    under metadata isolation) and the tenant field cannot be overwritten.
    As in Pinecone, metadata keys are merged into the existing ones.
    """
    if values is None and metadata is None:
        raise ValueError("update_record needs values=, metadata= or both; got neither.")
    scope = tenant_scope(tenant, isolation, shared_namespace)
    PinnedIndex(index, scope, retry=RetryPolicy(), principal=TENANT_ADMIN).update(
        id, values=values, set_metadata=metadata
    )


# -- helpers -------------------------------------------------------------------------


def _open(pc: Any, index: Any) -> Any:
    """A data-plane handle for an index handle or an index name."""
    if not isinstance(index, str):
        return index
    from tenant_rag.connection import connect, ensure_index

    client = pc if pc is not None else connect()
    desc = client.describe_index(index)
    return ensure_index(
        client, index, dimension=int(desc.dimension), metric=str(desc.metric or "cosine")
    )


def _next_token(page: Any) -> str | None:
    pagination = field_of(page, "pagination")
    token = field_of(pagination, "next") if pagination is not None else None
    return str(token) if token else None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


__all__ = [
    "IndexOffboard",
    "OffboardReport",
    "OffboardVerificationError",
    "TenantInfo",
    "TenantStats",
    "list_tenants",
    "offboard",
    "onboard",
    "tenant_scope",
    "tenant_stats",
    "update_record",
]
