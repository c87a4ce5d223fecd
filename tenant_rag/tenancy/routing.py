"""`RoutingTable`: which index serves each tenant, in one small file, switched atomically.

Re-embedding a tenant with a new model puts its records in a new index (a new
model means a new dimension). Until the new index is complete and verified,
the tenant must be served from the old one; afterwards, from the new one, and
never from a mix. Per-request chains (`per_request_retriever(routes=...)`) and
the chat backend therefore look a tenant's index up here on every request, and
`reembed_tenant` / `move_tenant` switch it with one atomic file replacement
(write a temporary file, fsync, rename): a reader sees the old route or the new
one, never half of either. Each route keeps the one before it, so a rollback is
another single replacement.

A tenant without a route is served by the caller's default index. Lookups cost
one ``stat`` of the file; it is re-read only when it changed, so a switch made
by another process is seen by the next request. Writers serialise on an
``flock`` of ``<file>.lock``.

File format (``format`` is checked on read)::

    {"format": "tenant-rag-routes/1",
     "routes": {"acme": {"index": "rag-minilm-v2", "isolation": "namespace",
                         "changed_at": 1764530000.0, "reason": "reembed",
                         "previous": {"index": "rag", "isolation": "namespace"}}}}
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenant_rag.errors import ConfigurationError
from tenant_rag.tenancy.ids import validate_tenant
from tenant_rag.tenancy.scope import Isolation

FORMAT = "tenant-rag-routes/1"


@dataclass(frozen=True)
class Route:
    """Where one tenant is served: an index (by name) and the isolation used in it."""

    index: str
    isolation: Isolation = "namespace"
    changed_at: float = 0.0
    reason: str = ""
    previous: Route | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "isolation": self.isolation,
            "changed_at": self.changed_at,
            "reason": self.reason,
        }
        if self.previous is not None:
            out["previous"] = {"index": self.previous.index, "isolation": self.previous.isolation}
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Route:
        prev = raw.get("previous")
        return cls(
            index=str(raw["index"]),
            isolation=raw.get("isolation", "namespace"),
            changed_at=float(raw.get("changed_at", 0.0)),
            reason=str(raw.get("reason", "")),
            previous=cls(str(prev["index"]), prev.get("isolation", "namespace")) if prev else None,
        )


class RoutingTable:
    """The persisted tenant -> index map. Safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._routes: dict[str, Route] = {}

    def __repr__(self) -> str:
        return f"RoutingTable({str(self.path)!r})"

    # -- reading -------------------------------------------------------------------------

    def get(self, tenant: str) -> Route | None:
        """The tenant's route, or None when it is served by the default index."""
        return self._current().get(validate_tenant(tenant))

    def index_for(self, tenant: str, default: str) -> str:
        """The name of the index that serves ``tenant`` (``default`` when it has no route)."""
        route = self.get(tenant)
        return route.index if route is not None else default

    def routes(self) -> dict[str, Route]:
        """Every route, by tenant."""
        return dict(self._current())

    def _current(self) -> dict[str, Route]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            with self._lock:
                self._stamp, self._routes = None, {}
            return {}
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp == self._stamp:
                return self._routes
        routes = self._read()
        with self._lock:
            self._stamp, self._routes = stamp, routes
        return routes

    def _read(self) -> dict[str, Route]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise ConfigurationError(
                f"routing table {self.path} is not valid JSON ({exc}); it is only ever replaced "
                "whole, so it was edited by hand: fix it or restore it from a backup."
            ) from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ConfigurationError(
                f"{self.path} is not a tenant_rag routing table (format {FORMAT!r})."
            )
        return {t: Route.from_dict(r) for t, r in (raw.get("routes") or {}).items()}

    # -- writing -------------------------------------------------------------------------

    def switch(
        self,
        tenant: str,
        index: str,
        *,
        isolation: Isolation = "namespace",
        expect: str | None = None,
        expect_isolation: Isolation = "namespace",
        reason: str = "",
    ) -> Route:
        """Route ``tenant`` to ``index`` in one atomic write; the old route is kept for rollback.

        ``expect``: the index the caller believes serves the tenant now (the
        route's, or the default's name; ``expect_isolation`` its isolation); a
        different current route raises instead of overwriting a switch made
        meanwhile by someone else. It becomes the route's ``previous`` when the
        tenant had no route yet.
        """
        tenant = validate_tenant(tenant)
        if not index:
            raise ValueError("index must be the name of the index that will serve the tenant.")
        with self._exclusive() as routes:
            current = routes.get(tenant)
            if expect is not None and current is not None and current.index != expect:
                raise ConfigurationError(
                    f"tenant {tenant!r} is routed to {current.index!r}, not {expect!r} as "
                    "expected: another switch happened meanwhile. Read the table again."
                )
            previous = (
                current
                if current is not None
                else (Route(expect, isolation) if expect is not None else None)
            )
            route = Route(
                index=index,
                isolation=isolation,
                changed_at=time.time(),
                reason=reason,
                previous=Route(previous.index, previous.isolation) if previous else None,
            )
            routes[tenant] = route
        return route

    def rollback(self, tenant: str, *, reason: str = "rollback") -> Route:
        """Route ``tenant`` back to the index it was served by before its last switch."""
        tenant = validate_tenant(tenant)
        with self._exclusive() as routes:
            current = routes.get(tenant)
            if current is None or current.previous is None:
                raise ConfigurationError(
                    f"tenant {tenant!r} has no earlier route to roll back to in {self.path}."
                )
            back = Route(
                index=current.previous.index,
                isolation=current.previous.isolation,
                changed_at=time.time(),
                reason=reason,
                previous=Route(current.index, current.isolation),
            )
            routes[tenant] = back
        return back

    def remove(self, tenant: str) -> None:
        """Forget the tenant's route: it is served by the default index again."""
        tenant = validate_tenant(tenant)
        with self._exclusive() as routes:
            routes.pop(tenant, None)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[dict[str, Route]]:
        """Read-modify-write under the file lock; the new table replaces the old atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                routes = self._read()
                yield routes
                payload = {
                    "format": FORMAT,
                    "routes": {t: r.to_dict() for t, r in sorted(routes.items())},
                }
                tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
                with tmp.open("w") as f:
                    json.dump(payload, f, indent=2)
                    f.write("\n")
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
                _fsync_dir(self.path.parent)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        with self._lock:
            self._stamp = None  # re-read on next lookup


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["FORMAT", "Route", "RoutingTable"]
