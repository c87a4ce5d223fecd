"""Tenant lifecycle and operations: onboard, offboard, erase, list, stats, update, metering,
quotas, the ACL policy of an index, and the portability operations (export, import, copy, move,
re-embed)."""

from typing import TYPE_CHECKING, Any

from tenant_rag.lifecycle.access import acl_policy, set_acl_policy
from tenant_rag.lifecycle.erasure import DeletionReceipt, IndexErasure, erase
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

#: The portability operations load pyarrow and the ingestion stack; they are imported on
#: first use so that `tenant-rag tenants` and friends stay fast.
_LAZY = {
    "copy_tenant",
    "export_tenant",
    "import_tenant",
    "migrate_isolation",
    "move_tenant",
    "reembed_tenant",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from tenant_rag.lifecycle import portability

        return getattr(portability, name)
    raise AttributeError(f"module 'tenant_rag.lifecycle' has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from tenant_rag.lifecycle.portability import (
        copy_tenant,
        export_tenant,
        import_tenant,
        migrate_isolation,
        move_tenant,
        reembed_tenant,
    )

__all__ = [
    "DeletionReceipt",
    "IndexErasure",
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
    "copy_tenant",
    "erase",
    "export_tenant",
    "import_tenant",
    "list_tenants",
    "migrate_isolation",
    "move_tenant",
    "offboard",
    "onboard",
    "reembed_tenant",
    "set_acl_policy",
    "tenant_stats",
    "update_record",
]
