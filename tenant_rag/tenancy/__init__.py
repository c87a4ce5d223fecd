"""Tenant ids: checked once, at one place, before anything touches Pinecone."""

from tenant_rag.tenancy.ids import (
    DEFAULT_NAMESPACE_NAMES,
    MAX_TENANT_ID_LENGTH,
    tenant_id_for,
    validate_tenant,
)

__all__ = ["DEFAULT_NAMESPACE_NAMES", "MAX_TENANT_ID_LENGTH", "tenant_id_for", "validate_tenant"]
