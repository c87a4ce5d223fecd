"""Per-tenant usage metering and quotas.

Pinecone bills per index, not per namespace, so a SaaS that wants to bill (or
cap) each tenant has to add up the cost itself. Every pinned object reports
each operation to `tenant_rag.tenancy.usage`: the read units the server put
in each query and fetch response, and write units estimated with Pinecone's
published rule (1 WU per KB written, at least 5 per request). `UsageMeter`
listens to those events and keeps totals per tenant and per index, in
process, and can append each event to a JSON-lines file or hand it to a
callback (for a billing pipeline).

`Quotas` is the noisy-neighbour control: before an operation runs it is
asked (as a `usage` guard) and refuses a tenant that is over its record
limit or its read-unit budget for the current window with
`QuotaExceededError`. Only that tenant is refused; every other tenant keeps
its full service.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tenant_rag.errors import QuotaExceededError
from tenant_rag.tenancy import usage
from tenant_rag.tenancy.acl import TENANT_ADMIN
from tenant_rag.tenancy.ids import validate_tenant
from tenant_rag.tenancy.pinned import PinnedIndex, index_name_of
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation, TenantScope

log = logging.getLogger(__name__)

_READS = frozenset({"query", "fetch"})
_active_lock = threading.Lock()
_active: list[UsageMeter] = []


def active_meter() -> UsageMeter | None:
    """The most recently started `UsageMeter` that is still running, if any."""
    with _active_lock:
        return _active[-1] if _active else None


@dataclass
class UsageTotals:
    """Accumulated usage of one tenant, one index, or any slice of them."""

    read_units: float = 0.0
    write_units: float = 0.0
    requests: int = 0
    records_written: int = 0
    records_deleted: int = 0
    records_fetched: int = 0
    operations: dict[str, int] = field(default_factory=dict)

    def add(self, event: usage.UsageEvent) -> None:
        self.read_units += float(event.read_units)
        self.write_units += float(event.write_units)
        self.requests += 1
        self.operations[event.operation] = self.operations.get(event.operation, 0) + 1
        if event.operation in ("upsert", "update"):
            self.records_written += event.records or (1 if event.operation == "update" else 0)
        elif event.operation == "delete":
            self.records_deleted += event.records
        elif event.operation == "fetch":
            self.records_fetched += event.records

    def merge(self, other: UsageTotals) -> None:
        self.read_units += other.read_units
        self.write_units += other.write_units
        self.requests += other.requests
        self.records_written += other.records_written
        self.records_deleted += other.records_deleted
        self.records_fetched += other.records_fetched
        for op, n in other.operations.items():
            self.operations[op] = self.operations.get(op, 0) + n

    def merged(self, other: UsageTotals) -> UsageTotals:
        """``self`` after merging ``other`` into it (a copy for readers)."""
        self.merge(other)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class UsageMeter:
    """Meters every pinned operation per tenant and per index while it runs.

    >>> with UsageMeter(jsonl="usage.jsonl") as meter:   # doctest: +SKIP
    ...     store.similarity_search("q")
    ...     meter.usage(tenant="acme").read_units

    ``jsonl`` appends one JSON object per event to that file; ``callback``
    receives the same dict. A failing callback is logged, not raised: the
    operation it reports has already happened, and the caller's request
    should not fail for a billing hiccup. ``quotas`` are started and stopped
    with the meter. Thread-safe: pinned objects may report from any thread.
    """

    def __init__(
        self,
        *,
        jsonl: str | Path | None = None,
        callback: Callable[[dict[str, Any]], None] | None = None,
        quotas: Quotas | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jsonl = Path(jsonl) if jsonl is not None else None
        self.callback = callback
        self.quotas = quotas
        self._clock = clock
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str], UsageTotals] = {}
        #: (tenant, user) -> totals of the reads made for that user (per-user metering)
        self._by_user: dict[tuple[str, str], UsageTotals] = {}
        self._file: IO[str] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> UsageMeter:
        """Subscribe to usage events (idempotent); returns self."""
        if self._unsubscribe is not None:
            return self
        if self.jsonl is not None:
            self.jsonl.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.jsonl.open("a", encoding="utf-8")
        if self.quotas is not None:
            self.quotas.start()
        self._unsubscribe = usage.add_listener(self.record)
        with _active_lock:
            _active.append(self)
        return self

    def stop(self) -> None:
        """Unsubscribe and close the export file (idempotent); totals stay readable."""
        if self._unsubscribe is None:
            return
        self._unsubscribe()
        self._unsubscribe = None
        with _active_lock:
            if self in _active:
                _active.remove(self)
        if self.quotas is not None:
            self.quotas.stop()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    @property
    def running(self) -> bool:
        return self._unsubscribe is not None

    def __enter__(self) -> UsageMeter:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- recording -----------------------------------------------------------------

    def record(self, event: usage.UsageEvent) -> None:
        """Account one event (the `usage` listener; also callable directly)."""
        row = {
            "ts": round(self._clock(), 6),
            "tenant": event.tenant,
            "index": event.index,
            "operation": event.operation,
            "read_units": float(event.read_units),
            "write_units": float(event.write_units),
            "records": int(event.records),
        }
        if event.user is not None:
            row["user"] = event.user
        with self._lock:
            self._totals.setdefault((event.tenant, event.index), UsageTotals()).add(event)
            if event.user is not None:
                self._by_user.setdefault((event.tenant, event.user), UsageTotals()).add(event)
            if self._file is not None:
                self._file.write(json.dumps(row) + "\n")
                self._file.flush()
        if self.callback is not None:
            try:
                self.callback(row)
            except Exception:  # noqa: BLE001 - see the class docstring
                log.exception("usage callback failed for %s", row)

    def reset(self) -> None:
        """Forget every total (e.g. at the start of a billing period)."""
        with self._lock:
            self._totals.clear()
            self._by_user.clear()

    # -- reading -------------------------------------------------------------------

    def usage(self, tenant: str | None = None, index: str | None = None) -> UsageTotals:
        """Totals for one tenant and/or one index (``None`` means all of them)."""
        out = UsageTotals()
        with self._lock:
            for (t, ix), totals in self._totals.items():
                if (tenant is None or t == tenant) and (index is None or ix == index):
                    out.merge(totals)
        return out

    def by_user(self, tenant: str) -> dict[str, UsageTotals]:
        """Read usage inside ``tenant`` per user: queries and fetches made for a `Principal`.

        Reads made with no principal or as ``TENANT_ADMIN``, and all writes,
        belong to the tenant only (they are in `usage` and `totals`, not here).
        """
        with self._lock:
            return {
                u: UsageTotals().merged(totals)
                for (t, u), totals in sorted(self._by_user.items())
                if t == tenant
            }

    def totals(self) -> dict[str, UsageTotals]:
        """Totals per tenant, summed over indexes: the figures to bill."""
        out: dict[str, UsageTotals] = {}
        with self._lock:
            for (t, _), totals in sorted(self._totals.items()):
                out.setdefault(t, UsageTotals()).merge(totals)
        return out

    def by_index(self) -> dict[str, UsageTotals]:
        """Totals per index, summed over tenants."""
        out: dict[str, UsageTotals] = {}
        with self._lock:
            for (_, ix), totals in sorted(self._totals.items()):
                out.setdefault(ix, UsageTotals()).merge(totals)
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per (tenant, index), JSON-ready, for tables and charts."""
        with self._lock:
            return [
                {"tenant": t, "index": ix, **totals.to_dict()}
                for (t, ix), totals in sorted(self._totals.items())
            ]


# -- quotas ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """One tenant's limits; ``None`` means unlimited."""

    max_records: int | None = None
    max_read_units: float | None = None


class Quotas:
    """Per-tenant limits, enforced before each operation by a `usage` guard.

    * ``max_records``: records one tenant may hold in one index. Checked on
      upsert against a cached count that events keep current (upserts add,
      deletes and offboarding subtract), so the check costs no request. The
      first check for a tenant counts its records once in each index given in
      ``indexes`` (or bound later with `bind`); for other indexes the count
      starts at 0 when the quotas start. Overwrites count as new records until
      the cached count would pass the limit; then the count is re-read from
      the index before refusing.
    * ``max_read_units``: read units one tenant may use, over all indexes, in
      any sliding ``window`` seconds. Queries and fetches are refused once
      the budget is spent; the request that crosses the line completes,
      since its cost is known only from its response.

    ``tenants`` overrides the defaults per tenant. Deletes are never
    refused, so a tenant over its record limit can always get under it.
    """

    def __init__(
        self,
        *,
        max_records: int | None = None,
        max_read_units: float | None = None,
        window: float = 60.0,
        tenants: Mapping[str, Limits] | None = None,
        indexes: Sequence[Any] = (),
        isolation: Isolation = "namespace",
        shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window <= 0:
            raise ValueError(f"window must be a positive number of seconds, got {window!r}.")
        self.default = Limits(max_records, max_read_units)
        self.window = float(window)
        self.tenants = {validate_tenant(t): lim for t, lim in (tenants or {}).items()}
        self.isolation: Isolation = isolation
        self.shared_namespace = shared_namespace
        self._clock = clock
        self._lock = threading.Lock()
        self._indexes: dict[str, Any] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._reads: dict[str, deque[tuple[float, float]]] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        for ix in indexes:
            self.bind(ix)

    def limits_for(self, tenant: str) -> Limits:
        return self.tenants.get(tenant, self.default)

    def bind(self, index: Any) -> None:
        """Let record counts for ``index`` start from the index's real count."""
        with self._lock:
            self._indexes[index_name_of(index)] = index

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Quotas:
        """Register the guard and the listener (idempotent); returns self."""
        if not self._unsubscribe:
            self._unsubscribe = [usage.add_guard(self.check), usage.add_listener(self.observe)]
        return self

    def stop(self) -> None:
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe = []

    def __enter__(self) -> Quotas:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the guard -----------------------------------------------------------------

    def check(self, tenant: str, index: str, operation: usage.Operation, records: int) -> None:
        """Raise `QuotaExceededError` if ``tenant`` may not run ``operation`` now."""
        limits = self.limits_for(tenant)
        if operation == "upsert" and limits.max_records is not None:
            self._check_records(tenant, index, records, limits.max_records)
        elif operation in _READS and limits.max_read_units is not None:
            used = self.read_units_used(tenant)
            if used >= limits.max_read_units:
                raise QuotaExceededError(
                    tenant, f"read units per {self.window:g} s", limits.max_read_units, used
                )

    def _check_records(self, tenant: str, index: str, adding: int, limit: int) -> None:
        count = self._count(tenant, index)
        if count + adding <= limit:
            return
        if index in self._indexes:  # the cache over-counts overwrites: re-read, then decide
            count = self._count(tenant, index, refresh=True)
            if count + adding <= limit:
                return
        raise QuotaExceededError(
            tenant, f"max_records (index {index!r}, upsert of {adding})", limit, count + adding
        )

    def observe(self, event: usage.UsageEvent) -> None:
        """Keep counts and read windows current (the `usage` listener)."""
        key = (event.tenant, event.index)
        with self._lock:
            if event.operation == "upsert" and key in self._counts:
                self._counts[key] += event.records
            elif event.operation == "delete" and key in self._counts:
                self._counts[key] = max(0, self._counts[key] - event.records)
            if event.read_units:
                self._reads.setdefault(event.tenant, deque()).append(
                    (self._clock(), float(event.read_units))
                )

    # -- figures -------------------------------------------------------------------

    def read_units_used(self, tenant: str) -> float:
        """Read units ``tenant`` used in the current window."""
        horizon = self._clock() - self.window
        with self._lock:
            reads = self._reads.get(tenant)
            if not reads:
                return 0.0
            while reads and reads[0][0] <= horizon:
                reads.popleft()
            return sum(units for _, units in reads)

    def record_count(self, tenant: str, index: str) -> int:
        """The cached record count the records quota is checked against."""
        return self._count(tenant, index)

    def _count(self, tenant: str, index: str, *, refresh: bool = False) -> int:
        key = (tenant, index)
        with self._lock:
            cached = self._counts.get(key)
            handle = self._indexes.get(index)
        if cached is not None and not refresh:
            return cached
        fresh = 0
        if handle is not None:
            scope = TenantScope(tenant, self.isolation, shared_namespace=self.shared_namespace)
            fresh = PinnedIndex(handle, scope, index_name=index, principal=TENANT_ADMIN).count()
        with self._lock:
            self._counts[key] = fresh
        return fresh
