"""`tenant_scope`: the scope every lifecycle operation works in (one rule, shared).

Its own module so that offboarding (`tenants`), erasure and the portability
operations can all use it without importing each other.
"""

from __future__ import annotations

from tenant_rag.errors import InvalidTenantError
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation, TenantScope


def tenant_scope(
    tenant: str,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
) -> TenantScope:
    """The scope lifecycle operations use: a valid tenant that is not the shared namespace."""
    scope = TenantScope(tenant, isolation, shared_namespace=shared_namespace)
    if isolation == "namespace" and scope.tenant == shared_namespace:
        raise InvalidTenantError(
            f"tenant {scope.tenant!r} is the name of the shared namespace that metadata "
            "isolation uses for every tenant; refusing so that its records cannot be reached. "
            "Choose another tenant id."
        )
    return scope


__all__ = ["tenant_scope"]
