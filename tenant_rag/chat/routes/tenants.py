"""``/tenants``: the tenant list and offboarding, for admin keys only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from tenant_rag.chat.auth import Admin
from tenant_rag.chat.serialize import report_json
from tenant_rag.chat.service import ChatService, service_of
from tenant_rag.tenancy.ids import validate_tenant

router = APIRouter()


@router.get("/tenants")
async def list_tenants(
    request: Request,
    admin: Admin,
    service: Annotated[ChatService, Depends(service_of)],
) -> dict[str, Any]:
    """Every tenant: those with data in the index and those with a key, whichever applies.

    ``records`` is the tenant's record count in the index (0 for a tenant with a
    key and no data yet); ``has_key`` says whether a tenant key is configured
    for it (false for data left by a tenant whose key was removed).
    """
    from tenant_rag.lifecycle.tenants import list_tenants as tenants_in

    found = await run_in_threadpool(tenants_in, service.index)
    counts = {t.tenant: t.record_count for t in found}
    keyed = set(request.app.state.keys.ring.tenants)
    rows = [
        {"tenant": t, "records": counts.get(t, 0), "has_key": t in keyed}
        for t in sorted(set(counts) | keyed)
    ]
    return {"index": service.index_name, "tenants": rows}


@router.delete("/tenants/{tenant_id:path}")
async def offboard_tenant(
    tenant_id: str,
    admin: Admin,
    service: Annotated[ChatService, Depends(service_of)],
    request: Request,
) -> dict[str, Any]:
    """Delete every record of ``tenant_id`` in the index serving it and verify it is gone.

    Idempotent: offboarding a tenant with no data succeeds and reports nothing
    deleted. A bad id (empty, ``__default__``, ...) is a 400, never a wider delete.
    The result is the `DeletionReceipt`, also appended to the audit log when one
    is configured.
    """
    validate_tenant(tenant_id)
    from tenant_rag.lifecycle.tenants import offboard

    index, _, _ = service.target(tenant_id)
    audit_log = getattr(request.app.state, "audit_log", None)
    result = await run_in_threadpool(lambda: offboard(tenant_id, index, audit_log=audit_log))
    return {"tenant": tenant_id, "offboarded": True, "result": report_json(result)}
