"""`reembed_tenant`: a tenant re-embedded with another model into another index, then switched.

A new embedding model usually has another dimension, so its vectors need a
new index. This streams the tenant's records from the old index page by page,
embeds each record's stored chunk text (the ``text`` metadata field ingestion
writes) with the new model, and upserts them under the same ids and metadata
into the new index. Then it verifies, and only then switches the tenant's
route (`RoutingTable`), in one atomic write:

* every source record is in the destination with the same id and metadata
  (values left out since they differ by design), and the destination holds
  as many records as the source, so nothing else;
* a probe: for a sample of records, a query with the new model's embedding of
  the record's own text finds that record first.

An eventually consistent destination (Pinecone serverless) shows the new
records late: each check is asked again with backoff for up to ``settle``
seconds before it fails. (The catch-up pass compares the source with what the
destination shows, so records it does not show yet are embedded again:
idempotent, the same ids and vectors, at the cost of the extra embeddings.)

Until the switch, requests keep going to the old index; afterwards to the new
one; ``routes.rollback(tenant)`` goes back. The old index keeps the tenant's
records (offboard them there once the new index has served for a while).

A record without text cannot be re-embedded: the run stops before switching,
names the records, and deletes what it wrote when the destination tenant was
empty before. Writes to the tenant during a re-embedding are caught by one
more pass over the source when ``catch_up=True`` (default), run right before
the switch; writes after the switch go to the new index through the routes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenant_rag.errors import (
    ConfigurationError,
    DestinationNotEmptyError,
    PortabilityError,
    TransferVerificationError,
)
from tenant_rag.lifecycle.portability.checksum import Checksum, record_digest
from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint
from tenant_rag.lifecycle.portability.policy import check_acl_policies
from tenant_rag.lifecycle.portability.readback import NAMED_IDS, SETTLE_SECONDS
from tenant_rag.lifecycle.settle import until as settle_until
from tenant_rag.tenancy.acl import AclPolicy
from tenant_rag.tenancy.pinned import Record
from tenant_rag.tenancy.routing import RoutingTable
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation

#: ``progress(phase, records_done, records_expected_or_None)``
Progress = Callable[[str, int, int | None], None]
#: Records checked by the probe query (spread over the tenant).
PROBES = 5


@dataclass
class ReembedReport:
    """What `reembed_tenant` wrote, what verified it, and where the tenant is routed now."""

    tenant: str
    source_index: str
    destination_index: str
    model: str | None
    records: int = 0
    embedded: int = 0
    checksum: str = ""
    probes: int = 0
    probes_found: int = 0
    verified: bool = False
    routed: bool = False
    previous_route: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "source_index": self.source_index,
            "destination_index": self.destination_index,
            "model": self.model,
            "records": self.records,
            "embedded": self.embedded,
            "checksum": self.checksum,
            "probes": self.probes,
            "probes_found": self.probes_found,
            "verified": self.verified,
            "routed": self.routed,
            "previous_route": self.previous_route,
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
        }


def reembed_tenant(
    src_index: Any,
    dst_index: Any,
    tenant: str,
    *,
    embedding: Any,
    routes: RoutingTable | None = None,
    isolation: Isolation = "namespace",
    dst_isolation: Isolation | None = None,
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    text_key: str = "text",
    on_existing: str = "fail",
    acl_policy: AclPolicy | None = None,
    catch_up: bool = True,
    settle: float = SETTLE_SECONDS,
    progress: Progress | None = None,
) -> ReembedReport:
    """Re-embed ``tenant`` from ``src_index`` into ``dst_index`` with ``embedding``; verify; switch.

    ``embedding`` is a LangChain ``Embeddings`` of the new model; its vectors
    must have ``dst_index``'s dimension. ``routes`` is the `RoutingTable` the
    application resolves tenants through; without one nothing is switched
    (the report says so) and the caller routes the tenant itself.
    ``on_existing``: ``"fail"`` (default) refuses a destination tenant that
    already has records; ``"replace"`` overwrites it. ``acl_policy`` names
    ``dst_index``'s ACL policy to accept one that differs from the source's.

    Raises:
        IndexMismatchError / ConfigurationError: the model's dimension is not the index's.
        AclPolicyMismatchError: the two indexes' ACL policies differ and none was named.
        PortabilityError: records without text (named), or a copy onto itself.
        DestinationNotEmptyError: the destination tenant has records (``on_existing="fail"``).
        TransferVerificationError: the destination does not match the source.
    """
    started = time.monotonic()
    if on_existing not in ("fail", "replace"):
        raise ValueError(f"on_existing must be 'fail' or 'replace', got {on_existing!r}.")
    src = TenantEndpoint(src_index, tenant, isolation=isolation, shared_namespace=shared_namespace)
    dst = TenantEndpoint(
        dst_index,
        tenant,
        isolation=dst_isolation or isolation,
        shared_namespace=shared_namespace,
    )
    if src.same_place_as(dst):
        raise PortabilityError(
            f"re-embedding into the same index and namespace ({src.index_name!r}, "
            f"{src.namespace!r}) would overwrite the vectors being read; create a new index "
            "for the new model."
        )
    check_acl_policies(
        src.acl_policy(),
        dst.acl_policy(),
        acl_policy,
        source_what=f"tenant {src.tenant!r} in index {src.index_name!r}",
        destination_index=dst.index_name,
    )
    model = _model_name(embedding)
    dimension = _probe_dimension(embedding)
    info = dst.info()
    if info.dimension is not None and dimension != info.dimension:
        raise ConfigurationError(
            f"the embedding model {model or type(embedding).__name__} makes {dimension}-d "
            f"vectors but index {info.name!r} has dimension {info.dimension}; create the "
            f"destination with dimension={dimension}."
        )
    report = ReembedReport(
        tenant=src.tenant,
        source_index=src.index_name,
        destination_index=dst.index_name,
        model=model,
    )
    was_empty = dst.is_empty()
    if not was_empty and on_existing == "fail":
        raise DestinationNotEmptyError(
            f"tenant {dst.tenant!r} already has records in index {dst.index_name!r}; pass "
            "on_existing='replace' to overwrite them."
        )
    try:
        report.embedded = _embed_pass(src, dst, embedding, text_key, progress, report)
        if catch_up:
            report.embedded += _embed_pass(
                src, dst, embedding, text_key, progress, report, changed_only=True
            )
        if not was_empty:
            from tenant_rag.lifecycle.portability.importer import prune_to

            prune_to(dst, lambda: (r for ids in src.pinned.id_pages() for r in ids), True)
        _verify(src, dst, embedding, text_key, report, settle)
    except PortabilityError:
        if was_empty:
            dst.pinned.delete_all()
        raise
    if routes is not None:
        previous = routes.get(src.tenant)
        report.previous_route = previous.index if previous is not None else src.index_name
        routes.switch(
            src.tenant,
            dst.index_name,
            isolation=dst.scope.isolation,
            expect=report.previous_route,
            expect_isolation=previous.isolation if previous is not None else src.scope.isolation,
            reason=f"reembed with {model or 'a new model'}",
        )
        report.routed = True
    else:
        report.notes.append("no routing table given: route the tenant to the new index yourself")
    report.seconds = time.monotonic() - started
    return report


def _embed_pass(
    src: TenantEndpoint,
    dst: TenantEndpoint,
    embedding: Any,
    text_key: str,
    progress: Progress | None,
    report: ReembedReport,
    *,
    changed_only: bool = False,
) -> int:
    """Embed and write every source record (or only those whose metadata changed since)."""
    done = 0
    expected = None if changed_only else src.count()
    for page in src.pages():
        records = page.records
        if changed_only:
            there = {r.id: _identity(r) for r in dst.fetch(page.ids)}
            records = [r for r in records if there.get(r.id) != _identity(r)]
            if not records:
                continue
        missing = [r.id for r in records if not isinstance(r.metadata.get(text_key), str)]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5])
            raise PortabilityError(
                f"{len(missing)} record(s) of tenant {src.tenant!r} have no {text_key!r} text to "
                f"re-embed (e.g. {shown}); nothing was switched. Re-ingest those documents from "
                "their sources, or pass text_key= naming the metadata field with the text."
            )
        vectors = embedding.embed_documents([r.metadata[text_key] for r in records])
        batch = []
        for rec, vector in zip(records, vectors, strict=True):
            out: dict[str, Any] = {"id": rec.id, "values": [float(x) for x in vector]}
            if rec.metadata:
                out["metadata"] = rec.metadata
            batch.append(out)
        done += dst.upsert(batch)
        if progress is not None:
            progress("embed", done, expected)
    return done


def _verify(
    src: TenantEndpoint,
    dst: TenantEndpoint,
    embedding: Any,
    text_key: str,
    report: ReembedReport,
    settle: float,
) -> None:
    """Every source record in the destination with its ids and metadata, nothing else there,
    and probes that find their own record first; patient with an index that shows writes late.

    The destination is read by the source's ids (a fetch per source page), so a
    record it does not show yet is kept pending (its id and identity digest) and
    fetched again with backoff for up to ``settle`` seconds; then its record
    count must equal the source's (asked again the same way), so it holds
    nothing else. Probe queries are asked again the same way.
    """
    from tenant_rag.lifecycle.portability.importer import settled_count

    mine = Checksum()
    samples: list[Record] = []
    pending: dict[str, bytes] = {}
    for page in src.pages():
        there = {rec.id: _identity(rec) for rec in dst.fetch(page.ids)}
        for rec in page.records:
            identity = _identity(rec)
            mine.add(identity)
            if there.get(rec.id) != identity:
                pending[rec.id] = identity
            if len(samples) < PROBES and (mine.count % 7 == 1 or len(samples) < 1):
                samples.append(rec)
    report.records = mine.count
    report.checksum = mine.hexdigest

    def shown() -> bool:
        for ids in dst.pages_of(list(pending)):
            for rec in dst.fetch(ids):
                if pending.get(rec.id) == _identity(rec):
                    del pending[rec.id]
        return not pending

    started = time.monotonic()
    if pending:
        settle_until(shown, settle)
    count = settled_count(dst, mine.count, max(0.0, settle - (time.monotonic() - started)))
    if pending or count != mine.count:
        named = ", ".join(repr(i) for i in sorted(pending)[:NAMED_IDS])
        raise TransferVerificationError(
            f"the re-embedded tenant {src.tenant!r} has {count} records in "
            f"{dst.index_name!r}, the source {mine.count}"
            + (
                f"; {len(pending)} source record(s) missing there or with other metadata after "
                f"waiting {settle:g} s ({named})"
                if pending
                else ""
            )
            + "; the route was not switched. Run reembed_tenant again.",
            report,
        )
    queries = embedding.embed_documents([s.metadata[text_key] for s in samples]) if samples else []
    probes = list(zip(samples, queries, strict=True))
    found: set[str] = set()

    def probed() -> bool:
        for rec, vector in probes:
            if rec.id in found:
                continue
            hits = dst.pinned.query(vector=vector, top_k=3, include_metadata=False)
            if hits and rec.id in [h.id for h in hits if h.score == hits[0].score] + [hits[0].id]:
                found.add(rec.id)
        return len(found) == len(probes)

    settle_until(probed, settle)
    report.probes, report.probes_found = len(samples), len(found)
    if len(found) < len(samples):
        raise TransferVerificationError(
            f"{len(samples) - len(found)} of {len(samples)} probe queries (a record's own text, "
            f"embedded by the new model) did not find that record first in "
            f"{dst.index_name!r} within {settle:g} s; the route was not switched.",
            report,
        )
    report.verified = True


def _identity(rec: Record) -> bytes:
    """A record's digest without its values: what must survive a re-embedding unchanged."""
    return record_digest(rec.id, None, None, rec.metadata)


def _model_name(embedding: Any) -> str | None:
    for attr in ("model_name", "model"):
        value = getattr(embedding, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(embedding).__name__


def _probe_dimension(embedding: Any) -> int:
    dimension = getattr(embedding, "dimension", None)
    if isinstance(dimension, int) and dimension > 0:
        return dimension
    return len(embedding.embed_query("dimension probe"))


__all__ = ["ReembedReport", "reembed_tenant"]
