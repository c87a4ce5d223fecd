"""What the routes share: the index handle, the models and the limits.

One `ChatService` per app. It holds no per-tenant state: each request builds
its tenant's retriever and chain from the tenant id its key maps to, which
costs no network call (the index handle and its connection pool are shared),
so there is no cache that could ever hand one tenant's objects to another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

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

    def retriever(self, tenant: str, reader: Reader = TENANT_ADMIN) -> Any:
        """A retriever pinned to ``tenant``, reading for ``reader`` (both from the credentials)."""
        from tenant_rag.stores.langchain import tenant_retriever

        return tenant_retriever(
            self.index, tenant, self.embedding, k=self.limits.top_k, principal=reader
        )

    def chain(self, tenant: str, reader: Reader = TENANT_ADMIN) -> Any:
        """The RAG chain over the tenant's retriever for ``reader``."""
        from tenant_rag.chains.rag import rag_chain

        return rag_chain(self.retriever(tenant, reader), self.llm)

    def ingest(
        self,
        tenant: str,
        root: Path,
        paths: list[Path],
        *,
        replace: bool = False,
        acl: list[str] | None = None,
    ) -> Any:
        """Ingest uploaded files (already saved under ``root``) into ``tenant``.

        The directory is the source, so each document id is the file's name
        relative to it (the upload's name). Every upload has the origin
        ``upload``: uploading a file again replaces it, while a document of
        that name ingested from elsewhere (the CLI) is refused unless ``replace``.
        ``acl`` is the uploads' access list; sidecars are not read (the folder
        is a temporary one).
        """
        from tenant_rag.ingestion import ingest

        return ingest(
            self.index,
            tenant,
            [str(p) for p in paths],
            root=root,
            embedding=self.embedding,
            progress=False,
            origin=UPLOAD_ORIGIN,
            on_conflict="replace" if replace else "refuse",
            acl=acl,
            acl_sidecars=False,
        )

    def pinned(self, tenant: str, reader: Reader = TENANT_ADMIN) -> Any:
        """The raw index pinned to ``tenant``, reading for ``reader`` (listing documents)."""
        from tenant_rag.tenancy.pinned import PinnedIndex

        return PinnedIndex(self.index, tenant, index_name=self.index_name, principal=reader)


def service_of(request: Request) -> ChatService:
    svc: ChatService = request.app.state.service
    return svc
