"""``/documents``: upload (ingested by a background job), list, delete, in the caller's tenant.

Uploads are written to a private temporary directory under their own name
(the name becomes the document id, by ingestion's one rule for files:
`tenant_rag.ingestion.loaders.doc_id_for_path`, so ``東京.md`` stays
``東京.md`` and a file has the same id here and through the CLI), checked
(names, types, sizes), and handed to a background job (`tenant_rag.chat.jobs`)
that runs `tenant_rag.ingestion.ingest` pinned to the tenant the key maps to;
the upload answers ``202`` with the job at once. A name that cannot be a file
name is refused, never rewritten. The body is checked as it arrives
(`BodyLimitMiddleware`) and per file here.

Inside the tenant, each route acts for the caller's reader
(`tenant_rag.chat.access`): an upload may carry an ``acl`` form field (a
JSON list) for its documents, the listing shows only documents the caller
may read, and deleting or re-permissioning (``PUT /documents/{id}/acl``)
needs the document's access list to name the caller, or an admin. Whether a
user's upload may replace a document of the same name is checked before its
job is queued (409) and again by the job just before it writes, so a change
in between (another upload, an access-list change) is refused, not replaced.
Every check and read uses the index serving the tenant (`ChatService.target`).
"""

from __future__ import annotations

import shutil
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tenant_rag.chat.access import (
    check_may_change,
    is_admin,
    may_read,
    names_user,
    parse_acl,
    user_of,
)
from tenant_rag.chat.auth import AclReader, Tenant
from tenant_rag.chat.doclocks import DocumentBusy
from tenant_rag.chat.errors import ChatApiError
from tenant_rag.chat.jobs import JobManager, TooManyJobs
from tenant_rag.chat.limits import too_large
from tenant_rag.chat.service import ChatService, service_of
from tenant_rag.tenancy.acl import Reader, acl_policy_of
from tenant_rag.tenancy.records import (
    doc_id_of_base,
    documents_of,
    record_base,
    record_id,
    split_record_id,
)

router = APIRouter()
Service = Annotated[ChatService, Depends(service_of)]
#: Longest file name the server's filesystem stores (bytes of UTF-8).
_MAX_NAME_BYTES = 255
_COPY_CHUNK = 1024 * 1024


def safe_name(filename: str | None) -> str:
    """The document id for an uploaded file name: its base name, as ingestion names files.

    Directory parts (either slash) are dropped, so an upload can never name
    a path outside the temporary directory. Nothing else is changed (NFC
    aside): a name that cannot be a file name (empty, ``.``/``..``, control
    characters, over 255 bytes) is refused with a 400, never rewritten, since a
    rewritten name could collide with another document's.
    """
    from tenant_rag.ingestion.loaders import doc_id_for_path

    raw = PureWindowsPath(PurePosixPath(filename or "").name).name.strip()
    name = doc_id_for_path(raw)
    problem = None
    if not name.strip(". "):
        problem = "is empty (or only dots)"
    elif any(unicodedata.category(c) == "Cc" for c in name):
        problem = "contains control characters"
    elif len(name.encode("utf-8")) > _MAX_NAME_BYTES:
        problem = f"is over {_MAX_NAME_BYTES} bytes"
    if problem:
        raise ChatApiError(
            400,
            "bad_filename",
            f"uploaded file name {filename!r} {problem}; give the file a name like handbook.md.",
        )
    return name


def _check_type(name: str, allowed: tuple[str, ...]) -> None:
    suffix = Path(name).suffix.lower()
    if suffix not in allowed:
        raise ChatApiError(
            415,
            "unsupported_file_type",
            f"unsupported file type {suffix or '(none)'!r} for {name!r}; "
            f"supported: {', '.join(allowed)}.",
        )


def _save(upload: UploadFile, target: Path, limit: int) -> None:
    """Copy an upload to ``target``, refusing it as soon as it passes ``limit``."""
    written = 0
    upload.file.seek(0)
    with target.open("wb") as out:
        while chunk := upload.file.read(_COPY_CHUNK):
            written += len(chunk)
            if written > limit:
                raise too_large(limit)
            out.write(chunk)


def _visible(service: ChatService, tenant: str, reader: Reader, doc_id: str) -> Any:
    """``(exists, visible, acl)`` of a document for ``reader`` (one admin read), in the
    index serving the tenant."""
    from tenant_rag.ingestion.access import document_acl

    index, _, _ = service.target(tenant)
    exists, acl = document_acl(index, tenant, doc_id)
    visible = exists and may_read(reader, acl, acl_policy_of(index))
    return exists, visible, acl


def _check_replace(service: ChatService, tenant: str, reader: Reader, names: list[str]) -> None:
    """409 when a user's upload would replace a document they may not change.

    Run twice: by the upload route before the job is queued, and by the job on its
    thread just before ingestion (the tenant may have changed in between).
    """
    if is_admin(reader):
        return
    for name in names:
        doc_ids = [name]
        if Path(name).suffix.lower() in (".json", ".jsonl"):
            doc_ids += _items_of(service.pinned(tenant), name)
        for doc_id in doc_ids:
            exists, visible, acl = _visible(service, tenant, reader, doc_id)
            if exists and not (visible and _named(reader, acl)):
                raise ChatApiError(
                    409,
                    "document_exists",
                    f"a document named {doc_id!r} already exists and only the users its "
                    "access list names, or a tenant admin, may replace it; upload under "
                    "another file name.",
                )


#: Seconds a change or delete waits for an upload writing the same document before a 409.
BUSY_WAIT_SECONDS = 2.0


@contextmanager
def _unless_busy(service: ChatService, tenant: str, doc_id: str) -> Iterator[None]:
    """Hold ``doc_id``'s lock for a check and its write; 409 while an upload writes it."""
    try:
        with service.doc_locks.hold(tenant, [doc_id], timeout=BUSY_WAIT_SECONDS):
            yield
    except DocumentBusy as busy:
        raise ChatApiError(
            409,
            "document_busy",
            f"an upload is writing {', '.join(map(repr, busy.names))} right now; nothing was "
            "changed. Try again when its job is done (GET /jobs).",
            headers={"Retry-After": "5"},
        ) from None


def _named(reader: Reader, acl: list[str] | None) -> bool:
    return is_admin(reader) or names_user(reader, acl)


def jobs_of(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


Jobs = Annotated[JobManager, Depends(jobs_of)]


@router.post("/documents", status_code=202)
async def upload_documents(
    request: Request,
    tenant: Tenant,
    reader: AclReader,
    service: Service,
    jobs: Jobs,
    replace: bool = False,
) -> JSONResponse:
    """Save one or more uploaded files (multipart, any field name) and queue their ingestion.

    Answers ``202`` with the job (``{"tenant", "documents", "job"}``, ``Location:
    /jobs/<id>``) as soon as the files are saved; follow it at ``GET /jobs/<id>``
    or ``GET /jobs/<id>/events``. What can be refused at once is: names, types,
    sizes, the access list, and replacing a document the caller may not change
    (4xx here); what only ingestion can tell (empty, binary, not UTF-8) ends
    the job ``failed`` with code ``nothing_ingested`` or ``partial``. A file whose
    name matches a document ingested from another source (the CLI) ends the job
    ``failed`` with code ``document_conflict`` naming both, unless ``?replace=true``;
    uploading the same name again replaces the earlier upload. A document the
    caller could replace at upload time but no longer can when the job runs ends
    it ``failed`` with code ``document_exists``, nothing written. An ``acl`` form
    field (JSON list: ``["group:hr", "user:u1"]``, ``["tenant"]`` or ``[]``) becomes
    the access list of every uploaded document; without it they follow the index's
    ACL policy.
    """
    limits = service.limits
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise ChatApiError(
            415,
            "multipart_required",
            "upload documents as multipart/form-data with one or more file parts "
            "(curl -F files=@handbook.md ...).",
        )
    form = await request.form(max_files=limits.max_files, max_fields=limits.max_files)
    root: Path | None = None
    try:
        uploads = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        if not uploads:
            raise ChatApiError(
                422,
                "no_files",
                "no files in the upload; send one or more file parts (curl -F files=@a.md).",
            )
        acl_fields = [v for k, v in form.multi_items() if k == "acl" and isinstance(v, str)]
        if len(acl_fields) > 1:
            raise ChatApiError(422, "invalid_acl", "send one 'acl' field per upload.")
        acl = parse_acl(acl_fields[0], where="the 'acl' field") if acl_fields else None
        names = [safe_name(u.filename) for u in uploads]
        duplicates = sorted(n for n, c in Counter(names).items() if c > 1)
        if duplicates:
            raise ChatApiError(
                400, "duplicate_filename", f"the upload names {duplicates} more than once."
            )
        for upload, name in zip(uploads, names, strict=True):
            _check_type(name, limits.allowed_suffixes)
            if upload.size is not None and upload.size > limits.max_upload_bytes:
                raise too_large(limits.max_upload_bytes)
        await run_in_threadpool(_check_replace, service, tenant, reader, names)
        root = jobs.new_upload_dir()
        paths = []
        for upload, name in zip(uploads, names, strict=True):
            await run_in_threadpool(_save, upload, root / name, limits.max_upload_bytes)
            paths.append(root / name)
        nbytes = sum(p.stat().st_size for p in paths)
        try:
            job = jobs.submit(
                tenant,
                root,
                paths,
                nbytes,
                owner=user_of(reader),  # a user sees only their own jobs
                replace=replace,
                acl=acl,
                # the job checks again, on its thread, just before it writes
                recheck=partial(_check_replace, service, tenant, reader, names),
            )
        except TooManyJobs as exc:
            raise ChatApiError(
                429,
                "too_many_jobs",
                f"this tenant already has {exc.args[0]} uploads waiting or being ingested "
                f"(at most {jobs.max_pending_per_tenant}); wait for one to finish "
                "(GET /jobs) and upload again.",
                headers={"Retry-After": "10"},
            ) from None
        root = None  # the job owns the directory now
    finally:
        await form.close()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
    return JSONResponse(
        {"tenant": tenant, "documents": names, "job": job.to_dict()},
        status_code=202,
        headers={"Location": f"/jobs/{job.id}"},
    )


@router.get("/documents")
def list_documents(tenant: Tenant, reader: AclReader, service: Service) -> dict[str, Any]:
    """The documents the caller may read (as named, ``café.md`` not ``caf%C3%A9.md``), with
    the chunks of each they may read."""
    counts: Counter[str] = Counter()
    for rid in service.pinned(tenant, reader).list_ids():
        parts = split_record_id(rid)
        counts[doc_id_of_base(parts[0]) if parts else rid] += 1
    documents = [{"doc_id": d, "chunks": counts[d]} for d in sorted(counts)]
    return {"tenant": tenant, "documents": documents}


def _items_of(pinned: Any, file_id: str) -> list[str]:
    """The documents a ``.json``/``.jsonl`` file became (``support.jsonl:ticket-101``, ...).

    Found by the id prefix ``{file}:`` and confirmed by each item's ``source``
    (the file's own id), so a file that merely has such a name
    (``support.jsonl:notes.md``) is not taken for one of its items.
    """
    head = f"{file_id}:"
    candidates = sorted(
        {d for d, _ in documents_of(pinned.list_ids(record_base(head))) if d.startswith(head)}
    )
    if not candidates:
        return []
    firsts = pinned.fetch([record_id(d, 0) for d in candidates])
    return [
        d
        for d in candidates
        if (rec := firsts.get(record_id(d, 0))) is not None
        and rec.metadata.get("source") == file_id
    ]


@router.put("/documents/{doc_id:path}/acl")
def set_document_acl(
    doc_id: str, body: dict[str, Any], tenant: Tenant, reader: AclReader, service: Service
) -> dict[str, Any]:
    """Change who may read a document (``{"acl": [...]}``, or ``null`` for the index policy).

    Metadata update only, no re-embedding; the next question sees it. 404 when
    the caller may not read the document (or there is none), 403 when they
    may read it but its access list does not name them.
    """
    from tenant_rag.ingestion.access import set_acl

    unknown = set(body) - {"acl"}
    if unknown or "acl" not in body:
        raise ChatApiError(
            422, "invalid_acl", 'send {"acl": [...]} (or {"acl": null}) and nothing else.'
        )
    acl = parse_acl(body["acl"], where="'acl'") if body["acl"] is not None else None
    with _unless_busy(service, tenant, doc_id):
        exists, visible, current = _visible(service, tenant, reader, doc_id)
        if not visible:
            raise ChatApiError(404, "unknown_document", f"no document {doc_id!r} in this tenant.")
        check_may_change(reader, doc_id, current)
        index, _, _ = service.target(tenant)  # the index serving the tenant (its route)
        updated = set_acl(index, tenant, doc_id, acl)
    return {"tenant": tenant, "doc_id": doc_id, "acl": acl, "updated_chunks": updated}


@router.delete("/documents/{doc_id:path}")
def delete_document(
    doc_id: str, tenant: Tenant, reader: AclReader, service: Service
) -> dict[str, Any]:
    """Delete exactly one of the tenant's documents; 404 if the tenant has no such document.

    A ``.json``/``.jsonl`` upload is ingested as one document per item
    (``support.jsonl:ticket-101``); deleting the file's name deletes all of its items.
    A user (token) may delete only documents whose access list names them;
    one they may not read is a 404, as if it did not exist.
    """
    from tenant_rag.ingestion import delete_document as delete_doc

    if not doc_id:
        raise ChatApiError(
            404, "unknown_document", "name the document to delete: /documents/<doc_id>."
        )
    with _unless_busy(service, tenant, doc_id):
        index, _, _ = service.target(tenant)  # the index serving the tenant (its route)
        targets = [doc_id]
        exists, visible, acl = _visible(service, tenant, reader, doc_id)
        if not exists and Path(doc_id).suffix.lower() in (".json", ".jsonl"):
            targets = _items_of(service.pinned(tenant), doc_id)
        if not is_admin(reader):
            checked = [(t, *_visible(service, tenant, reader, t)[1:]) for t in targets]
            checked = [(t, v, a) for t, v, a in checked if v]
            if not checked:
                raise ChatApiError(
                    404, "unknown_document", f"no document {doc_id!r} in this tenant."
                )
            for target, _, target_acl in checked:
                check_may_change(reader, target, target_acl)
            targets = [t for t, _, _ in checked]
        items: list[str] = [] if targets == [doc_id] else targets
        deleted = sum(delete_doc(index, tenant, t) for t in targets)
    if not deleted:
        raise ChatApiError(404, "unknown_document", f"no document {doc_id!r} in this tenant.")
    body: dict[str, Any] = {"tenant": tenant, "doc_id": doc_id, "deleted_chunks": deleted}
    if items:
        body["items"] = items
    return body
