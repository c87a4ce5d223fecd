"""``/jobs``: the caller's ingestion jobs, by polling or as Server-Sent Events.

A job is visible only to the tenant that uploaded it: another tenant's job id
is a 404, the same answer as an id that never existed. Inside the tenant, a
user (token) sees only the jobs they uploaded (a job's file names and report
can tell of documents they may not read); tenant keys and admins see all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from tenant_rag.chat.access import user_of
from tenant_rag.chat.auth import AclReader, Tenant
from tenant_rag.chat.errors import ChatApiError
from tenant_rag.chat.routes.documents import Jobs

router = APIRouter()
#: How often an events stream looks for a change (seconds).
POLL_SECONDS = 0.2


def _unknown(job_id: str) -> ChatApiError:
    return ChatApiError(
        404,
        "unknown_job",
        f"no job {job_id!r} for this tenant. Jobs are kept in the server's memory for an "
        "hour after they finish and do not survive a restart; if the server restarted, "
        "upload the files again (documents already ingested are unchanged and cost nothing).",
    )


@router.get("/jobs")
def list_jobs(tenant: Tenant, reader: AclReader, jobs: Jobs) -> dict[str, Any]:
    """The tenant's known jobs (a user's: their own), newest first."""
    return {"tenant": tenant, "jobs": jobs.list(tenant, user=user_of(reader))}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, tenant: Tenant, reader: AclReader, jobs: Jobs) -> dict[str, Any]:
    """One job: status, progress, and when done its report (or error)."""
    found = jobs.snapshot(tenant, job_id, user=user_of(reader))
    if found is None:
        raise _unknown(job_id)
    return found[1]


@router.get("/jobs/{job_id}/events")
async def job_events(
    job_id: str, tenant: Tenant, reader: AclReader, jobs: Jobs
) -> EventSourceResponse:
    """SSE: a ``progress`` event (the job) at once and on every change, then ``done``."""
    user = user_of(reader)
    if jobs.snapshot(tenant, job_id, user=user) is None:
        raise _unknown(job_id)
    return EventSourceResponse(_events(jobs, tenant, job_id, user), ping=15, sep="\n")


async def _events(
    jobs: Jobs, tenant: str, job_id: str, user: str | None
) -> AsyncIterator[dict[str, str]]:
    seen = -1
    while True:
        found = jobs.snapshot(tenant, job_id, user=user)
        if found is None:  # forgotten (pruned) while watched
            return
        version, job = found
        if version != seen:
            seen = version
            done = job["status"] in ("succeeded", "partial", "failed")
            yield {"event": "done" if done else "progress", "data": json.dumps(job)}
            if done:
                return
        await asyncio.sleep(POLL_SECONDS)
