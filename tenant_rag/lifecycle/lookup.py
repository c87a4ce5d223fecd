"""Is this tenant (or this document) there? And if not, which close name was meant?

Pinecone answers a query on a namespace that does not exist with an empty
result, so a typo (``zephir`` for ``zephyr``) looks exactly like a tenant
with nothing relevant. Operators' tools (the CLI) call `require_tenant`
before reading, and turn the silence into an error that names the close
matches. Listing the other tenants is an admin view (names only, never
records), so request paths of a multi-tenant app must not call this.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from tenant_rag.errors import UnknownTenantError
from tenant_rag.tenancy.pinned import PinnedIndex, index_name_of
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation

_SHOWN = 8


def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` candidates that look like ``name`` (case-insensitive), best first."""
    pool = sorted(set(candidates))
    lowered = {c.lower(): c for c in pool}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    exact_case = [c for c in pool if c.lower() == name.lower() and c != name]
    return list(dict.fromkeys(exact_case + [lowered[f] for f in found if lowered[f] != name]))[:n]


def has_records(index: Any, tenant: str, *, isolation: Isolation = "namespace") -> bool:
    """True when ``tenant`` holds at least one record in ``index`` (one cheap request)."""
    pinned = PinnedIndex(index, tenant, isolation=isolation)
    if isolation == "metadata":
        return next(iter(pinned.list_ids(limit=1)), None) is not None
    return pinned.count() > 0


def require_tenant(
    index: Any,
    tenant: str,
    *,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    action: str = "",
) -> None:
    """Raise `UnknownTenantError` (with close names) unless ``tenant`` has data in ``index``."""
    if has_records(index, tenant, isolation=isolation):
        return
    raise unknown_tenant(
        index, tenant, isolation=isolation, shared_namespace=shared_namespace, action=action
    )


def unknown_tenant(
    index: Any,
    tenant: str,
    *,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    action: str = "",
) -> UnknownTenantError:
    """The error for a tenant with no data in ``index``, naming the tenants it may mean."""
    from tenant_rag.lifecycle.tenants import list_tenants

    known = [
        t.tenant
        for t in list_tenants(index, isolation=isolation, shared_namespace=shared_namespace)
    ]
    suggestions = close_matches(tenant, known)
    name = index_name_of(index)
    message = f"tenant {tenant!r} has no data in index {name!r}"
    message += f"; {action}." if action else "."
    if suggestions:
        message += f" Did you mean {_or_list(suggestions)}?"
    elif known:
        shown = ", ".join(known[:_SHOWN]) + (", …" if len(known) > _SHOWN else "")
        message += f" Its tenants: {shown}."
    else:
        message += " The index holds no tenant yet."
    return UnknownTenantError(message, tenant, suggestions)


def _or_list(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
