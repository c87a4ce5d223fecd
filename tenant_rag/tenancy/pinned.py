"""`PinnedIndex`: a raw Pinecone data-plane handle that can reach one tenant only.

Ingestion, lifecycle operations and the LlamaIndex store all talk to Pinecone
through this class rather than through the SDK's `Index`, so that the
namespace, the id prefix and the tenant filter are applied by one piece of
code. It accepts the SDK's REST `Index` and gRPC `GRPCIndex` alike (they share
method names), and reports usage to `tenant_rag.tenancy.usage`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from tenant_rag._compat.pinecone_sdk import (
    SKIP_REQUEST_CHECKS,
    SKIP_RESPONSE_CHECKS,
    handle_config,
    model_fields,
    rest_index_class,
)
from tenant_rag.errors import AccessControlError, TenantIsolationError
from tenant_rag.tenancy import records, usage
from tenant_rag.tenancy.acl import (
    ACL_FIELD,
    AclPolicy,
    AclView,
    Principal,
    Reader,
    acl_policy_of,
    check_policy,
    check_reader,
    public_acl_field,
    store_acl_field,
    view_for,
)
from tenant_rag.tenancy.float32 import accepts_float32_rows, float32_row
from tenant_rag.tenancy.limits import MAX_IDS_PER_REQUEST
from tenant_rag.tenancy.retry import RetryPolicy
from tenant_rag.tenancy.scope import Isolation, TenantScope
from tenant_rag.tenancy.sdk_errors import http_status

_LOCAL_HOST = re.compile(r"/_index/([^/]+)/?$")
_CLOUD_HOST = re.compile(r"^(?:https?://)?([a-z0-9-]+?)-[a-z0-9]+\.svc\.")


@dataclass
class Record:
    """A record as the tenant sees it: its own id and metadata, no prefix."""

    id: str
    values: list[float]
    metadata: dict[str, Any]
    sparse_values: dict[str, Any] | None = None
    score: float | None = None

    def as_upsert(self) -> dict[str, Any]:
        """The record as an upsert dict (what `tenant_rag.tenancy.batching` sizes)."""
        out: dict[str, Any] = {"id": self.id, "values": self.values, "metadata": self.metadata}
        if self.sparse_values:
            out["sparse_values"] = self.sparse_values
        return out


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON, for write-unit estimates (orjson, ~10x the stdlib).

    Not for request-size limits on the SDK's path: the SDK's ``json.dumps``
    adds a space after every comma, so its bodies are larger than this.
    """
    try:
        return len(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
    except TypeError:  # orjson.JSONEncodeError too: ints over 64 bits, say
        return len(json.dumps(value, default=str))


def index_name_of(index: Any) -> str:
    """Best-effort index name for a data-plane handle (for metering labels)."""
    name = getattr(index, "_tenant_rag_index_name", None)
    if name:
        return str(name)
    runner = getattr(index, "runner", None)  # GRPCIndex: the name it sends as service-name
    name = (getattr(runner, "fixed_metadata", None) or {}).get("service-name")
    if isinstance(name, str) and name:
        return name
    host = ""
    config = handle_config(index)
    if config is not None:
        host = str(getattr(config, "host", "") or "")
    for pattern in (_LOCAL_HOST, _CLOUD_HOST):
        m = pattern.search(host)
        if m:
            return m.group(1)
    return host or "index"


def as_floats(values: Iterable[Any]) -> list[float]:
    """Coerce numpy or int values to Python floats (the SDK rejects anything else)."""
    return list(map(float, values))


class PinnedIndex:
    """A Pinecone `Index` restricted to one tenant, and its reads to one principal.

    Every method sends the tenant's namespace and maps ids and filters
    through the tenant's :class:`TenantScope`; none of them takes a
    ``namespace`` argument, so there is nothing to get wrong.

    ``principal`` decides what the reads return inside the tenant
    (`tenant_rag.tenancy.acl`): ``query`` joins its condition to the filter
    with ``$and`` and refuses a filter naming ``acl``; ``query``, ``fetch``
    and ``list_ids`` return only records the principal may read, each checked
    again on the way out. ``None`` reads what everyone in the tenant may
    read; ``TENANT_ADMIN`` reads everything. Writes and deletes are the
    application's and are not limited by ACLs (ingestion, lifecycle and the
    stores' writes act as the tenant); ``count`` is the tenant's size.
    ``acl_policy`` overrides the policy read from the handle's tags (see
    `tenant_rag.tenancy.acl.acl_policy_of`).
    """

    def __init__(
        self,
        index: Any,
        tenant: str | TenantScope,
        *,
        isolation: Isolation = "namespace",
        index_name: str | None = None,
        retry: RetryPolicy | None = None,
        principal: Reader = None,
        acl_policy: AclPolicy | None = None,
    ) -> None:
        self.index = index
        #: who the reads are for (see the class docs)
        self.principal: Reader = check_reader(principal)
        self._acl_policy: AclPolicy | None = (
            check_policy(acl_policy) if acl_policy is not None else None
        )
        #: a `RetryPolicy` (or None: one try). Stores and offboarding pass one;
        #: ingestion retries whole steps itself, so it passes none.
        self.retry: RetryPolicy | None = retry
        self.scope = tenant if isinstance(tenant, TenantScope) else TenantScope(tenant, isolation)
        self.index_name = index_name or index_name_of(index)
        self._lean = _is_rest_index(index)
        #: whether the handle takes float32 rows as values (`float32_row`) as they are
        self._float32_rows = accepts_float32_rows(index)

    @property
    def tenant(self) -> str:
        return self.scope.tenant

    @property
    def namespace(self) -> str:
        return self.scope.namespace

    @property
    def user(self) -> str | None:
        """The principal's user id, for metering (``None`` for no principal or the admin)."""
        return self.principal.user if isinstance(self.principal, Principal) else None

    def acl_view(self) -> AclView:
        """What this object's principal may read, under the index's current policy."""
        policy = self._acl_policy or acl_policy_of(self.index)
        return view_for(self.principal, policy)

    def with_principal(self, principal: Reader) -> PinnedIndex:
        """The same tenant, index and retry policy, reading for another principal."""
        return PinnedIndex(
            self.index,
            self.scope,
            index_name=self.index_name,
            retry=self.retry,
            principal=principal,
            acl_policy=self._acl_policy,
        )

    # -- writes ------------------------------------------------------------------

    def upsert(self, records: Sequence[Any], *, batch_size: int | None = None) -> int:
        """Upsert records given as dicts, ``(id, values[, metadata])`` tuples or `Record`s."""
        vectors = [self._stored_vector(r) for r in records]
        if not vectors:
            return 0
        usage.guard(self.tenant, self.index_name, "upsert", len(vectors))
        resp = self._call(
            self.index.upsert,
            vectors=vectors,
            namespace=self.namespace,
            batch_size=batch_size,
            show_progress=False,  # callers own progress reporting (ingest has its own bar)
        )
        count = int(getattr(resp, "upserted_count", None) or len(vectors))
        # the body's size when the transport says it (ingestion's lean path), else estimated
        sent = getattr(resp, "request_bytes", None)
        payload = sent if type(sent) is int else sum(map(json_size, vectors))
        usage.emit(
            usage.UsageEvent(
                self.tenant,
                self.index_name,
                "upsert",
                write_units=usage.write_units_for(
                    payload, requests=-(-len(vectors) // (batch_size or len(vectors)))
                ),
                records=count,
            )
        )
        return count

    def update(
        self,
        record_id: str,
        *,
        values: Sequence[float] | None = None,
        set_metadata: Mapping[str, Any] | None = None,
        sparse_values: Mapping[str, Any] | None = None,
    ) -> None:
        """Update one record's values and/or merge metadata, within the tenant."""
        usage.guard(self.tenant, self.index_name, "update", 1)
        kwargs: dict[str, Any] = {}
        if values is not None:
            kwargs["values"] = as_floats(values)
        if set_metadata is not None:
            md = dict(set_metadata)
            if self.scope.isolation == "metadata" and self.scope.tenant_field in md:
                raise TenantIsolationError(
                    f"metadata field {self.scope.tenant_field!r} is reserved for the tenant id."
                )
            if ACL_FIELD in md:
                # an update merges metadata and cannot remove a field: "no ACL" is a token
                from tenant_rag.tenancy.acl import normalize_acl, stored_acl

                md[ACL_FIELD] = stored_acl(normalize_acl(md[ACL_FIELD]))
            kwargs["set_metadata"] = md
        if sparse_values is not None:
            kwargs["sparse_values"] = dict(sparse_values)
        self._call(
            self.index.update,
            id=self.scope.stored_id(record_id),
            namespace=self.namespace,
            **kwargs,
        )
        usage.emit(usage.UsageEvent(self.tenant, self.index_name, "update", write_units=5.0))

    def delete(self, ids: Sequence[str]) -> int:
        """Delete the tenant's records with these ids (chunked to Pinecone's limit)."""
        stored = [self.scope.stored_id(i) for i in ids]
        usage.guard(self.tenant, self.index_name, "delete", len(stored))
        for start in range(0, len(stored), MAX_IDS_PER_REQUEST):
            chunk = stored[start : start + MAX_IDS_PER_REQUEST]
            self._call(self.index.delete, ids=chunk, namespace=self.namespace)
            usage.emit(
                usage.UsageEvent(
                    self.tenant, self.index_name, "delete", write_units=5.0, records=len(chunk)
                )
            )
        return len(stored)

    def document_ids(self, doc_id: str) -> list[str]:
        """Every record of document ``doc_id`` in this tenant, chunk ``#0`` first.

        Exact by `tenant_rag.tenancy.records`: ``page`` never includes the
        records of ``page#faq`` or ``page2``. Old-form records (the LlamaIndex
        store's ``{ref_doc_id}#{node_id}`` as given) are found too.
        """
        return records.document_record_ids(
            lambda prefix: self._all_ids(prefix),
            lambda ids: {rid: rec.metadata for rid, rec in self._fetch_all(ids).items()},
            doc_id,
        )

    def delete_document(self, doc_id: str) -> int:
        """Delete exactly the records of document ``doc_id``; return how many there were."""
        ids = self.document_ids(doc_id)
        return self.delete(ids) if ids else 0

    def set_document_acl(self, doc_id: str, acl: Any, *, workers: int = 8) -> int:
        """Set the access list of every record of ``doc_id`` by metadata update; return how many.

        No re-embedding: each record gets ``set_metadata={"acl": ...}``, up to
        ``workers`` requests at a time, each retried by this object's retry
        policy. The document's first record (chunk ``#0`` for ingested
        documents, whose hash marks a complete version) is updated last, so
        an interrupted change is seen, and redone, by the next ``ingest``.
        ``acl=None`` makes the document follow the index policy again. The
        next query sees the change (Pinecone: once its index catches up).
        """
        from tenant_rag.tenancy.acl import normalize_acl, stored_acl

        value = stored_acl(normalize_acl(acl))
        ids = self.document_ids(doc_id)
        if ids:
            self.update_metadata_of(ids[1:], {ACL_FIELD: value}, workers=workers)
            self.update_metadata_of(ids[:1], {ACL_FIELD: value}, workers=1)
        return len(ids)

    def update_metadata_of(
        self, ids: Sequence[str], metadata: Mapping[str, Any], *, workers: int = 8
    ) -> None:
        """Merge ``metadata`` into each of these records (one update each, ``workers`` at a time)."""
        if not ids:
            return
        if len(ids) == 1 or workers <= 1:
            for rid in ids:
                self.update(rid, set_metadata=metadata)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(workers, len(ids))) as pool:
            for _ in pool.map(lambda rid: self.update(rid, set_metadata=metadata), ids):
                pass

    def delete_by_filter(self, user_filter: Mapping[str, Any]) -> None:
        """Delete the tenant's records matching a metadata filter (pin applied)."""
        if not user_filter:
            raise ValueError("delete_by_filter needs a non-empty filter; use delete_all().")
        usage.guard(self.tenant, self.index_name, "delete", 0)
        pinned = self.scope.pinned_filter(user_filter)
        self._call(self.index.delete, filter=pinned, namespace=self.namespace)

    def delete_all(self) -> int:
        """Delete every record of this tenant and nothing else.

        Namespace isolation deletes the tenant's namespace; metadata isolation
        deletes the tenant's prefixed ids, since the namespace is shared.
        Returns how many records were deleted (as counted beforehand).
        """
        if self.scope.isolation == "namespace":
            count = self.count()
            if count or self._namespace_exists():
                try:
                    self._call(self.index.delete_namespace, namespace=self.namespace)
                except Exception as exc:  # noqa: BLE001 - fall back on older servers
                    if http_status(exc) == 404:
                        return 0
                    self._call(self.index.delete, delete_all=True, namespace=self.namespace)
            usage.emit(usage.UsageEvent(self.tenant, self.index_name, "delete", records=count))
            return count
        ids = list(self._all_ids())
        return self.delete(ids) if ids else 0

    # -- reads -------------------------------------------------------------------

    def query(
        self,
        *,
        vector: Sequence[float] | None = None,
        id: str | None = None,
        top_k: int = 4,
        filter: Mapping[str, Any] | None = None,
        include_values: bool = False,
        include_metadata: bool = True,
        sparse_vector: Mapping[str, Any] | None = None,
    ) -> list[Record]:
        """Nearest records of this tenant the principal may read, by vector or by record id.

        The principal's condition is joined to ``filter`` with ``$and`` (a
        filter naming ``acl`` is refused) and every match is checked again;
        a match the principal may not read means the index ignored the
        filter, and raises `AccessControlError`. Querying by the id of a
        record the principal may not read returns nothing, as for an unknown id.
        """
        if (vector is None) == (id is None):
            raise ValueError("query needs exactly one of vector= or id=.")
        view = self.acl_view()
        user_filter = view.join(filter)
        if id is not None and not view.is_admin and not self.fetch([str(id)]):
            return []  # not readable (or absent): its vector must not steer a search either
        usage.guard(self.tenant, self.index_name, "query", 0)
        kwargs: dict[str, Any] = {
            "top_k": int(top_k),
            "namespace": self.namespace,
            "include_values": include_values,
            "include_metadata": True,
        }
        pinned = self.scope.pinned_filter(user_filter)
        if pinned:
            kwargs["filter"] = pinned
        if vector is not None:
            kwargs["vector"] = as_floats(vector)
        else:
            kwargs["id"] = self.scope.stored_id(str(id))
        if sparse_vector is not None:
            kwargs["sparse_vector"] = dict(sparse_vector)
        if self._lean:
            # We built the request (floats, pinned filter) and check every returned record
            # below, so the SDK's per-value type checks in both directions add nothing but
            # time per query (benchmarks/FIGURES.md); its REST Index lets callers switch them off.
            kwargs.update(SKIP_REQUEST_CHECKS)
            kwargs.update(SKIP_RESPONSE_CHECKS)
        resp = self._call(self.index.query, **kwargs)
        usage.emit(
            usage.UsageEvent(
                self.tenant,
                self.index_name,
                "query",
                read_units=usage.read_units_of(resp),
                user=self.user,
            )
        )
        out = []
        for m in resp.matches or []:
            out.append(self._record(m, include_metadata=include_metadata, scored=True, view=view))
        return out

    def fetch(
        self, ids: Sequence[str], *, float32: bool = False, over_grpc: bool = True
    ) -> dict[str, Record]:
        """The tenant's records with these ids that the principal may read (others are absent).

        ``float32``: each record's dense ``values`` as a float32 array (what Pinecone
        stores) rather than a list of floats; a handle that can (`fetch_float32`, the lean
        REST transport) parses them without a Python float per value. ``over_grpc=False`` keeps
        such a fetch on REST (`LeanRestIndex.fetch_float32`: metadata numbers as REST
        spells them, where gRPC would make ``3`` a ``3.0``).
        """
        view = self.acl_view()
        found = self._fetch_all(ids, float32=float32, over_grpc=over_grpc)
        if view.is_admin:
            return found
        return {rid: rec for rid, rec in found.items() if view.allows(rec.metadata)}

    def _fetch_all(
        self, ids: Sequence[str], *, float32: bool = False, over_grpc: bool = True
    ) -> dict[str, Record]:
        """Fetch by id without the principal's view (writers' bookkeeping, and `fetch`).

        Metadata comes back in the public form (`public_acl_field`), which
        `AclView.allows` judges exactly as it judges the stored tokens.
        """
        usage.guard(self.tenant, self.index_name, "fetch", len(ids))
        out: dict[str, Record] = {}
        fetch = self.index.fetch
        extra: dict[str, Any] = {}
        if float32 and self._float32_rows and hasattr(self.index, "fetch_float32"):
            fetch = self.index.fetch_float32
            if not over_grpc:
                extra["over_grpc"] = False
        for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
            chunk = [self.scope.stored_id(i) for i in ids[start : start + MAX_IDS_PER_REQUEST]]
            resp = self._call(fetch, ids=chunk, namespace=self.namespace, **extra)
            usage.emit(
                usage.UsageEvent(
                    self.tenant,
                    self.index_name,
                    "fetch",
                    read_units=usage.read_units_of(resp),
                    records=len(chunk),
                    user=self.user,
                )
            )
            for vec in (resp.vectors or {}).values():
                rec = self._record(vec, include_metadata=True)
                if float32 and float32_row(rec.values) is None:
                    rec.values = np.asarray(rec.values, dtype=np.float32)  # type: ignore[assignment]
                out[rec.id] = rec
        return out

    def list_ids(self, prefix: str = "", *, limit: int | None = None) -> Iterator[str]:
        """The ids starting with ``prefix`` of the tenant's records the principal may read.

        For ``TENANT_ADMIN`` a plain listing. For any other reader each page
        of ids is fetched to check its access lists (listing carries no
        metadata), so it costs a fetch per 1,000 ids.
        """
        view = self.acl_view()
        if view.is_admin:
            yield from self._all_ids(prefix, limit=limit)
            return
        page: list[str] = []
        for rid in self._all_ids(prefix, limit=limit):
            page.append(rid)
            if len(page) == MAX_IDS_PER_REQUEST:
                yield from self._readable(page, view)
                page = []
        if page:
            yield from self._readable(page, view)

    def _readable(self, ids: list[str], view: AclView) -> Iterator[str]:
        found = self._fetch_all(ids)
        for rid in ids:
            rec = found.get(rid)
            if rec is not None and view.allows(rec.metadata):
                yield rid

    def _all_ids(self, prefix: str = "", *, limit: int | None = None) -> Iterator[str]:
        """Every id of the tenant starting with ``prefix``, whoever may read it (writers)."""
        kwargs: dict[str, Any] = {"namespace": self.namespace}
        full_prefix = self.scope.id_prefix + prefix
        if full_prefix:
            kwargs["prefix"] = full_prefix
        if limit is not None:
            kwargs["limit"] = limit
        try:
            pages: Any = self.index.list(**kwargs)
            if self.retry is not None:  # a page can fail mid-way: retry the whole listing
                pages = self._call(lambda: [list(page) for page in self.index.list(**kwargs)])
            for page in pages:
                for stored in page:
                    if self.scope.owns_stored_id(stored):
                        yield self.scope.public_id(stored)
        except Exception as exc:
            if http_status(exc) == 404:
                return
            raise

    def id_pages(self, prefix: str = "", *, page_size: int = 100) -> Iterator[list[str]]:
        """The tenant's record ids, one listing page at a time (``page_size`` ids at most).

        Unlike `list_ids`, holds one page in memory however many records the
        tenant has, and retries each page on its own (a page is re-requested
        with the same pagination token). For streaming work: export, copy, move.
        """
        kwargs: dict[str, Any] = {"namespace": self.namespace, "limit": page_size}
        full_prefix = self.scope.id_prefix + prefix
        if full_prefix:
            kwargs["prefix"] = full_prefix
        token: str | None = None
        seen: set[str] = set()
        while True:
            if token:
                kwargs["pagination_token"] = token
            try:
                page = self._call(self.index.list_paginated, **kwargs)
            except Exception as exc:
                if http_status(exc) == 404:  # the namespace does not exist (yet)
                    return
                raise
            items = getattr(page, "vectors", None) or []
            ids = [getattr(v, "id", None) or v["id"] for v in items]
            usage.emit(usage.UsageEvent(self.tenant, self.index_name, "list", read_units=1.0))
            out = [self.scope.public_id(s) for s in ids if self.scope.owns_stored_id(s)]
            if out:
                yield out
            pagination = getattr(page, "pagination", None)
            token = getattr(pagination, "next", None) if pagination is not None else None
            if not token or token in seen:  # a repeated token would loop forever
                return
            seen.add(token)

    def count(self) -> int:
        """How many records the tenant has (exact under namespace isolation).

        Asks for the tenant's own namespace (``describe_namespace``), so the
        cost does not grow with the number of tenants in the index; falls back
        to ``describe_index_stats`` where namespace description is missing.
        """
        if self.scope.isolation == "metadata":
            return sum(1 for _ in self._all_ids())
        try:
            desc = self._call(self.index.describe_namespace, namespace=self.namespace)
        except Exception as exc:
            status = http_status(exc)
            if status == 404:
                return 0
            if status not in (405, 501) and not isinstance(
                exc, AttributeError | NotImplementedError
            ):
                raise
        else:
            count = getattr(desc, "record_count", None)
            if count is None and isinstance(desc, Mapping):
                count = desc.get("record_count")
            if count is not None:
                return int(count)
        stats = self._call(self.index.describe_index_stats)
        namespaces = getattr(stats, "namespaces", None) or {}
        summary = namespaces.get(self.namespace)
        if summary is None:
            return 0
        return int(getattr(summary, "vector_count", None) or summary.get("vector_count", 0))

    def _namespace_exists(self) -> bool:
        try:
            self._call(self.index.describe_namespace, namespace=self.namespace)
            return True
        except Exception as exc:
            if http_status(exc) == 404:
                return False
            raise

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """One SDK call, retried on 429/5xx/dropped connections when a policy is set.

        Every call made here is idempotent (explicit ids, deletes, reads), so a
        repeat after a lost answer cannot duplicate or lose a record.
        """
        if self.retry is None:
            return fn(*args, **kwargs)
        return self.retry.call(lambda: fn(*args, **kwargs))

    # -- mapping -----------------------------------------------------------------

    def _stored_vector(self, rec: Any) -> dict[str, Any]:
        md: Mapping[str, Any] | None
        sparse: Mapping[str, Any] | None
        if isinstance(rec, Record):
            rid, values, md, sparse = rec.id, rec.values, rec.metadata, rec.sparse_values
        elif isinstance(rec, Mapping):
            rid, values = rec["id"], rec.get("values", [])
            md, sparse = rec.get("metadata"), rec.get("sparse_values")
        elif isinstance(rec, tuple | list) and len(rec) in (2, 3):
            rid, values = rec[0], rec[1]
            md, sparse = (rec[2] if len(rec) == 3 else None), None
        else:
            raise TypeError(
                "records must be dicts with 'id' and 'values', (id, values[, metadata]) "
                f"tuples or Record objects; got {type(rec).__name__}."
            )
        row = float32_row(values) if self._float32_rows else None
        out: dict[str, Any] = {
            "id": self.scope.stored_id(str(rid)),
            "values": row if row is not None else as_floats(values),
        }
        metadata = self.scope.stored_metadata(md)
        if ACL_FIELD in metadata:
            store_acl_field(metadata)
        if metadata:
            out["metadata"] = metadata
        if sparse:
            out["sparse_values"] = {
                "indices": [int(i) for i in sparse["indices"]],
                "values": as_floats(sparse["values"]),
            }
        return out

    def _record(
        self,
        vec: Any,
        *,
        include_metadata: bool,
        scored: bool = False,
        view: AclView | None = None,
    ) -> Record:
        # The SDK's OpenAPI models answer attribute reads through a slow __getattr__
        # (benchmarks/FIGURES.md); read their field dict directly when there is one. This is
        # on every query's path, so it counts against the retriever's overhead.
        fields = vec if isinstance(vec, dict) else model_fields(vec)
        if fields is None:
            keys = ("id", "metadata", "values", "sparse_values", "score")
            fields = {k: getattr(vec, k, None) for k in keys}
        stored_id = fields["id"]
        md = fields.get("metadata") or {}
        if not self.scope.owns_stored_id(stored_id) or not self.scope.owns_metadata(md):
            raise TenantIsolationError(
                f"the index returned record {stored_id!r}, which is not tenant "
                f"{self.tenant!r}'s; refusing to return it."
            )
        if view is not None and not view.allows(md):
            raise AccessControlError(
                f"the index returned record {stored_id!r}, which {view.describe()} may not "
                "read; refusing to return it (was the access-list filter ignored?)."
            )
        sparse = fields.get("sparse_values")
        metadata: dict[str, Any] = {}
        if include_metadata:
            metadata = self.scope.public_metadata(md)  # a copy
            if ACL_FIELD in metadata:
                public_acl_field(metadata)
        values: Any = fields.get("values")
        if float32_row(values) is None:  # a float32 row (`fetch(float32=True)`) stays one
            values = list(values) if values is not None else []
        return Record(
            id=self.scope.public_id(stored_id),
            values=values,
            metadata=metadata,
            sparse_values=_sparse_dict(sparse),
            score=fields.get("score") if scored else None,
        )


def _sparse_dict(sparse: Any) -> dict[str, Any] | None:
    """Sparse values as a plain dict, from an SDK model or an unchecked dict."""
    if not sparse:
        return None
    if isinstance(sparse, Mapping):
        return {"indices": list(sparse["indices"]), "values": list(sparse["values"])}
    return {"indices": list(sparse.indices), "values": list(sparse.values)}


def _is_rest_index(index: Any) -> bool:
    """Whether ``index`` is (or wraps) the SDK's synchronous REST ``Index``.

    tenant_rag's own wrappers (the namespace guard, ingestion's lean handle)
    expose what they wrap as a ``wrapped`` property.
    """
    index_class = rest_index_class()
    if index_class is None:  # pragma: no cover - another SDK layout
        return False
    for _ in range(4):
        if isinstance(index, index_class):
            return True
        if not isinstance(getattr(type(index), "wrapped", None), property):
            return False
        index = index.wrapped
    return False
