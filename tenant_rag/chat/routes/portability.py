"""Admin routes for a tenant's data: download an export, erase one data subject.

``GET /tenants/{id}/export`` streams a zip of `export_tenant`'s output
(``manifest.json`` and the Parquet files, the layout Pinecone's bulk import
reads) from the index that serves the tenant. ``POST /tenants/{id}/erase``
with ``{"filter": {"user_id": "u1"}}`` deletes one data subject inside the
tenant (`tenant_rag.lifecycle.erasure.erase`) and answers its
`DeletionReceipt`, which is also appended to the audit log when one is
configured. Both need an admin key: a tenant key gets 403.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from tenant_rag.chat.auth import Admin
from tenant_rag.chat.serialize import report_json
from tenant_rag.chat.service import ChatService, service_of
from tenant_rag.tenancy.ids import validate_tenant

router = APIRouter()
Service = Annotated[ChatService, Depends(service_of)]


class EraseRequest(BaseModel):
    """The subject to erase, as a Pinecone metadata filter; nothing else is accepted."""

    model_config = ConfigDict(extra="forbid")
    filter: dict[str, Any] = Field(min_length=1)


@router.get("/tenants/{tenant_id:path}/export")
async def export_tenant_zip(tenant_id: str, admin: Admin, service: Service) -> FileResponse:
    """The tenant's records as a zip of Parquet files plus ``manifest.json``."""
    validate_tenant(tenant_id)
    work = Path(tempfile.mkdtemp(prefix="tenant-rag-export-"))
    try:
        archive = await run_in_threadpool(_export_zip, service, tenant_id, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=f"{archive.name}",
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )


def _export_zip(service: ChatService, tenant: str, work: Path) -> Path:
    from tenant_rag.lifecycle.portability import export_tenant
    from tenant_rag.lifecycle.portability.export import namespace_directory

    index, _, _ = service.target(tenant)
    out = work / "export"
    export_tenant(index, tenant, out)
    archive = work / f"{namespace_directory(tenant)}-export.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(out.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(out).as_posix())
    shutil.rmtree(out, ignore_errors=True)
    return archive


@router.post("/tenants/{tenant_id:path}/erase")
async def erase_subject(
    tenant_id: str, body: EraseRequest, admin: Admin, service: Service, request: Request
) -> dict[str, Any]:
    """Delete the records of one data subject inside the tenant; answer the receipt."""
    validate_tenant(tenant_id)
    from tenant_rag.lifecycle.erasure import erase

    index, _, _ = service.target(tenant_id)
    receipt = await run_in_threadpool(
        lambda: erase(
            index,
            tenant_id,
            filter=body.filter,
            audit_log=getattr(request.app.state, "audit_log", None),
        )
    )
    return {"tenant": tenant_id, "erased": True, "receipt": report_json(receipt)}
