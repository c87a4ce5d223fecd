"""REST routes for backups and restore jobs (Pinecone's control plane, every API version).

Paths, as in Pinecone's specs (2025-04, 2025-10 and 2026-07 agree on them):

| method | path | answer |
| --- | --- | --- |
| POST | ``/indexes/{index_name}/backups`` | 201 BackupModel |
| GET | ``/indexes/{index_name}/backups`` | 200 BackupList (``include_deleted`` from 2026-07) |
| GET | ``/backups`` | 200 BackupList |
| GET | ``/backups/{backup_id}`` | 200 BackupModel |
| DELETE | ``/backups/{backup_id}`` | 202 |
| POST | ``/backups/{backup_id}/create-index`` | 202 ``{restore_job_id, index_id}`` |
| GET | ``/restore-jobs``, ``/restore-jobs/{job_id}`` | 200 RestoreJobList / RestoreJobModel |

The version comes from the REST layer's version middleware (``versions.version_of``).
What the versions change is the BackupModel: 2025-04 and 2025-10 carry the
source's ``dimension`` and ``metric``; 2026-07 carries its ``schema`` instead
(``_values``/``_sparse_values`` fields for a vectors-API index), ``tags: null``
when there are none, and ``source_index_deleted_at`` once the source is gone.
Lists page by ``limit`` (1 to 100, default 10) and ``paginationToken``; the last
page has no ``pagination`` key.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tenant_rag.local.api.versions import version_of
from tenant_rag.local.api.versions.v2026_07 import schema_fields
from tenant_rag.local.engine.backups import RESOURCE_NAME, Backups, source_def
from tenant_rag.local.engine.errors import bad_request
from tenant_rag.local.storage.backups import BackupRecord, RestoreJob

T = TypeVar("T")
DEFAULT_PAGE = 10
MAX_PAGE = 100


def _json(body: Any, status: int = 200) -> Response:
    return Response(content=orjson.dumps(body), status_code=status, media_type="application/json")


def _time(ts: float) -> str:
    """RFC 3339 in UTC with a ``Z``, as Pinecone writes timestamps."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def backup_model(r: BackupRecord, version: str) -> dict[str, Any]:
    """Pinecone's BackupModel of ``r`` in API ``version``."""
    d = source_def(r)
    body: dict[str, Any] = {
        "backup_id": r.backup_id,
        "source_index_name": r.source_name,
        "source_index_id": r.source_uid,
        "status": r.status,
        "cloud": d.cloud,
        "region": d.region,
        "created_at": _time(r.created_at),
    }
    for key, value in (("name", r.name), ("description", r.description)):
        if value is not None:
            body[key] = value
    for key, count in (
        ("record_count", r.record_count),
        ("namespace_count", r.namespace_count),
        ("size_bytes", r.size_bytes),
    ):
        if count is not None:
            body[key] = count
    if version >= "2026-07":
        body["schema"] = {"fields": schema_fields(d)}
        body["tags"] = d.tags or None
        if r.source_deleted_at is not None:
            body["source_index_deleted_at"] = _time(r.source_deleted_at)
    else:
        if d.dimension is not None:
            body["dimension"] = d.dimension
        body["metric"] = d.metric
        if d.tags:
            body["tags"] = d.tags
    return body


def restore_job_model(job: RestoreJob) -> dict[str, Any]:
    body: dict[str, Any] = {
        "restore_job_id": job.job_id,
        "backup_id": job.backup_id,
        "target_index_name": job.target_name,
        "target_index_id": job.target_uid,
        "status": job.status,
        "created_at": _time(job.created_at),
        "percent_complete": job.percent_complete,
    }
    if job.completed_at is not None:
        body["completed_at"] = _time(job.completed_at)
    return body


def _page(items: list[Any], request: Request) -> tuple[list[Any], str | None]:
    """One page of ``items`` by ``limit`` / ``paginationToken``, and the next page's token."""
    raw_limit = request.query_params.get("limit")
    try:
        limit = int(raw_limit) if raw_limit else DEFAULT_PAGE
    except ValueError:
        raise bad_request(f"limit must be an integer, got {raw_limit!r}") from None
    if not 1 <= limit <= MAX_PAGE:
        raise bad_request(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    token = request.query_params.get("paginationToken")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise bad_request(f"paginationToken {token!r} is not one this server issued") from None
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, (base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None)


def _listing(data: list[dict[str, Any]], next_token: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"data": data}
    if next_token is not None:
        body["pagination"] = {"next": next_token}
    return body


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


def backups_router(backups: Backups) -> APIRouter:
    """The routes above, over ``backups``."""
    router = APIRouter()

    async def run(fn: Callable[[], T]) -> T:
        return await to_thread.run_sync(fn)

    @router.post("/indexes/{index_name}/backups")
    async def create_backup(index_name: str, request: Request) -> Response:
        body = await _body(request)
        name, version = body.get("name"), version_of(request).name
        if version >= "2026-07" and name is not None:
            _check_backup_name(name)
        record = await run(lambda: backups.create(index_name, name, body.get("description")))
        return _json(backup_model(record, version), 201)

    @router.get("/indexes/{index_name}/backups")
    async def list_index_backups(index_name: str, request: Request) -> Response:
        version = version_of(request).name
        include_deleted = False
        if version >= "2026-07":
            flag = request.query_params.get("include_deleted", "false").lower()
            if flag not in ("true", "false"):
                raise bad_request(f"include_deleted must be true or false, got {flag!r}")
            include_deleted = flag == "true"
        records = await run(
            lambda: backups.list_backups(index_name, include_deleted=include_deleted)
        )
        page, nxt = _page(records, request)
        return _json(_listing([backup_model(r, version) for r in page], nxt))

    @router.get("/backups")
    async def list_project_backups(request: Request) -> Response:
        version = version_of(request).name
        page, nxt = _page(await run(backups.list_backups), request)
        return _json(_listing([backup_model(r, version) for r in page], nxt))

    @router.get("/backups/{backup_id}")
    async def describe_backup(backup_id: str, request: Request) -> Response:
        record = await run(lambda: backups.describe(backup_id))
        return _json(backup_model(record, version_of(request).name))

    @router.delete("/backups/{backup_id}")
    async def delete_backup(backup_id: str) -> Response:
        await run(lambda: backups.delete(backup_id))
        return Response(status_code=202)

    @router.post("/backups/{backup_id}/create-index")
    async def create_index_from_backup(backup_id: str, request: Request) -> Response:
        body = await _body(request)
        if "name" not in body:
            raise bad_request("name is required: the name of the index to create")
        job, d = await run(
            lambda: backups.restore(
                backup_id, body.get("name"), body.get("tags"), body.get("deletion_protection")
            )
        )
        return _json({"restore_job_id": job.job_id, "index_id": d.uid}, 202)

    @router.get("/restore-jobs")
    async def list_restore_jobs(request: Request) -> Response:
        page, nxt = _page(await run(backups.jobs), request)
        return _json(_listing([restore_job_model(j) for j in page], nxt))

    @router.get("/restore-jobs/{job_id}")
    async def describe_restore_job(job_id: str) -> Response:
        return _json(restore_job_model(await run(lambda: backups.job(job_id))))

    return router


def _check_backup_name(name: Any) -> None:
    """2026-07: 1-45 lowercase letters, digits or ``-``, alphanumeric at both ends; else 400."""
    if not isinstance(name, str) or not RESOURCE_NAME.match(name):
        raise bad_request(
            f"Invalid backup name {name!r}: use 1 to 45 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
