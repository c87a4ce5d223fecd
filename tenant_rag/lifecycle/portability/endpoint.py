"""One side of a transfer: a tenant in an index, read and written in pages through `PinnedIndex`.

Every read and write of the portability operations goes through a
`PinnedIndex`, so the fail-closed rules hold here as everywhere: the tenant's
namespace (or its id prefix and ``tenant_id`` field under metadata isolation)
is applied by the tenancy layer, and every record read back is checked to be
the tenant's own. Bulk upserts and fetches use ingestion's lean REST transport
(`tenant_rag.ingestion.sdk.lean_handle`) when the handle is the SDK's REST
``Index``.

A page is one fetch: the ids of one or more listing requests (Pinecone lists
at most 100 ids at once), up to 1,000 ids and about 8 KB of ids in the fetch
URL (a GET carries its ids in the query string, and servers cap the request
line: uvicorn's at 16 KB). The streaming operations hold one page at a time,
so their memory does not grow with the tenant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np

from tenant_rag.connection import index_shape
from tenant_rag.errors import IndexMismatchError
from tenant_rag.lifecycle.portability.checksum import (
    Checksum,
    canonical_metadata,
    dense_digests,
    record_digest,
)
from tenant_rag.tenancy.acl import AclPolicy, acl_policy_of
from tenant_rag.tenancy.batching import record_batches
from tenant_rag.tenancy.limits import MAX_UPSERT_RECORDS
from tenant_rag.tenancy.pinned import PinnedIndex, Record, index_name_of
from tenant_rag.tenancy.retry import RetryPolicy
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation, TenantScope
from tenant_rag.tenancy.sdk_models import field_of

_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
#: Ids per listing request (Pinecone lists at most 100 per request).
LIST_SIZE = 100
#: Ids per page (one fetch request): Pinecone fetches at most 1,000 ids at once.
PAGE_SIZE = 1000
#: Bytes of (percent-encoded) ids per fetch URL, well under servers' request-line limits.
FETCH_URL_BYTES = 8000


@dataclass(frozen=True)
class IndexInfo:
    """What a transfer needs to know about an index: its shape and where it is."""

    name: str
    dimension: int | None
    metric: str | None
    vector_type: str
    #: the index's data-plane host when the handle knows it (two handles of one index share it)
    host: str | None
    #: the embedding model the index records, when known
    embedding_model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dimension": self.dimension,
            "metric": self.metric,
            "vector_type": self.vector_type,
            "embedding_model": self.embedding_model,
        }


@dataclass
class Page:
    """One page of a tenant's records, as the tenant sees them, in listing order."""

    ids: list[str]
    records: list[Record]

    def __len__(self) -> int:
        return len(self.records)


class TenantEndpoint:
    """A tenant in one index: describe it, stream its records, write and delete them."""

    def __init__(
        self,
        index: Any,
        tenant: str,
        *,
        isolation: Isolation = "namespace",
        shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
        retry: RetryPolicy | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        from tenant_rag.ingestion.sdk import lean_handle  # loads the ingestion stack: not at import
        from tenant_rag.lifecycle.scoping import tenant_scope
        from tenant_rag.tenancy.acl import TENANT_ADMIN

        self.handle = index
        self.scope: TenantScope = tenant_scope(tenant, isolation, shared_namespace)
        self.pinned = PinnedIndex(
            lean_handle(index),
            self.scope,
            index_name=index_name_of(index),
            retry=retry or RetryPolicy(),
            # a tenant moves whole: every record, whoever may read it inside the tenant
            principal=TENANT_ADMIN,
        )
        self.page_size = page_size
        self._info: IndexInfo | None = None

    @property
    def tenant(self) -> str:
        return self.scope.tenant

    @property
    def namespace(self) -> str:
        return self.scope.namespace

    @property
    def index_name(self) -> str:
        return self.pinned.index_name

    def where(self) -> dict[str, Any]:
        """Where this side is, for reports, manifests and journals."""
        return {
            "index": self.index_name,
            "tenant": self.tenant,
            "isolation": self.scope.isolation,
            "namespace": self.namespace,
        }

    def same_place_as(self, other: TenantEndpoint) -> bool:
        """Whether both sides name the same records (same index, namespace and id prefix)."""
        mine, theirs = self.info(), other.info()
        same_index = (
            mine.host == theirs.host if mine.host and theirs.host else mine.name == theirs.name
        )
        return (
            same_index
            and self.namespace == other.namespace
            and self.scope.id_prefix == other.scope.id_prefix
        )

    # -- description -------------------------------------------------------------------

    def info(self) -> IndexInfo:
        """The index's dimension, metric and type, cached.

        From `ensure_index`'s record of the handle when there is one (it makes dense
        indexes only), else from ``describe_index_stats``, whose answer names every
        namespace of the index: about 3 s through SDK 7.x/8.x at 100,000 tenants.
        """
        if self._info is None:
            shape = index_shape(self.handle)
            if shape is not None:
                dimension: int | None = shape[0]
                metric: str | None = shape[1]
                vector_type = "dense"
            else:
                stats = self.pinned._call(self.handle.describe_index_stats)
                found = field_of(stats, "dimension")
                dimension = int(found) if found else None
                metric = _opt_str(field_of(stats, "metric"))
                vector_type = str(field_of(stats, "vector_type") or "dense")
            config = getattr(self.handle, "config", None)
            self._info = IndexInfo(
                name=self.index_name,
                dimension=dimension,
                metric=metric,
                vector_type=vector_type,
                host=str(getattr(config, "host", "") or "") or None,
            )
        return self._info

    def acl_policy(self) -> AclPolicy:
        """What documents without an access list mean in this index (its ``tenant-rag-acl`` tag)."""
        return acl_policy_of(self.handle)

    def check_compatible(self, *, dimension: int | None, metric: str | None, what: str) -> None:
        """Refuse records of another dimension or metric than this index's, naming the fix."""
        mine = self.info()
        if dimension is not None and mine.dimension is not None and dimension != mine.dimension:
            raise IndexMismatchError(
                f"{what} has {dimension}-d vectors but index {mine.name!r} has dimension "
                f"{mine.dimension}. Import into an index of dimension {dimension}, or use "
                "reembed_tenant to re-embed the text with the new index's model."
            )
        if metric and mine.metric and metric != mine.metric:
            raise IndexMismatchError(
                f"{what} comes from a {metric!r} index but index {mine.name!r} uses "
                f"{mine.metric!r}: scores would change meaning. Create the destination with "
                f"metric={metric!r}."
            )

    def count(self) -> int:
        return self.pinned.count()

    def is_empty(self) -> bool:
        """No record of the tenant here (one listing page, so exact under both isolations)."""
        return next(self.pinned.id_pages(page_size=1), None) is None

    # -- reading -------------------------------------------------------------------------

    def id_pages(self) -> Iterator[list[str]]:
        """The tenant's ids in pages of at most ``page_size`` ids (and ~8 KB of fetch URL)."""
        listed = self.pinned.id_pages(page_size=min(LIST_SIZE, self.page_size))
        return self.pages_of(rid for page in listed for rid in page)

    def pages_of(
        self, ids: Iterable[str], *, url_bytes_max: int | None = FETCH_URL_BYTES
    ) -> Iterator[list[str]]:
        """``ids`` cut into pages that one fetch request can carry (``url_bytes_max`` of ids;
        None: ``page_size`` ids, for fetches that carry no URL)."""
        group: list[str] = []
        url_bytes = 0
        for rid in ids:
            stored = self.scope.stored_id(rid)
            # "&ids=" and the id, percent-encoded unless it has only unreserved characters
            cost = (
                0
                if url_bytes_max is None
                else (len(stored) if _UNRESERVED.fullmatch(stored) else len(quote(stored, safe="")))
                + 5
            )
            if group and (
                len(group) >= self.page_size
                or (url_bytes_max is not None and url_bytes + cost > url_bytes_max)
            ):
                yield group
                group, url_bytes = [], 0
            group.append(rid)
            url_bytes += cost
        if group:
            yield group

    def float32_fetch_url_bytes(self) -> int | None:
        """The id bytes a ``fetch(float32=True)`` may carry: None (only ``page_size`` ids)
        when those fetches go over gRPC (`LeanRestIndex.fetches_float32_over_grpc`), which
        has no URL to fill; else the GET's `FETCH_URL_BYTES`."""
        over_grpc = getattr(self.pinned.index, "fetches_float32_over_grpc", None)
        return None if callable(over_grpc) and over_grpc() else FETCH_URL_BYTES

    def fetch(
        self, ids: Sequence[str], *, float32: bool = False, over_grpc: bool = True
    ) -> list[Record]:
        """The tenant's records with these ids, in the order given (missing ids skipped).

        ``float32``: values as float32 arrays (`PinnedIndex.fetch`), parsed without a
        Python float per value: for a caller that digests them (the import's read-back)
        or writes them as float32 (the export). ``over_grpc=False`` keeps such a fetch on REST
        (metadata numbers as REST spells them; the export writes the metadata on).
        """
        found = self.pinned.fetch(list(ids), float32=float32, over_grpc=over_grpc)
        return [found[i] for i in ids if i in found]

    def pages(self, *, float32: bool = False) -> Iterator[Page]:
        """Every record of the tenant, one listing page (and one fetch) at a time.

        ``float32``: each record's values as a float32 row, the fetch answer parsed so
        (`fetch_reply_float32`) instead of into Python floats, over REST as without it
        (the same requests; the metadata as REST returns it).
        """
        for ids in self.id_pages():
            yield Page(ids, self.fetch(ids, float32=float32, over_grpc=False))

    def checksum(self) -> Checksum:
        """Count and checksum of everything the tenant has here (a full read)."""
        total = Checksum()
        for page in self.pages():
            for rec in page.records:
                total.add(digest_of(rec))
        return total

    # -- writing -------------------------------------------------------------------------

    def upsert(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Upsert records (public ids), in batches within Pinecone's request limits."""
        written = 0
        for batch in record_batches([dict(r) for r in records]):
            written += self.pinned.upsert(batch)
        return written

    def batches(self, records: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
        """``records`` (public ids) cut into upsert requests within Pinecone's limits.

        By an upper estimate of each record's size (`record_batches`), unless the handle
        checks every request by its encoded size (`LeanRestIndex.splits_by_body_size`):
        then by count only, so a row group that fits in 2 MB (363 records of 384-d values
        and ~300 bytes of metadata take 1.7 MB) is one request, not the two the estimate
        (18 bytes a float32 value) makes of it.
        """
        plain = [dict(r) for r in records]
        splits = getattr(self.pinned.index, "splits_by_body_size", None)
        if callable(splits) and splits(plain):
            return [
                plain[i : i + MAX_UPSERT_RECORDS] for i in range(0, len(plain), MAX_UPSERT_RECORDS)
            ]
        return record_batches(plain)

    def upsert_batch(self, batch: list[dict[str, Any]]) -> int:
        """One upsert request of a batch from `batches` (safe to call from several threads)."""
        return self.pinned.upsert(batch)

    def delete(self, ids: Sequence[str]) -> int:
        return self.pinned.delete(list(ids)) if ids else 0


def digest_of(rec: Record) -> bytes:
    """The checksum digest of a record as `PinnedIndex` returns it."""
    return record_digest(rec.id, rec.values, rec.sparse_values, canonical_metadata(rec.metadata))


def digests_of(records: Sequence[Record]) -> list[bytes]:
    """`digest_of` each record: a page of float32 rows without sparse values at once
    (`dense_digests`), anything else record by record."""
    rows: list[Any] = [rec.values for rec in records]
    if all(type(v) is np.ndarray and v.ndim == 1 for v in rows) and not any(
        rec.sparse_values for rec in records
    ):
        return dense_digests([rec.id for rec in records], rows, [rec.metadata for rec in records])
    return [digest_of(rec) for rec in records]


def as_upsert(rec: Record) -> dict[str, Any]:
    """A record in upsert form (public id), keeping float32 values as plain floats."""
    out: dict[str, Any] = {"id": rec.id, "values": rec.values}
    if rec.metadata:
        out["metadata"] = rec.metadata
    if rec.sparse_values:
        out["sparse_values"] = rec.sparse_values
    return out


def values_matrix(records: Sequence[Record], dimension: int) -> np.ndarray:
    """The dense values of a page as one float32 matrix (rows in record order)."""
    if not records:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.asarray([r.values for r in records], dtype=np.float32).reshape(len(records), -1)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


__all__ = [
    "FETCH_URL_BYTES",
    "LIST_SIZE",
    "PAGE_SIZE",
    "IndexInfo",
    "Page",
    "TenantEndpoint",
    "as_upsert",
    "digest_of",
    "digests_of",
    "values_matrix",
]
