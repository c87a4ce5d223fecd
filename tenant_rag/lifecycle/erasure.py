"""Provable erasure: every offboarding and every subject erasure returns a `DeletionReceipt`.

GDPR-style requests ("delete this customer", "delete this user's data")
need evidence, and no vector store issues any. A receipt says, per index:
the namespace, how many records there were before, how many were deleted, a
SHA-256 of the deleted ids (sorted, one per line: anyone holding the ids can
recompute it), and what verification found afterwards:

* ``stats``: the tenant's record count (0 after an offboarding, before minus
  deleted after an erasure);
* ``list``: ids still listed (offboarding) / ids still fetchable (erasure);
* ``probe``: matches of a query in the tenant's namespace (with the subject's
  filter for an erasure): what a retriever could still find;
* ``storage`` (embedded server only): the WAL checkpoint that makes the
  deletion physical (`tenant_rag.local.api.maintenance`);
* ``backups``: backups of the index taken before the erasure, which may still
  hold the records (they are not deleted for you: deleting what the user did
  not name is refused; delete them with ``pc.delete_backup``).

Receipts are appended to a JSON-lines audit log when one is named
(``audit_log=`` or ``$TENANT_RAG_AUDIT_LOG``), one line per receipt, written
under an ``flock`` and fsynced.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import ssl
import time
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_rag.connection import index_shape
from tenant_rag.errors import ErasureVerificationError
from tenant_rag.lifecycle.settle import until as settle_until
from tenant_rag.tenancy.pinned import PinnedIndex
from tenant_rag.tenancy.scope import Isolation

#: Environment variable naming the default audit log.
AUDIT_LOG_ENV = "TENANT_RAG_AUDIT_LOG"
_LOCAL_HOST = re.compile(
    r"^(https?://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?)/_index/([^/]+)/?$"
)
#: Most records one probe query may ask for (Pinecone's top_k limit).
_TOP_K = 10_000


@dataclass(frozen=True)
class IndexErasure:
    """What an offboarding or erasure did in one index, and what verified it."""

    index: str
    namespace: str
    deleted: int
    remaining: int
    verified: bool
    seconds_waited: float
    records_before: int = 0
    deleted_ids_sha256: str = ""
    ids_listed: int = 0
    verification: dict[str, Any] = field(default_factory=dict)
    storage: dict[str, Any] | None = None
    backups: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DeletionReceipt:
    """Evidence of one deletion: what was deleted, when, and that nothing is left."""

    tenant: str
    isolation: Isolation
    indexes: tuple[IndexErasure, ...]
    kind: str = "offboard"
    filter: dict[str, Any] | None = None
    receipt_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: str = ""
    finished_at: str = ""
    notes: tuple[str, ...] = ()

    @property
    def deleted(self) -> int:
        """Records deleted across every index (0 on a repeated offboarding)."""
        return sum(i.deleted for i in self.indexes)

    @property
    def verified(self) -> bool:
        """True when every index showed nothing left afterwards."""
        return all(i.verified for i in self.indexes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "receipt_id": self.receipt_id,
            "kind": self.kind,
            "tenant": self.tenant,
            "isolation": self.isolation,
            "filter": self.filter,
            "deleted": self.deleted,
            "verified": self.verified,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "indexes": [i.to_dict() for i in self.indexes],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, default=str)

    def __str__(self) -> str:
        """One line for people (``print``): what was deleted where, and whether it was verified.

        The receipt id, hashes and times are in `to_dict` / `to_json`.
        """
        rows = "; ".join(
            f"{i.index}/{i.namespace}: deleted={i.deleted} remaining={i.remaining} "
            f"verified={i.verified}"
            for i in self.indexes
        )
        subject = f" filter={self.filter}" if self.filter else ""
        return (
            f"DeletionReceipt({self.kind} tenant={self.tenant!r} "
            f"isolation={self.isolation!r}{subject}: {rows})"
        )


def erase(
    index: Any,
    tenant: str,
    *,
    filter: Mapping[str, Any],
    isolation: Isolation = "namespace",
    shared_namespace: str | None = None,
    wait: float = 30.0,
    pc: Any = None,
    audit_log: str | os.PathLike[str] | None = None,
    raise_if_unverified: bool = True,
) -> DeletionReceipt:
    """Delete one data subject's records inside ``tenant`` (``filter={"user_id": "u1"}``).

    The records matching ``filter`` (combined with the tenant's pin, so it can
    never reach another tenant) are listed, then deleted with Pinecone's
    delete-by-filter, and the deletion is verified: their ids no longer fetch,
    a probe query with the filter finds nothing, and the tenant's count fell by
    as much. Returns a `DeletionReceipt` (``kind="erase"``), appended to the
    audit log. An empty filter is refused: use `offboard` to delete a tenant.

    Raises:
        ValueError: the filter is empty.
        TenantIsolationError: under metadata isolation, the filter names the tenant field.
        ErasureVerificationError: matching records were still visible after ``wait``.
    """
    from tenant_rag.lifecycle.scoping import tenant_scope
    from tenant_rag.tenancy.acl import TENANT_ADMIN
    from tenant_rag.tenancy.retry import RetryPolicy
    from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE

    if not isinstance(filter, Mapping) or not filter:
        raise ValueError(
            "erase needs a non-empty filter naming the data subject, e.g. "
            "filter={'user_id': 'u1'}; to delete a whole tenant use offboard()."
        )
    scope = tenant_scope(tenant, isolation, shared_namespace or DEFAULT_SHARED_NAMESPACE)
    scope.pinned_filter(filter)  # refuse a filter naming the tenant field before anything
    started = now_iso()
    # the tenant's erasure sees every record, whoever may read it (like offboard)
    pinned = PinnedIndex(index, scope, retry=RetryPolicy(), principal=TENANT_ADMIN)
    before = pinned.count()
    ids = sorted(_matching_ids(pinned, filter))
    pinned.delete_by_filter(dict(filter))
    t0 = time.monotonic()
    still: list[str] = []
    probe = 0

    def gone() -> bool:
        nonlocal still, probe
        still = sorted(pinned.fetch(ids)) if ids else []
        probe = _probe(pinned, filter)
        return not still and probe == 0

    settle_until(gone, wait, max_delay=1.0)
    after = pinned.count()
    deleted = max(before - after, 0)
    verified = not still and probe == 0
    row = IndexErasure(
        index=pinned.index_name,
        namespace=pinned.namespace,
        deleted=deleted,
        remaining=max(len(still), probe),
        verified=verified,
        seconds_waited=round(time.monotonic() - t0, 3),
        records_before=before,
        deleted_ids_sha256=ids_sha256(ids),
        ids_listed=len(ids),
        verification={"stats": after, "fetch": len(still), "probe": probe},
        storage=make_physical(index),
        backups=backups_before(index, pinned.index_name, started, pc),
    )
    notes = receipt_notes([row])
    if len(ids) != deleted:
        notes.append(
            f"the count fell by {deleted} while {len(ids)} matching ids were listed: the "
            "tenant was written meanwhile, or more records matched than one listing shows"
        )
    receipt = DeletionReceipt(
        tenant=scope.tenant,
        isolation=scope.isolation,
        indexes=(row,),
        kind="erase",
        filter=dict(filter),
        started_at=started,
        finished_at=now_iso(),
        notes=tuple(notes),
    )
    append_receipt(receipt, audit_log)
    if raise_if_unverified and not receipt.verified:
        raise ErasureVerificationError(
            f"{row.remaining} record(s) matching {dict(filter)!r} of tenant {scope.tenant!r} "
            f"were still visible after {wait:g} s. Pinecone is eventually consistent: run "
            "erase again (it is idempotent) or raise wait=.",
            receipt,
        )
    return receipt


# -- pieces shared with offboard ------------------------------------------------------------


def inventory(pinned: PinnedIndex) -> tuple[int, str, int]:
    """(records, sha256 of their sorted ids, ids listed) of the tenant, by listing every id."""
    digest = hashlib.sha256()
    count = 0
    last: str | None = None
    for page in pinned.id_pages(page_size=100):
        for rid in page:
            if last is not None and rid <= last:  # not listed in order: sort them all
                ids = sorted(rid for p in pinned.id_pages(page_size=100) for rid in p)
                return len(ids), ids_sha256(ids), len(ids)
            digest.update((("\n" if count else "") + rid).encode())
            count += 1
            last = rid
    return count, (digest.hexdigest() if count else ""), count


def ids_sha256(ids: Iterable[str]) -> str:
    """SHA-256 of ids, sorted, one per line ("" for none)."""
    ordered = sorted(ids)
    return hashlib.sha256("\n".join(ordered).encode()).hexdigest() if ordered else ""


def probe_count(pinned: PinnedIndex, user_filter: Mapping[str, Any] | None = None) -> int:
    """Matches a query in the tenant's scope can still find (0 when nothing is left)."""
    return _probe(pinned, user_filter)


def _probe(pinned: PinnedIndex, user_filter: Mapping[str, Any] | None) -> int:
    dimension = _dimension(pinned)
    if not dimension:
        return 0  # a sparse-only index has no dense probe; stats and list still verify
    vector = [1.0 / math.sqrt(dimension)] * dimension
    matches = pinned.query(vector=vector, top_k=_TOP_K, filter=user_filter, include_metadata=False)
    return len(matches)


def _dimension(pinned: PinnedIndex) -> int | None:
    """The index's dimension: `ensure_index`'s record of the handle when there is one, so an
    erase does not pay for ``describe_index_stats`` (it names every namespace of the index)."""
    shape = index_shape(pinned.index)
    if shape is not None:
        return shape[0]
    try:
        stats = pinned.index.describe_index_stats()
    except Exception:  # noqa: BLE001 - no probe rather than no receipt
        return None
    dimension = stats.get("dimension") if isinstance(stats, Mapping) else None
    if dimension is None:
        dimension = getattr(stats, "dimension", None)
    return int(dimension) if dimension else None


def _matching_ids(pinned: PinnedIndex, user_filter: Mapping[str, Any]) -> set[str]:
    """The tenant's ids matching ``user_filter``: `fetch_by_metadata` pages when the SDK has
    them (API 2025-10 on), else one query of up to 10,000 matches."""
    index = pinned.index
    fetch_by_metadata = getattr(index, "fetch_by_metadata", None)
    pinned_filter = pinned.scope.pinned_filter(user_filter)
    if callable(fetch_by_metadata):
        found: set[str] = set()
        token = None
        with contextlib.suppress(Exception):  # a 2025-04 server: fall back to the query
            while True:
                kwargs: dict[str, Any] = {
                    "filter": pinned_filter,
                    "namespace": pinned.namespace,
                    "limit": 1000,
                }
                if token:
                    kwargs["pagination_token"] = token
                page = fetch_by_metadata(**kwargs)
                for stored in getattr(page, "vectors", None) or {}:
                    if pinned.scope.owns_stored_id(stored):
                        found.add(pinned.scope.public_id(stored))
                token = getattr(getattr(page, "pagination", None), "next", None)
                if not token:
                    return found
    dimension = _dimension(pinned)
    if not dimension:
        return set()
    vector = [1.0 / math.sqrt(dimension)] * dimension
    return {
        m.id
        for m in pinned.query(
            vector=vector, top_k=_TOP_K, filter=user_filter, include_metadata=False
        )
    }


def make_physical(index: Any) -> dict[str, Any] | None:
    """On the embedded server, checkpoint its WAL so the deletion is physical; else None."""
    base = _local_base(index)
    if base is None:
        return None
    config = getattr(index, "config", None)
    try:
        reply = _local_request(base, "POST", "/_local/checkpoint", config)
    except Exception as exc:  # noqa: BLE001 - the receipt says it could not be done
        return {"checkpoint": "failed", "error": str(exc)[:300]}
    return {
        "checkpoint": "complete" if reply.get("complete") else "busy",
        "indexes": reply.get("indexes", {}),
    }


def backups_before(
    index: Any, name: str, started: str, pc: Any = None
) -> list[dict[str, Any]] | None:
    """Backups of index ``name`` created before ``started``: they may hold the deleted records.

    None when they could not be listed (no control-plane client and not the
    embedded server).
    """
    rows: list[dict[str, Any]] = []
    try:
        if pc is not None and hasattr(pc, "list_backups"):
            listing = pc.list_backups(index_name=name)
            for b in getattr(listing, "data", None) or list(listing):
                rows.append(
                    {
                        "backup_id": str(getattr(b, "backup_id", "")),
                        "name": str(getattr(b, "name", "") or ""),
                        "created_at": str(getattr(b, "created_at", "") or ""),
                    }
                )
        else:
            base = _local_base(index)
            if base is None:
                return None
            reply = _local_request(
                base, "GET", f"/indexes/{name}/backups", getattr(index, "config", None)
            )
            for b in reply.get("data") or []:
                rows.append(
                    {
                        "backup_id": str(b.get("backup_id", "")),
                        "name": str(b.get("name", "") or ""),
                        "created_at": str(b.get("created_at", "") or ""),
                    }
                )
    except Exception:  # noqa: BLE001 - backups API missing or refused: say not checked
        return None
    return [r for r in rows if _before(r["created_at"], started)]


def _before(created_at: str, started: str) -> bool:
    """Whether a backup made at ``created_at`` predates ``started`` (unknown: assume it does)."""
    try:
        made = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
        if made.tzinfo is None:
            made = made.replace(tzinfo=UTC)
        return made <= datetime.fromisoformat(started)
    except ValueError:
        return True


def _local_base(index: Any) -> str | None:
    config = getattr(index, "config", None)
    host = str(getattr(config, "host", "") or "")
    m = _LOCAL_HOST.match(host)
    return m.group(1) if m else None


def _local_request(base: str, method: str, path: str, config: Any) -> dict[str, Any]:
    headers = {"Accept": "application/json", "X-Pinecone-API-Version": "2025-04"}
    key = getattr(config, "api_key", None)
    if key:
        headers["Api-Key"] = str(key)
    context = None
    ca = getattr(config, "ssl_ca_certs", None)
    if base.startswith("https://"):
        context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    req = urllib.request.Request(
        base + path, method=method, headers=headers, data=b"" if method == "POST" else None
    )
    with urllib.request.urlopen(req, timeout=60, context=context) as resp:  # noqa: S310 - loopback only
        body = resp.read()
    parsed = json.loads(body) if body else {}
    return parsed if isinstance(parsed, dict) else {}


def receipt_notes(rows: list[IndexErasure]) -> list[str]:
    notes = []
    for row in rows:
        if row.backups:
            notes.append(
                f"index {row.index!r} has {len(row.backups)} backup(s) taken before this "
                "deletion; they may still hold the records (pc.delete_backup to remove them)"
            )
        if row.storage is not None and row.storage.get("checkpoint") != "complete":
            notes.append(
                f"index {row.index!r}: the embedded server could not empty its write-ahead "
                "log yet (another process was reading); POST /_local/checkpoint again"
            )
    return notes


def append_receipt(receipt: DeletionReceipt, audit_log: str | os.PathLike[str] | None) -> None:
    """Append the receipt as one JSON line to ``audit_log`` (or ``$TENANT_RAG_AUDIT_LOG``)."""
    chosen = audit_log if audit_log is not None else os.environ.get(AUDIT_LOG_ENV)
    if not chosen:
        return
    path = Path(chosen).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = receipt.to_json() + "\n"
    with path.open("a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_audit_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every receipt in an audit log, oldest first."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


__all__ = [
    "AUDIT_LOG_ENV",
    "DeletionReceipt",
    "IndexErasure",
    "append_receipt",
    "backups_before",
    "erase",
    "ids_sha256",
    "inventory",
    "make_physical",
    "now_iso",
    "probe_count",
    "read_audit_log",
    "receipt_notes",
]
