"""What the routes share: the index handle, the models and the limits.

One `ChatService` per app. It holds no per-tenant state: each request builds
its tenant's retriever and chain from the tenant id its key maps to, which
costs no network call (the index handle and its connection pool are shared),
so there is no cache that could ever hand one tenant's objects to another.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from fastapi import Request

from tenant_rag.chat.doclocks import DocumentLocks
from tenant_rag.tenancy.acl import TENANT_ADMIN, Reader

#: The origin recorded for every uploaded document (see `tenant_rag.ingestion.ingest`).
UPLOAD_ORIGIN = "upload"
#: Default per-file upload cap.
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: File types `tenant_rag.ingestion` can load.
DEFAULT_ALLOWED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".json", ".jsonl")


@dataclass(frozen=True)
class ChatLimits:
    """Request limits; each one turns into a 4xx naming the limit."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_files: int = 20
    allowed_suffixes: tuple[str, ...] = DEFAULT_ALLOWED_SUFFIXES
    max_question_chars: int = 4000
    max_history_turns: int = 50
    top_k: int = 4
    #: Every non-upload request body (chat JSON with its history).
    max_body_bytes: int = 1024 * 1024
    #: Unfinished ingestion jobs a tenant may have (queued or running); more is a 429.
    max_pending_jobs: int = 10
    #: Chunks per embedding call in an ingestion job (see `ChatService.ingest`).
    job_embed_batch: int = 16
    #: Longest an ingestion job waits, before an embedding call, for questions to finish.
    job_yield_seconds: float = 2.0
    #: Chunks per wave (embedded, then written) in an ingestion job: progress steps.
    job_wave_chunks: int = 128

    @property
    def max_request_bytes(self) -> int:
        """Whole multipart body: every file at its cap, plus room for the part headers."""
        return self.max_upload_bytes * self.max_files + 64 * 1024


@dataclass
class ChatService:
    """The shared, tenant-free parts of the backend."""

    index: Any
    index_name: str
    embedding: Any
    llm: Any
    limits: ChatLimits = field(default_factory=ChatLimits)
    #: a `RoutingTable` (None: ``index`` serves every tenant); see `target`
    routes: Any = None
    #: ``open_index(name) -> (handle, embeddings)`` for an index a tenant is routed to
    open_index: Any = None
    _opened: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def target(self, tenant: str) -> tuple[Any, str, Any]:
        """(index handle, index name, embedding model) serving ``tenant`` now.

        Looked up per request in the routing table, so a tenant re-embedded into
        a new index or moved is served (and its uploads written) there from the
        moment its route is switched.
        """
        route = self.routes.get(tenant) if self.routes is not None else None
        if route is None or route.index == self.index_name:
            return self.index, self.index_name, self.embedding
        opened = self._opened.get(route.index)
        if opened is None:
            from tenant_rag.stores.per_request import open_index_by_name

            opener = self.open_index or (lambda name: open_index_by_name(name, self.embedding))
            opened = self._opened.setdefault(route.index, opener(route.index))
        return opened[0], route.index, opened[1]

    def retriever(self, tenant: str, reader: Reader = TENANT_ADMIN) -> Any:
        """A retriever pinned to ``tenant``, reading for ``reader`` (both from the credentials)."""
        from tenant_rag.stores.langchain import tenant_retriever

        index, _, embedding = self.target(tenant)
        return tenant_retriever(index, tenant, embedding, k=self.limits.top_k, principal=reader)

    def chain(self, tenant: str, reader: Reader = TENANT_ADMIN) -> Any:
        """The RAG chain over the tenant's retriever for ``reader``."""
        from tenant_rag.chains.rag import rag_chain

        return rag_chain(self.retriever(tenant, reader), self.llm)

    def ingest(
        self,
        tenant: str,
        root: Path,
        paths: list[Path],
        progress: Callable[[int, int | None, int], None] | None = None,
        *,
        replace: bool = False,
        acl: list[str] | None = None,
        recheck: Callable[[], None] | None = None,
    ) -> Any:
        """Ingest uploaded files (already saved under ``root``) into ``tenant``.

        The directory is the source, so each document id is the file's name
        relative to it (the upload's name). Every upload has the origin
        ``upload``: uploading a file again replaces it, while a document of
        that name ingested from elsewhere (the CLI) is refused unless ``replace``.
        ``acl`` is the uploads' access list; sidecars are not read (the folder
        is a temporary one). ``recheck`` runs first, on this thread, and raises
        to refuse the whole upload (the route's check that the uploader may
        replace the documents these names already are, made again at write time);
        the documents' locks (`doc_locks`) are held from it to the end of the write.
        Runs on a job thread (`tenant_rag.chat.jobs`); ``progress`` is ingestion's
        progress callback. Embedding batches are kept small
        (`ChatLimits.job_embed_batch`), and the local model runs on one thread for
        jobs (`job_embedding`), so a question of another tenant, which needs the
        same model, finds a free core.
        """

        names = [p.relative_to(root).as_posix() if p.is_absolute() else p.as_posix() for p in paths]
        # from the last check to the end of the write, no route changes these documents
        with self.doc_locks.hold(tenant, names):
            if recheck is not None:
                recheck()
            return self._ingest_files(tenant, root, paths, progress, replace=replace, acl=acl)

    def _ingest_files(
        self,
        tenant: str,
        root: Path,
        paths: list[Path],
        progress: Callable[[int, int | None, int], None] | None,
        *,
        replace: bool,
        acl: list[str] | None,
    ) -> Any:
        from tenant_rag.ingestion import ingest

        index, _, embedding = self.target(tenant)
        return ingest(
            index,
            tenant,
            [str(p) for p in paths],
            root=root,
            # the tenant's own model when it is routed to another index; the job's
            # one-thread session of the shared local model otherwise
            embedding=self.job_embedding if embedding is self.embedding else embedding,
            progress=progress if progress is not None else False,
            embed_batch_size=self.limits.job_embed_batch,
            wave_chunks=self.limits.job_wave_chunks,
            origin=UPLOAD_ORIGIN,
            on_conflict="replace" if replace else "refuse",
            acl=acl,
            acl_sidecars=False,
        )

    @cached_property
    def doc_locks(self) -> DocumentLocks:
        """Orders an upload's write and the routes that change or delete the same document."""
        return DocumentLocks()

    @cached_property
    def foreground(self) -> ForegroundGate:
        """Counts questions being answered; ingestion jobs give way to them."""
        return ForegroundGate()

    @cached_property
    def job_embedding(self) -> Any:
        """The embedding model for ingestion jobs: the local model on one intra-op thread
        (same model and vectors, its own session) that waits, before each batch, while
        questions are being answered (at most `ChatLimits.job_yield_seconds`); any other
        model as it is (a network model does not compete for these cores)."""
        from tenant_rag.models.local_minilm import LocalMiniLMEmbeddings

        if isinstance(self.embedding, LocalMiniLMEmbeddings):
            gate, wait = self.foreground, self.limits.job_yield_seconds

            def give_way() -> None:
                gate.wait_idle(wait)

            return self.embedding.with_threads(1, before_embed=give_way)
        return self.embedding

    def pinned(self, tenant: str, reader: Reader = TENANT_ADMIN) -> Any:
        """The raw index serving ``tenant`` (its route), pinned to it and reading for
        ``reader`` (listing documents, checking a user's rights on one)."""
        from tenant_rag.tenancy.pinned import PinnedIndex

        index, name, _ = self.target(tenant)
        return PinnedIndex(index, tenant, index_name=name, principal=reader)


class ForegroundGate:
    """Questions in flight, so background work can wait for a quiet moment.

    Chat requests hold it (`active`) from retrieval to the end of their stream;
    an ingestion job calls `wait_idle` before each embedding batch and goes on
    when no question has been in flight for ``quiet`` seconds (a reader often asks
    again at once), or after ``timeout`` seconds at the latest, so a steady stream
    of questions slows uploads down but never stops them.
    """

    def __init__(self, quiet: float = 0.25) -> None:
        self._active = 0
        self._last_left = -1e9
        self.quiet = quiet
        self._cond = threading.Condition()

    def enter(self) -> None:
        with self._cond:
            self._active += 1

    def leave(self) -> None:
        with self._cond:
            self._active = max(0, self._active - 1)
            self._last_left = time.monotonic()
            if not self._active:
                self._cond.notify_all()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.leave()

    @property
    def busy(self) -> bool:
        return self._active > 0

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no question has been in flight for ``quiet`` seconds (True) or
        ``timeout`` passed (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                if not self._active and now - self._last_left >= self.quiet:
                    return True
                if now >= deadline:
                    return False
                until = deadline if self._active else min(deadline, self._last_left + self.quiet)
                self._cond.wait(max(0.0, until - now))


def service_of(request: Request) -> ChatService:
    svc: ChatService = request.app.state.service
    return svc
