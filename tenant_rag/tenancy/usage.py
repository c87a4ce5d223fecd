"""Usage hooks: how pinned objects report cost and ask for permission.

Pinecone has no per-namespace billing, so per-tenant cost must be built from
each response's ``usage`` (read units) and Pinecone's published write-unit
rules. Pinned objects call :func:`guard` before an operation (a quota may
refuse it) and :func:`emit` after it. The metering module
(`tenant_rag.lifecycle.metering`) subscribes here; nothing in this module
knows about quotas or exports, so the data path stays independent of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Operation = Literal["query", "fetch", "upsert", "update", "delete", "list", "stats"]


@dataclass(frozen=True)
class UsageEvent:
    """One operation by one tenant on one index."""

    tenant: str
    index: str
    operation: Operation
    read_units: float = 0.0
    write_units: float = 0.0
    records: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    #: the principal's user id for reads made on a user's behalf (per-user metering)
    user: str | None = None


Guard = Callable[[str, str, Operation, int], None]
Listener = Callable[[UsageEvent], None]

_lock = threading.Lock()
_guards: list[Guard] = []
_listeners: list[Listener] = []


def add_guard(fn: Guard) -> Callable[[], None]:
    """Register ``fn(tenant, index, operation, records)``; it may raise to refuse."""
    with _lock:
        _guards.append(fn)
    return lambda: _remove(_guards, fn)


def add_listener(fn: Listener) -> Callable[[], None]:
    """Register ``fn(event)`` to receive every usage event; returns an unsubscribe."""
    with _lock:
        _listeners.append(fn)
    return lambda: _remove(_listeners, fn)


def guard(tenant: str, index: str, operation: Operation, records: int = 0) -> None:
    """Ask every guard whether the operation may run (raises to refuse)."""
    for fn in tuple(_guards):
        fn(tenant, index, operation, records)


def emit(event: UsageEvent) -> None:
    """Deliver an event to every listener."""
    for fn in tuple(_listeners):
        fn(event)


def _remove(items: list, fn: object) -> None:
    with _lock:
        if fn in items:
            items.remove(fn)


def write_units_for(payload_bytes: int, requests: int = 1) -> float:
    """Pinecone's published write cost: 1 WU per KB, at least 5 per request."""
    return max(5.0 * requests, payload_bytes / 1024.0)


def read_units_of(response: object) -> float:
    """Read units reported in a query/fetch response's ``usage`` (0 if absent)."""
    usage = getattr(response, "usage", None)
    if usage is None and isinstance(response, dict):
        usage = response.get("usage")
    if usage is None:
        return 0.0
    units = getattr(usage, "read_units", None)
    if units is None and isinstance(usage, dict):
        units = usage.get("read_units", usage.get("readUnits"))
    return float(units or 0.0)
