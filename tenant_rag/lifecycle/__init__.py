"""Tenant lifecycle and operations: onboard, offboard, list, stats, update, metering, quotas,
and the ACL policy of an index."""

from tenant_rag.lifecycle.access import acl_policy, set_acl_policy
from tenant_rag.lifecycle.metering import Limits, Quotas, UsageMeter, UsageTotals, active_meter
from tenant_rag.lifecycle.tenants import (
    IndexOffboard,
    OffboardReport,
    OffboardVerificationError,
    TenantInfo,
    TenantStats,
    list_tenants,
    offboard,
    onboard,
    tenant_stats,
    update_record,
)

__all__ = [
    "IndexOffboard",
    "Limits",
    "OffboardReport",
    "OffboardVerificationError",
    "Quotas",
    "TenantInfo",
    "TenantStats",
    "UsageMeter",
    "UsageTotals",
    "acl_policy",
    "active_meter",
    "list_tenants",
    "offboard",
    "onboard",
    "set_acl_policy",
    "tenant_stats",
    "update_record",
]
