"""``DELETE /tenants/{id}``: offboarding, for admin keys only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from tenant_rag.chat.auth import Admin
from tenant_rag.chat.serialize import report_json
from tenant_rag.chat.service import ChatService, service_of
from tenant_rag.tenancy.ids import validate_tenant

router = APIRouter()


@router.delete("/tenants/{tenant_id:path}")
async def offboard_tenant(
    tenant_id: str,
    admin: Admin,
    service: Annotated[ChatService, Depends(service_of)],
) -> dict[str, Any]:
    """Delete every record of ``tenant_id`` in the server's index and verify it is gone.

    Idempotent: offboarding a tenant with no data succeeds and reports nothing
    deleted. A bad id (empty, ``__default__``, ...) is a 400, never a wider delete.
    """
    validate_tenant(tenant_id)
    from tenant_rag.lifecycle.tenants import offboard

    result = await run_in_threadpool(offboard, tenant_id, service.index)
    return {"tenant": tenant_id, "offboarded": True, "result": report_json(result)}
