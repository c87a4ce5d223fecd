"""`ingest` and `delete_document`: idempotent, tenant-pinned ingestion with the index as the only state.

Why no side database
--------------------
LangChain's indexing API (``langchain_core.indexing.index`` with a
``RecordManager``) was evaluated and not used. It keeps what was written in
a separate record manager (SQL or in-memory), keyed by a per-chunk hash, so
the record manager and the index can drift apart: a tenant offboarded with
``offboard``, a document deleted through the chatbot's ``DELETE
/documents``, a restored backup or a second machine without the same
database all leave it believing in records that are gone (or missing ones
that exist). Its ``cleanup="incremental"`` also deletes by source across the
whole vector store, which would need its own tenant scoping. Here the index
itself is the source of truth: every chunk carries the document's
``content_hash``; chunk ``#0`` is read back with one batched ``fetch`` per
group of documents to decide "unchanged"; a document's records are found by
listing its prefix and keeping exactly its ids (`tenant_rag.tenancy.records`,
the scheme every writer shares); ``sync=True`` enumerates document ids by
listing the tenant's ids. Nothing else is stored anywhere.

Write order (why a failed document is never left half-written)
--------------------------------------------------------------
Chunk ``#0`` is the commit marker: its ``content_hash`` says which version of
the document is complete in the index. A new or changed document is written
in three steps, each retried on 429/5xx:

A. delete its old chunk ``#0`` and the chunks the new version no longer has;
B. upsert chunks ``#1..#n-1``;
C. upsert chunk ``#0`` last.

Until C succeeds, ``#0`` is absent or still carries the old hash, so the next
run re-ingests the document in full. If A, B or C fails after the retries,
the document's known chunks (old and new) are deleted, best effort, so it is
either complete or absent, never a mix of versions; the report lists it with
the reason, and the next run writes it again. All writes use deterministic
ids, so any step can be repeated without creating duplicates.

Throughput
----------
The calling thread loads, hashes, chunks and embeds (in ``embed_batch_size``
slices, in "waves" of about ``wave_chunks`` chunks); ``writers`` threads write
finished waves while the next one is embedded, through a bounded queue, so
memory stays at a few waves however large the corpus. A CPU-bound local
model on a small machine gets one writer rather than two (``writers=None``
picks it, see `_writers_for`), since the model already keeps every core busy.
The hash check of each group of documents
runs on a helper thread while the next group is read. Upserts are packed by
bytes and count (`tenant_rag.tenancy.batching`). Unchanged documents cost
a hash and a share of one ``fetch``; they are never chunked or embedded.

Concurrency caveat: two ``ingest`` runs for the same tenant at the same time
are not coordinated (each converges on its own; the last writer wins).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from tenant_rag.errors import DocumentConflictError, IngestError, InvalidAclError, TenantRagError
from tenant_rag.ingestion.chunking import Splitter, config_fingerprint, default_splitter, split
from tenant_rag.ingestion.loaders import (
    FileSource,
    LoadFailure,
    SourceDocument,
    expand_paths,
    is_path_like,
    load,
)
from tenant_rag.ingestion.records import (
    ORIGIN_KEY,
    check_doc_id,
    chunk_metadata,
    clean_metadata,
    content_hash,
)
from tenant_rag.ingestion.report import IngestReport
from tenant_rag.ingestion.sdk import lean_handle
from tenant_rag.tenancy.acl import ACL_FIELD, TENANT_ADMIN, normalize_acl, stored_acl
from tenant_rag.tenancy.batching import batches
from tenant_rag.tenancy.limits import MAX_UPSERT_RECORDS, UPSERT_BATCH_BYTES
from tenant_rag.tenancy.pinned import PinnedIndex, index_name_of
from tenant_rag.tenancy.records import (
    chunk_number,
    chunk_numbers,
    doc_prefix,
    record_base,
    record_id,
    split_record_id,
)
from tenant_rag.tenancy.retry import RetryPolicy, is_transient
from tenant_rag.tenancy.scope import Isolation

#: ``progress`` may be a callable: ``fn(documents_done, documents_total_or_None, chunks_upserted)``.
ProgressCallback = Callable[[int, int | None, int], None]

#: Documents whose chunk ``#0`` are fetched together to decide "unchanged".
_CHECK_GROUP = 200


@dataclass
class _Doc:
    """A document on its way to the index."""

    key: int
    doc_id: str
    base: str
    source: str
    text: str
    metadata: dict[str, Any]
    digest: str
    origin: str | None = None
    #: the access list (normalized; None: none, the index policy applies)
    acl: list[str] | None = None
    had_chunk0: bool = False
    chunks: list[str] = field(default_factory=list)
    chunk_metadata: list[dict[str, Any]] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)
    #: ids deleted in step A (old #0 and surplus chunks)
    stale: list[str] = field(default_factory=list)
    #: chunk numbers the index held for this document before this run wrote it
    existing: list[int] = field(default_factory=list)


def ingest(
    index: Any,
    tenant: str,
    sources: Any,
    *,
    embedding: Any,
    splitter: Splitter | None = None,
    chunk_size: int = 1000,
    chunk_overlap: int = 150,
    sync: bool = False,
    isolation: Isolation = "namespace",
    progress: bool | ProgressCallback = True,
    root: str | os.PathLike[str] | None = None,
    batch_size: int = MAX_UPSERT_RECORDS,
    max_batch_bytes: int = UPSERT_BATCH_BYTES,
    embed_batch_size: int = 256,
    wave_chunks: int = 512,
    writers: int | None = None,
    retry: RetryPolicy | None = None,
    on_conflict: Literal["refuse", "replace"] = "refuse",
    doc_id_prefix: str = "",
    origin: str | None = None,
    acl: list[str] | None = None,
    acl_sidecars: bool = True,
) -> IngestReport:
    """Chunk, embed and upsert ``sources`` into ``tenant``'s part of ``index``; return the report.

    ``index`` is the SDK data-plane handle (``ensure_index(...)``); every request
    goes through a `PinnedIndex` for ``tenant``, so nothing outside the tenant's
    namespace (or, with ``isolation="metadata"``, its prefixed ids) is read or
    written. ``sources``: paths, directories, globs, LangChain ``Document``s,
    ``(doc_id, text[, metadata])`` tuples, or one of these alone.

    Idempotent: an unchanged document is not written again; a changed one is
    replaced and its surplus chunks deleted; ``sync=True`` also deletes the
    tenant's documents that no source produced (refused when no source
    produced any document, so a wrong path cannot wipe a tenant). A document
    that fails (unreadable, metadata over 40 KB, writes failing after the
    retries) is reported with its reason and the run goes on.

    Access lists (`tenant_rag.tenancy.acl`): each document's ``acl`` is, in
    order, its own ``metadata["acl"]`` (a ``Document``'s or record's metadata,
    a ``.json``/``.jsonl`` item's ``acl`` field), else the first matching
    pattern of the nearest ``.acl.json`` sidecar in its folder or above (see
    `tenant_rag.ingestion.sidecar`), else ``acl=`` for the whole run, else
    none (the index policy decides); ``acl_sidecars=False`` ignores sidecars
    (uploads saved to a temporary folder). It is stored on every chunk. A bad
    access list fails its document (never ingested with wider access); a bad
    ``acl=`` raises before anything is read. An unchanged document whose
    access list changed is updated by metadata only, without re-embedding.

    Sources: every chunk records its document's origin (a file's path relative
    to the working directory, or its absolute path outside it, a Document's or record's ``metadata["source"]``, or ``origin=``
    for the whole run). A document whose stored version came from another
    origin (two folders both holding ``company.md``) is not replaced: it is
    left as it was, listed in ``report.conflicts``, and after the run
    `DocumentConflictError` (with ``.report``) names both sources, unless
    ``on_conflict="replace"``. ``doc_id_prefix="docs2/"`` keeps both instead:
    every document id of this run gets the prefix (and ``sync=True`` then
    deletes only documents under it). Documents stored without an origin
    (older versions, records given in code without a ``source``) are replaced
    as before.
    """
    if on_conflict not in ("refuse", "replace"):
        raise ValueError(f"on_conflict must be 'refuse' or 'replace', got {on_conflict!r}.")
    started = time.perf_counter()
    run_acl = normalize_acl(acl)
    # PinnedIndex validates the tenant first; the lean handle under it only skips the SDK's
    # per-float type checks (see tenant_rag.ingestion.sdk)
    pinned = PinnedIndex(
        lean_handle(index),
        tenant,
        isolation=isolation,
        index_name=index_name_of(index),
        principal=TENANT_ADMIN,  # a writer: it must see every document it may replace
    )
    if embedding is None or not hasattr(embedding, "embed_documents"):
        raise TypeError("embedding must be a LangChain Embeddings (with embed_documents).")
    splitter = splitter if splitter is not None else default_splitter(chunk_size, chunk_overlap)
    policy = retry or RetryPolicy()
    items, total = _plan(sources, root)
    report = IngestReport(
        tenant=pinned.tenant,
        index=pinned.index_name,
        namespace=pinned.namespace,
        isolation=pinned.scope.isolation,
    )
    run = _Run(
        pinned=pinned,
        embedding=embedding,
        splitter=splitter,
        fingerprint=config_fingerprint(splitter, embedding),
        policy=policy,
        report=report,
        batch_size=batch_size,
        max_batch_bytes=max_batch_bytes,
        embed_batch_size=max(1, embed_batch_size),
        wave_chunks=max(1, wave_chunks),
        progress=_Progress(progress, total, tenant=pinned.tenant),
        on_conflict=on_conflict,
        doc_id_prefix=doc_id_prefix,
        origin=origin,
        run_acl=run_acl,
        sidecars=acl_sidecars,
    )
    try:
        run.prepare(sync)
        run.execute(items, _writers_for(embedding) if writers is None else max(0, writers))
        if sync:
            run.delete_gone()
    finally:
        run.progress.close()
        report.seconds = time.perf_counter() - started
    if report.conflicts:
        raise DocumentConflictError(
            report, {d: (str(c["stored"]), c["new"]) for d, c in report.conflicts.items()}
        )
    return report


def delete_document(
    index: Any,
    tenant: str,
    doc_id: str,
    *,
    isolation: Isolation = "namespace",
    retry: RetryPolicy | None = None,
) -> int:
    """Delete exactly ``doc_id``'s records in ``tenant``; return how many were deleted.

    The records are those of `tenant_rag.tenancy.records` (the scheme every
    writer shares), so deleting ``doc1`` never touches ``doc10#0``, nor
    ``https://acme.test/page`` the records of ``https://acme.test/page#faq``.
    Chunk ``#0`` goes first, so an interrupted delete leaves a document the
    next ``ingest`` rewrites in full.
    """
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError("doc_id must be a non-empty string.")
    pinned = PinnedIndex(index, tenant, isolation=isolation, principal=TENANT_ADMIN)
    policy = retry or RetryPolicy()
    ids = policy.call(lambda: pinned.document_ids(doc_id), what="list")
    if ids:
        policy.call(lambda: pinned.delete(ids), what="delete")
    return len(ids)


# -- planning ----------------------------------------------------------------------------------


def _plan(sources: Any, root: Any) -> tuple[Iterable[Any], int | None]:
    """Expanded sources and, when cheaply known, how many documents they hold."""
    from langchain_core.documents import Document

    if is_path_like(sources) or isinstance(sources, Document | tuple):
        sources = [sources]
    if not isinstance(sources, Sequence):
        return expand_paths(sources, root), None  # a generator stays lazy
    items = list(expand_paths(sources, root))  # a missing path fails here, before any write
    multi = any(
        isinstance(i, FileSource) and i.path.suffix.lower() in (".json", ".jsonl") for i in items
    )
    return items, None if multi else len(items)


# -- the run -----------------------------------------------------------------------------------


@dataclass
class _Run:
    pinned: PinnedIndex
    embedding: Any
    splitter: Splitter
    fingerprint: str
    policy: RetryPolicy
    report: IngestReport
    batch_size: int
    max_batch_bytes: int
    embed_batch_size: int
    wave_chunks: int
    progress: _Progress
    on_conflict: str = "refuse"
    doc_id_prefix: str = ""
    origin: str | None = None
    run_acl: list[str] | None = None
    sidecars: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: base -> chunk numbers present at the start (sync only)
    existing: dict[str, set[int]] | None = None
    namespace_empty: bool = False
    seen_bases: set[str] = field(default_factory=set)
    protected: list[str] = field(default_factory=list)
    next_key: int = 0
    #: a source produced a document (written, failed or empty); files of unsupported
    #: types do not count, so a folder of only those cannot make sync delete everything
    found_documents: bool = False
    ingested_at: int = field(default_factory=lambda: int(time.time()))

    # -- set-up ----------------------------------------------------------------------------

    def prepare(self, sync: bool) -> None:
        """Learn what the tenant holds: every id (sync) or just whether it holds anything."""
        if sync:
            existing: dict[str, set[int]] = {}

            def list_all() -> None:
                existing.clear()
                for rid in self.pinned.list_ids():
                    parts = split_record_id(rid)
                    n = chunk_number(parts[1]) if parts else None
                    if parts is not None and n is not None:  # ingestion's own records only
                        existing.setdefault(parts[0], set()).add(n)

            self.policy.call(list_all, what="list")
            self.existing = existing
            self.namespace_empty = not existing
        else:
            first = self.policy.call(
                lambda: next(iter(self.pinned.list_ids(limit=1)), None), what="list"
            )
            self.namespace_empty = first is None

    # -- producer --------------------------------------------------------------------------

    def execute(self, items: Iterable[Any], writers: int) -> None:
        """Load documents in groups; each group's hash check (a fetch) runs on a helper thread
        while the next group is read, then its changed documents are chunked and embedded here."""
        pool = _WriterPool(self, writers)
        checker = ThreadPoolExecutor(1, thread_name_prefix="tenant-rag-check")
        pending: deque[Future[list[_Doc]]] = deque()
        try:
            group: list[_Doc] = []
            for position, item in enumerate(items, 1):
                for loaded in load(item, position, sidecars=self.sidecars):
                    doc = self._admit(loaded)
                    if doc is not None:
                        group.append(doc)
                    if len(group) >= _CHECK_GROUP:
                        pending.append(checker.submit(self._changed, group))
                        group = []
                        if len(pending) > 1:  # one check stays in flight while the next loads
                            self._process(pending.popleft().result(), pool)
            if group:
                pending.append(checker.submit(self._changed, group))
            while pending:
                self._process(pending.popleft().result(), pool)
        finally:
            checker.shutdown(wait=True, cancel_futures=True)
            pool.close()

    def _admit(self, loaded: SourceDocument | LoadFailure) -> _Doc | None:
        """Count the document, reject duplicates and failures; return it when it must be checked."""
        with self.lock:
            self.report.documents_seen += 1
        if not (isinstance(loaded, LoadFailure) and loaded.not_a_document):
            self.found_documents = True
        if isinstance(loaded, LoadFailure):
            if loaded.protects:
                self.protected.append(record_base(self.doc_id_prefix + loaded.protects))
            self._finish_failed(loaded.key, loaded.reason, skipped=loaded.skipped)
            return None
        doc_id = self.doc_id_prefix + loaded.doc_id
        try:
            check_doc_id(doc_id)
        except IngestError as exc:
            self._finish_failed(doc_id, str(exc))
            return None
        base = record_base(doc_id)
        if base in self.seen_bases:
            self._finish_failed(
                doc_id,
                "two sources produced this document id; give one of them another id or root.",
            )
            return None
        self.seen_bases.add(base)
        own = dict(loaded.metadata)
        try:
            if own.get(ACL_FIELD) is not None:
                acl = normalize_acl(own.pop(ACL_FIELD))
            else:
                own.pop(ACL_FIELD, None)
                acl = loaded.acl if loaded.acl is not None else self.run_acl
        except InvalidAclError as exc:
            self._finish_failed(doc_id, f"bad access list: {exc}")
            return None
        metadata = clean_metadata(own)
        self.next_key += 1
        return _Doc(
            key=self.next_key,
            doc_id=doc_id,
            base=base,
            source=loaded.source,
            text=loaded.text,
            metadata=metadata,
            digest=content_hash(loaded.text, metadata, self.fingerprint),
            origin=self.origin if self.origin is not None else loaded.origin,
            acl=acl,
        )

    def _process(self, changed: list[_Doc], pool: _WriterPool) -> None:
        """Chunk and embed changed documents; hand them to the writers in waves."""
        wave: list[_Doc] = []
        size = 0
        for doc in changed:
            try:
                self._chunk(doc)
            except IngestError as exc:
                self._finish_failed(doc.doc_id, str(exc))
                continue
            wave.append(doc)
            size += len(doc.chunks)
            if size >= self.wave_chunks:
                self._embed_and_submit(wave, pool)
                wave, size = [], 0
        if wave:
            self._embed_and_submit(wave, pool)

    def _changed(self, group: list[_Doc]) -> list[_Doc]:
        """The documents whose chunk #0 does not carry their current hash (one fetch for all)."""
        if self.existing is not None:
            to_fetch = [d for d in group if 0 in self.existing.get(d.base, ())]
        else:
            to_fetch = [] if self.namespace_empty else group
        stored: dict[str, Any] = {}
        if to_fetch:
            ids = [record_id(d.doc_id, 0) for d in to_fetch]
            try:
                stored = self.policy.call(lambda: self.pinned.fetch(ids), what="fetch")
            except Exception as exc:  # noqa: BLE001 - the group fails, the run goes on
                if isinstance(exc, TenantRagError) and not isinstance(exc, IngestError):
                    raise
                for d in group:
                    self._finish_failed(
                        d.doc_id,
                        f"could not read its stored hash: {_brief(exc)}",
                        retryable=_temporary(exc),
                    )
                return []
        changed = []
        for d in group:
            rec = stored.get(record_id(d.doc_id, 0))
            if rec is not None and rec.metadata.get("content_hash") == d.digest:
                held = rec.metadata.get(ACL_FIELD)
                if (list(held) if isinstance(held, list) else None) != d.acl:
                    if not self._update_acl(d):
                        continue
                    with self.lock:
                        self.report.documents_acl_updated += 1
                with self.lock:
                    self.report.documents_unchanged += 1
                self.progress.advance()
                continue
            was = rec.metadata.get(ORIGIN_KEY) if rec is not None else None
            if was is not None and was != d.origin and self.on_conflict != "replace":
                with self.lock:  # left as it was; ingest() raises after the run
                    self.report.conflicts[d.doc_id] = {"stored": str(was), "new": d.origin}
                self.progress.advance()
                continue
            d.had_chunk0 = rec is not None
            changed.append(d)
        return changed

    def _update_acl(self, d: _Doc) -> bool:
        """Give an unchanged document's chunks its new access list (metadata update only).

        Chunk ``#0`` goes last, so an interrupted update is redone by the next
        run (its ``#0`` still carries the old list). False when it failed
        (the document is reported failed).
        """
        value = {ACL_FIELD: stored_acl(d.acl)}
        try:
            if self.existing is not None:
                numbers = self.existing.get(d.base, set())
            else:
                prefix = doc_prefix(d.doc_id)
                numbers = self.policy.call(
                    lambda: chunk_numbers(self.pinned.list_ids(prefix), d.doc_id), what="list"
                )
            ids = [f"{d.base}#{n}" for n in sorted(numbers)]  # #0 first
            self.policy.call(lambda: self.pinned.update_metadata_of(ids[1:], value), what="update")
            self.policy.call(lambda: self.pinned.update_metadata_of(ids[:1], value), what="update")
        except Exception as exc:  # noqa: BLE001 - this document fails, the run goes on
            if isinstance(exc, TenantRagError) and not isinstance(exc, IngestError):
                raise
            self._finish_failed(
                d.doc_id,
                f"could not update its access list: {_brief(exc)}; its chunk #0 keeps the old "
                "list, so the next run tries again",
            )
            return False
        return True

    def _chunk(self, doc: _Doc) -> None:
        doc.chunks = split(self.splitter, doc.text)
        if not doc.chunks:
            raise IngestError(f"document {doc.doc_id!r}: the splitter returned no text.")
        if len(doc.chunks) > 99_999:
            raise IngestError(
                f"document {doc.doc_id!r} splits into {len(doc.chunks):,} chunks (at most "
                "99,999); use a larger chunk_size or split the document."
            )
        # build (and size-check) every chunk's metadata before anything is written
        # ingested_at: when this version was written (Unix seconds), for `list_documents`
        extra = {**doc.metadata, "ingested_at": self.ingested_at}
        doc.chunk_metadata = [
            chunk_metadata(doc.doc_id, n, doc.source, doc.digest, text, extra, doc.origin, doc.acl)
            for n, text in enumerate(doc.chunks)
        ]
        doc.text = ""  # the chunks carry it now; free the memory

    def _embed_and_submit(self, wave: list[_Doc], pool: _WriterPool) -> None:
        texts = [c for d in wave for c in d.chunks]
        try:
            vectors: list[list[float]] = []
            for start in range(0, len(texts), self.embed_batch_size):
                part = self.embedding.embed_documents(texts[start : start + self.embed_batch_size])
                vectors.extend(part)
            if len(vectors) != len(texts):
                raise IngestError(
                    f"the embedding model returned {len(vectors)} vectors for {len(texts)} chunks."
                )
        except Exception as exc:  # noqa: BLE001 - these documents fail, the run goes on
            for d in wave:
                self._finish_failed(
                    d.doc_id, f"embedding failed: {_brief(exc)}", retryable=_temporary(exc)
                )
            return
        at = 0
        for d in wave:
            d.vectors = vectors[at : at + len(d.chunks)]
            at += len(d.chunks)
        pool.submit(wave)

    # -- bookkeeping -----------------------------------------------------------------------

    def _finish_failed(
        self, key: str, reason: str, *, skipped: bool = False, retryable: bool = False
    ) -> None:
        with self.lock:
            target = self.report.skipped if skipped else self.report.failed
            target[key] = reason
            if retryable and not skipped:
                self.report.retryable.append(key)
        self.progress.advance()

    def finish_written(self) -> None:
        with self.lock:
            self.report.documents_written += 1
        self.progress.advance()

    def add_chunks(self, upserted: int = 0, deleted: int = 0) -> None:
        with self.lock:
            self.report.chunks_upserted += upserted
            self.report.chunks_deleted += deleted
        if upserted:
            self.progress.chunks(upserted)

    # -- sync ------------------------------------------------------------------------------

    def delete_gone(self) -> None:
        """Delete the documents present at the start that no source produced this run."""
        if not self.seen_bases and not self.found_documents:
            raise IngestError(
                "sync=True with sources that hold no documents would delete every document of "
                f"tenant {self.pinned.tenant!r}; refusing. Check the paths, or use offboard() "
                "to remove a tenant."
            )
        assert self.existing is not None
        scope = record_base(self.doc_id_prefix)  # with a prefix, sync stays under it
        gone = [
            base
            for base in self.existing
            if base.startswith(scope)
            and base not in self.seen_bases
            and not self._is_protected(base)
        ]
        for base in sorted(gone):
            ids = [f"{base}#{n}" for n in sorted(self.existing[base])]  # #0 first
            try:
                self.policy.call(partial(self.pinned.delete, ids), what="delete")
            except Exception as exc:  # noqa: BLE001 - reported; the next sync run retries
                if isinstance(exc, TenantRagError) and not isinstance(exc, IngestError):
                    raise
                self.report.failed[base] = (
                    f"could not delete it (gone from the source): {_brief(exc)}"
                )
                if _temporary(exc):
                    self.report.retryable.append(base)
                continue
            self.report.documents_deleted += 1
            self.report.chunks_deleted += len(ids)

    def _is_protected(self, base: str) -> bool:
        return any(base == p or base.startswith(p + ":") for p in self.protected)

    # -- writing one wave (runs on a writer thread) ----------------------------------------

    def write_wave(self, wave: list[_Doc]) -> None:
        """Steps A, B, C of the module docstring for a wave of documents."""
        failed: dict[int, str] = {}
        touched: set[int] = set()
        temporary: set[int] = set()  # failed on a transient error: a re-run may succeed

        # A: old chunk #0 and surplus chunks go first
        for d in wave:
            try:
                d.stale = self._stale_ids(d)
            except Exception as exc:  # noqa: BLE001
                if isinstance(exc, TenantRagError) and not isinstance(exc, IngestError):
                    raise
                failed[d.key] = f"could not list its stored chunks: {_brief(exc)}"
                if _temporary(exc):
                    temporary.add(d.key)
        doomed = [(d.key, rid) for d in wave if d.key not in failed for rid in d.stale]
        if doomed:
            ids = [rid for _, rid in doomed]
            try:
                self.policy.call(lambda: self.pinned.delete(ids), what="delete")
                self.add_chunks(deleted=len(ids))
            except Exception as exc:  # noqa: BLE001
                if isinstance(exc, TenantRagError) and not isinstance(exc, IngestError):
                    raise
                for key, _ in doomed:
                    failed[key] = f"deleting its old chunks failed: {_brief(exc)}"
                    touched.add(key)
                    if _temporary(exc):
                        temporary.add(key)

        # B: chunks #1.. ; C: chunk #0 of every document whose other chunks all landed
        for step in ("body", "head"):
            pairs = (
                (d.key, self._record(d, n))
                for d in wave
                if d.key not in failed
                for n in (range(1, len(d.chunks)) if step == "body" else (0,))
            )
            for batch in batches(
                pairs, max_records=self.batch_size, max_bytes=self.max_batch_bytes
            ):
                groups: dict[int, list[dict[str, Any]]] = {}
                for rec, key in zip(batch.records, batch.owners, strict=True):
                    if key not in failed:
                        groups.setdefault(key, []).append(rec)
                if groups:
                    self._upsert(groups, failed, touched, temporary)

        for d in wave:
            if d.key in failed:
                reason = failed[d.key]
                if d.key in touched:  # untouched: the previous version is still intact
                    reason += self._clean_up(d)
                self._finish_failed(d.doc_id, reason, retryable=d.key in temporary)
            else:
                self.finish_written()
            d.vectors, d.chunks, d.chunk_metadata = [], [], []

    def _upsert(
        self,
        groups: dict[int, list[dict[str, Any]]],
        failed: dict[int, str],
        touched: set[int],
        temporary: set[int],
    ) -> None:
        """Upsert one batch (records grouped by document); mark the documents it fails for.

        A failure that retrying cannot fix (a 400 caused by one document's
        content, say) is narrowed down by sending each document's records
        alone, so one bad document does not fail its neighbours in the batch.
        """
        live = [rec for recs in groups.values() for rec in recs]
        try:
            self.policy.call(partial(self.pinned.upsert, live), what="upsert")
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc, TenantRagError) and not isinstance(exc, IngestError):
                raise
            touched.update(groups)  # a failed request may still have written part of it
            if len(groups) > 1 and not is_transient(exc):
                for key, recs in groups.items():
                    self._upsert({key: recs}, failed, touched, temporary)
                return
            for key in groups:
                failed.setdefault(key, f"upsert failed: {_brief(exc)}")
                if is_transient(exc):
                    temporary.add(key)
            return
        touched.update(groups)
        self.add_chunks(upserted=len(live))

    def _stale_ids(self, d: _Doc) -> list[str]:
        """Ids to delete before writing: the old #0 and chunks beyond the new count."""
        n_new = len(d.chunks)
        if self.existing is not None:
            numbers = self.existing.get(d.base, set())
        elif self.namespace_empty:
            numbers = set()
        else:
            prefix = doc_prefix(d.doc_id)
            numbers = self.policy.call(
                lambda: chunk_numbers(self.pinned.list_ids(prefix), d.doc_id), what="list"
            )
        d.existing = sorted(numbers)
        stale = [n for n in d.existing if n == 0 or n >= n_new]
        return [f"{d.base}#{n}" for n in stale]

    def _record(self, d: _Doc, n: int) -> dict[str, Any]:
        return {
            "id": f"{d.base}#{n}",
            "values": d.vectors[n],
            "metadata": d.chunk_metadata[n],
        }

    def _clean_up(self, d: _Doc) -> str:
        """Remove every known chunk of a failed document, so no mix of versions remains."""
        numbers = set(range(len(d.chunks))) | set(d.existing)
        ids = [f"{d.base}#{n}" for n in sorted(numbers)]
        try:
            self.policy.call(lambda: self.pinned.delete(ids), what="delete")
        except Exception as exc:  # noqa: BLE001
            return (
                f"; removing its partial writes failed too ({_brief(exc)}); its chunk #0 does "
                "not carry the new hash, so the next run rewrites it"
            )
        self.add_chunks(deleted=len(ids))
        return "; its chunks were removed, the next run writes it again"


def _writers_for(embedding: Any) -> int:
    """Writer threads to overlap with embedding: 2, or 1 for a CPU-bound local model on few cores.

    Overlap pays when embedding waits on the network (OpenAI) or is cheap
    (hashing). A local ONNX model already keeps every core busy; with its
    thread pool set not to spin (see `tenant_rag.models.local_minilm`) and
    upserts encoded without the SDK's model layer (`tenant_rag.ingestion.sdk`),
    one writer beside it keeps ingestion at nearly the model's own throughput
    on 2 cores (``benchmarks/FIGURES.md``, ``benchmarks/bench_ingest.py``).
    """
    cpu_bound = getattr(embedding, "cpu_bound", None)
    if cpu_bound is None:
        cpu_bound = type(embedding).__name__ == "LocalMiniLMEmbeddings"
    return 1 if cpu_bound and (os.cpu_count() or 1) <= 4 else 2


# -- writer threads ----------------------------------------------------------------------------


class _WriterPool:
    """``n`` threads writing waves from a bounded queue (at most ``n + 1`` waves in memory)."""

    _STOP = object()

    def __init__(self, run: _Run, n: int) -> None:
        self.run = run
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=n + 1)
        self.error: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._loop, name=f"tenant-rag-ingest-{i}", daemon=True)
            for i in range(n)
        ]
        for t in self.threads:
            t.start()

    def _loop(self) -> None:
        while True:
            wave = self.queue.get()
            if wave is self._STOP:
                return
            if self.error is not None:
                continue  # drain: the run is failing
            try:
                self.run.write_wave(wave)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
                self.error = exc

    def submit(self, wave: list[_Doc]) -> None:
        if not self.threads:  # writers=0: write on the calling thread, no overlap
            self.run.write_wave(wave)
            return
        while True:
            self._raise_if_failed()
            try:
                self.queue.put(wave, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        for _ in self.threads:
            self.queue.put(self._STOP)
        for t in self.threads:
            t.join()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error


# -- progress ----------------------------------------------------------------------------------


class _Progress:
    """A tqdm bar on a terminal (documents done, chunks written), a callback, or nothing."""

    def __init__(
        self, progress: bool | ProgressCallback, total: int | None, *, tenant: str
    ) -> None:
        self.callback = progress if callable(progress) else None
        self.total = total
        self.done = 0
        self.upserted = 0
        self.lock = threading.Lock()
        self.bar: Any = None
        if progress is True and _stderr_is_terminal():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, desc=f"ingest {tenant}", unit="doc", file=sys.stderr, leave=True
            )

    def advance(self) -> None:
        with self.lock:
            self.done += 1
            if self.bar is not None:
                self.bar.update(1)
            self._notify()

    def chunks(self, n: int) -> None:
        with self.lock:
            self.upserted += n
            if self.bar is not None:
                self.bar.set_postfix(chunks=self.upserted, refresh=False)
            self._notify()

    def _notify(self) -> None:
        if self.callback is not None:
            self.callback(self.done, self.total, self.upserted)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _temporary(exc: BaseException) -> bool:
    """True when a failure may pass on a re-run: Pinecone's transient errors, or a network
    error of an embedding service (the OpenAI client's own connection and timeout errors)."""
    return is_transient(exc) or type(exc).__name__ in ("APIConnectionError", "APITimeoutError")


def _brief(exc: BaseException) -> str:
    """One line naming the error (SDK errors carry multi-line bodies)."""
    status = getattr(exc, "status", None)
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 200:
        text = text[:199] + "…"
    return f"{type(exc).__name__}{f' (HTTP {status})' if status else ''}: {text}"
