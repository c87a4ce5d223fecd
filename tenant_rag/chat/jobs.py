"""Ingestion as background jobs: an upload answers at once, the work happens after.

A 600 KB upload used to hold its HTTP request open for 39 s while it was chunked
and embedded; at the 10 MB cap that would be ten minutes, behind a page that
only said "Uploading and ingesting". Now ``POST /documents`` saves the files,
checks what can be checked at once (names, types, sizes), queues a `Job` and
answers ``202`` with it; ``GET /jobs/{id}`` (polling) and ``GET /jobs/{id}/events``
(Server-Sent Events) report its progress until it is done.

Scheduling: ``workers`` threads (default 1) run jobs; each tenant's jobs run one
at a time in the order they came (two uploads of one document never race), and
the next job is picked round robin across tenants, so one tenant's ten big
uploads do not hold another tenant's small one until they are all done. Chat
requests do not wait for jobs at all: they run on the server's own threads,
while jobs use these. On 2 cores the embedding model is what they share;
``benchmarks/bench_chat_jobs.py`` measures another tenant's answer latency
during a large upload.

Lifetime: jobs live in this process's memory. A finished job is kept for
``keep_seconds`` (and at most ``keep_per_tenant`` per tenant) so clients can
read its report. On shutdown, queued jobs are marked ``failed`` (code
``server_stopped``) and a running one is given ``shutdown_grace`` seconds. After
a restart the server knows no job: ``GET /jobs/{id}`` is a 404 saying so. What
was ingested stays ingested (each document's chunk ``#0`` is written last, so a
document cut off mid-way is re-written in full by the next upload of it, and
unchanged ones cost a hash); the client uploads the same files again. Upload
directories left by a killed process are removed at the next start.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tenant_rag.chat.errors import ChatApiError, status_for
from tenant_rag.chat.serialize import report_json
from tenant_rag.errors import TenantRagError
from tenant_rag.local.discovery import pid_alive

log = logging.getLogger("tenant_rag.chat")

JobStatus = Literal["queued", "running", "succeeded", "partial", "failed"]
#: Upload directories are named ``<UPLOAD_PREFIX><pid>-<random>`` under the temp dir.
UPLOAD_PREFIX = "tenant-rag-upload-"


@dataclass
class Job:
    """One upload's ingestion, as the API shows it (`to_dict`)."""

    id: str
    tenant: str
    documents: list[str]
    bytes: int
    created: float = field(default_factory=time.time)
    status: JobStatus = "queued"
    started: float | None = None
    finished: float | None = None
    documents_done: int = 0
    documents_total: int | None = None
    chunks_upserted: int = 0
    report: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    #: Bumped on every change, so watchers know when to send an update.
    version: int = 0
    root: Path | None = field(default=None, repr=False)
    paths: list[Path] = field(default_factory=list, repr=False)
    #: Keyword arguments for the ingest function (``replace=True``).
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    #: The user (token) who uploaded it; None for a tenant key or a tenant admin. A user
    #: sees only their own jobs (names and reports can tell of documents they may not read).
    owner: str | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "partial", "failed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "status": self.status,
            "documents": self.documents,
            "bytes": self.bytes,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "progress": {
                "documents_done": self.documents_done,
                "documents_total": self.documents_total,
                "chunks_upserted": self.chunks_upserted,
            },
            "report": self.report,
            "error": self.error,
        }


class TooManyJobs(Exception):
    """The tenant already has as many unfinished jobs as allowed."""


#: Runs one job: ``ingest(tenant, root, paths, progress, **options) -> report``.
IngestFn = Callable[..., Any]


class JobManager:
    """Queues, runs and remembers ingestion jobs. Thread-safe."""

    def __init__(
        self,
        ingest: IngestFn,
        *,
        workers: int = 1,
        max_pending_per_tenant: int = 10,
        keep_seconds: float = 3600.0,
        keep_per_tenant: int = 50,
        shutdown_grace: float = 5.0,
    ) -> None:
        self._ingest = ingest
        self.max_pending_per_tenant = max_pending_per_tenant
        self.keep_seconds, self.keep_per_tenant = keep_seconds, keep_per_tenant
        self.shutdown_grace = shutdown_grace
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queues: dict[str, deque[Job]] = {}
        self._order: deque[str] = deque()  # tenants with queued jobs, round robin
        self._running: set[str] = set()  # tenants with a running job
        self._cond = threading.Condition()
        self._closed = False
        self._workers = max(1, workers)
        self._threads: list[threading.Thread] = []  # started by the first submit
        sweep_stale_uploads()

    # -- the API's side --------------------------------------------------------------------

    def new_upload_dir(self) -> Path:
        """A private directory for one upload's files (removed when its job ends)."""
        return Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-"))

    def submit(
        self,
        tenant: str,
        root: Path,
        paths: list[Path],
        nbytes: int,
        *,
        owner: str | None = None,
        **options: Any,
    ) -> Job:
        """Queue the ingestion of ``paths`` (under ``root``, which the job then owns);
        ``options`` go to the ingest function; ``owner`` is the uploading user (see `Job`)."""
        job = Job(
            id=uuid.uuid4().hex,
            tenant=tenant,
            documents=[p.name for p in paths],
            bytes=nbytes,
            root=root,
            paths=list(paths),
            options=options,
            owner=owner,
        )
        with self._cond:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            self._prune()
            pending = sum(1 for j in self._jobs.values() if j.tenant == tenant and not j.done)
            if pending >= self.max_pending_per_tenant:
                raise TooManyJobs(pending)
            self._jobs[job.id] = job
            queue = self._queues.setdefault(tenant, deque())
            queue.append(job)
            if tenant not in self._order:
                self._order.append(tenant)
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._work, name=f"ingest-job-{n}", daemon=True)
                    for n in range(self._workers)
                ]
                for t in self._threads:
                    t.start()
            self._cond.notify()
        return job

    def get(self, tenant: str, job_id: str, *, user: str | None = None) -> Job | None:
        """The tenant's job ``job_id``; None for an unknown id or another tenant's job (and,
        with ``user``, for a job that user did not upload)."""
        with self._cond:
            job = self._jobs.get(job_id)
            return job if job is not None and _visible(job, tenant, user) else None

    def snapshot(
        self, tenant: str, job_id: str, *, user: str | None = None
    ) -> tuple[int, dict[str, Any]] | None:
        """``(version, to_dict())`` read consistently, or None (as `get`)."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or not _visible(job, tenant, user):
                return None
            return job.version, job.to_dict()

    def list(self, tenant: str, *, user: str | None = None) -> list[dict[str, Any]]:
        """The tenant's known jobs (with ``user``, only theirs), newest first."""
        with self._cond:
            self._prune()
            return [j.to_dict() for j in reversed(self._jobs.values()) if _visible(j, tenant, user)]

    def close(self) -> None:
        """Stop: queued jobs fail with ``server_stopped``; a running one gets the grace."""
        with self._cond:
            self._closed = True
            for queue in self._queues.values():
                while queue:
                    job = queue.popleft()
                    self._fail(job, "server_stopped", "the server stopped before this job ran.")
                    _remove(job.root)
            self._order.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + self.shutdown_grace
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- the workers' side -----------------------------------------------------------------

    def _next(self) -> Job | None:
        """The next job to run, round robin over tenants with none running (lock held)."""
        for _ in range(len(self._order)):
            tenant = self._order.popleft()
            queue = self._queues.get(tenant)
            if not queue:
                continue
            if tenant in self._running:
                self._order.append(tenant)
                continue
            job = queue.popleft()
            if queue:
                self._order.append(tenant)
            return job
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                job = self._next()
                while job is None:
                    if self._closed:
                        return
                    self._cond.wait()
                    job = self._next()
                self._running.add(job.tenant)
                job.status, job.started = "running", time.time()
                job.documents_total = len(job.paths)
                job.version += 1
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._running.discard(job.tenant)
                    # the tenant just had its turn: to the back of the rotation
                    if job.tenant in self._order:
                        self._order.remove(job.tenant)
                    if self._queues.get(job.tenant):
                        self._order.append(job.tenant)
                    self._cond.notify_all()
                _remove(job.root)

    def _run(self, job: Job) -> None:
        def progress(done: int, total: int | None, chunks: int) -> None:
            with self._cond:
                job.documents_done = done
                if total is not None:
                    job.documents_total = total
                job.chunks_upserted = chunks
                job.version += 1

        assert job.root is not None
        started = time.perf_counter()
        try:
            report = self._ingest(job.tenant, job.root, job.paths, progress, **job.options)
        except Exception as exc:  # noqa: BLE001 - the job fails; the server goes on
            code, detail = _describe(exc)
            log.warning("ingestion job %s for tenant=%s failed: %s", job.id, job.tenant, code)
            partial = getattr(exc, "report", None)  # DocumentConflictError carries the run's
            with self._cond:
                if partial is not None and not isinstance(partial, str | bytes):
                    job.report = report_json(partial)
                self._fail(job, code, detail)
            return
        body = report_json(report)
        with self._cond:
            job.report = body
            job.finished = time.time()
            if not (report.documents_written or report.documents_unchanged):
                reasons = {**report.skipped, **report.failed}
                detail = "; ".join(f"{doc}: {why}" for doc, why in sorted(reasons.items()))
                self._fail(job, "nothing_ingested", f"nothing could be ingested: {detail}")
            else:
                job.status = "partial" if (report.failed or report.skipped) else "succeeded"
                job.version += 1
        log.info(
            "ingestion job %s for tenant=%s %s in %.1f s",
            job.id,
            job.tenant,
            job.status,
            time.perf_counter() - started,
        )

    def _fail(self, job: Job, code: str, detail: str) -> None:
        job.status, job.error = "failed", {"code": code, "detail": detail}
        job.finished = job.finished or time.time()
        job.version += 1

    def _prune(self) -> None:
        """Forget finished jobs past ``keep_seconds``, and beyond ``keep_per_tenant`` (lock held)."""
        cutoff = time.time() - self.keep_seconds
        kept: dict[str, int] = {}
        for job in reversed(list(self._jobs.values())):  # newest first
            if not job.done:
                continue
            kept[job.tenant] = kept.get(job.tenant, 0) + 1
            if (job.finished or 0) < cutoff or kept[job.tenant] > self.keep_per_tenant:
                del self._jobs[job.id]


def _visible(job: Job, tenant: str, user: str | None) -> bool:
    """A job of ``tenant``; with ``user`` (a user token's reader), one that user uploaded."""
    return job.tenant == tenant and (user is None or job.owner == user)


def _describe(exc: BaseException) -> tuple[str, str]:
    """A job's error code and message: the library's own refusals by name, else generic."""
    if isinstance(exc, ChatApiError):  # a refusal the route would have answered (document_exists)
        return exc.code, exc.message
    if isinstance(exc, TenantRagError):
        return status_for(exc)[1], str(exc)
    from tenant_rag.tenancy.sdk_errors import http_status

    status = http_status(exc)
    if status == 429:
        return "rate_limited", "the vector store is rate limiting; upload again shortly."
    if status is not None and status >= 500:
        return "store_unavailable", "the vector store is unavailable; upload again shortly."
    log.error("ingestion job failed unexpectedly: %s", type(exc).__name__, exc_info=exc)
    return "internal_error", "ingestion failed; the server log has the details."


def _remove(root: Path | None) -> None:
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


def sweep_stale_uploads() -> int:
    """Remove upload directories of processes that no longer run; how many went."""
    removed = 0
    for entry in Path(tempfile.gettempdir()).glob(f"{UPLOAD_PREFIX}*"):
        pid_text = entry.name.removeprefix(UPLOAD_PREFIX).split("-", 1)[0]
        if not pid_text.isdigit() or not entry.is_dir():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or pid_alive(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    return removed
