"""Tenancy core: tenant ids, the scope a pinned object may touch, access lists, usage hooks."""

from tenant_rag.tenancy.acl import TENANT_ADMIN, Principal
from tenant_rag.tenancy.ids import (
    DEFAULT_NAMESPACE_NAMES,
    MAX_TENANT_ID_LENGTH,
    tenant_id_for,
    validate_tenant,
)
from tenant_rag.tenancy.pinned import PinnedIndex, Record
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, TENANT_FIELD, TenantScope

__all__ = [
    "DEFAULT_NAMESPACE_NAMES",
    "DEFAULT_SHARED_NAMESPACE",
    "MAX_TENANT_ID_LENGTH",
    "TENANT_ADMIN",
    "TENANT_FIELD",
    "PinnedIndex",
    "Principal",
    "Record",
    "TenantScope",
    "tenant_id_for",
    "validate_tenant",
]
