"""LangChain vector store and retrievers pinned to one tenant.

`TenantPineconeVectorStore` is a real ``langchain_pinecone.PineconeVectorStore``
(so ``isinstance`` checks, ``as_retriever`` and every chain that takes a
vector store keep working), but none of its methods can reach beyond the
tenant it was built for:

* Upstream (0.2.13) takes each call's ``namespace=`` as given, falling back to
  the store's own only when it is ``None``: a store built without a namespace
  reaches Pinecone's shared default namespace on every call, and a per-call
  override reaches any namespace. Here every
  method takes the namespace from the store's :class:`TenantScope`; passing
  any other namespace, including ``None`` and ``""``, raises
  :class:`TenantIsolationError`. Passing the tenant's own namespace is a no-op.
* Every request goes through :class:`PinnedIndex` (ids prefixed, tenant
  forced into metadata and filters under ``isolation="metadata"``, results
  checked on the way back, usage reported to `tenant_rag.tenancy.usage`),
  and underneath that through a :class:`NamespaceGuardedIndex` that refuses
  any request whose namespace is not the pin.
* ``delete(delete_all=True)`` deletes the tenant's own data only.
* ``get_by_ids`` is implemented (upstream raises ``NotImplementedError``).
* Documents: ``add_texts(..., id_prefix=doc_id)`` names records by the one
  scheme of `tenant_rag.tenancy.records` (``{doc_id}#{id}`` for ASCII ids, as
  upstream), and ``delete_document(doc_id)`` deletes exactly that document's
  records, whoever wrote them (this store, `tenant_rag.ingestion`, the
  LlamaIndex store); upstream has no delete by document.
* Embedding values are coerced to Python floats before upsert (the SDK
  rejects numpy floats, which LangChain's fake embeddings return).

Async methods embed with the embedding model's own async API and then run the
pinned synchronous Pinecone call on a dedicated thread pool (:func:`io_pool`),
on the same connection pool as every other tenant. Upstream's async path opens
a ``PineconeAsyncio`` client and aiohttp session per call and has open
session-lifetime bugs ("Session is closed" under ``asyncio.gather``); this
design is many times faster and has none, at a small cost over one long-lived
``IndexAsyncio`` session (which would have to be kept alive per event loop).
Figures: ``benchmarks/FIGURES.md``; see also ``docs/langchain.md``.

Building a store is pure bookkeeping: no request, no new client, no new
connection. ``tenant_vector_store(index, "tenant-10000", emb)`` costs a few
microseconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

import numpy as np
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.vectorstores import VectorStoreRetriever
from langchain_core.vectorstores.utils import maximal_marginal_relevance
from langchain_pinecone import PineconeVectorStore
from pydantic import model_validator

from tenant_rag._compat.langchain_pinecone import (
    DistanceStrategy,
    relevance_score_fn,
    retriever_tags,
)
from tenant_rag._compat.pinecone_sdk import is_asyncio_index
from tenant_rag.context import SCORE_KEY
from tenant_rag.errors import AccessControlError, ConfigurationError, TenantIsolationError
from tenant_rag.tenancy.acl import (
    AclPolicy,
    Reader,
    check_reader,
    reader_from_config,
    store_acl_field,
    view_for,
)
from tenant_rag.tenancy.batching import record_batches
from tenant_rag.tenancy.guard import NamespaceGuardedIndex
from tenant_rag.tenancy.limits import MAX_UPSERT_RECORDS
from tenant_rag.tenancy.pinned import PinnedIndex, Record, as_floats, index_name_of
from tenant_rag.tenancy.records import node_record_id
from tenant_rag.tenancy.retry import READ_WRITE_RETRY
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, TENANT_FIELD, Isolation, TenantScope

logger = logging.getLogger(__name__)
T = TypeVar("T")

_UNSET: Any = object()
SEARCH_TYPES = ("similarity", "similarity_score_threshold", "mmr")


def _is_set(value: Any) -> bool:
    return value is not _UNSET


ASYNC_THREADS_ENV = "TENANT_RAG_ASYNC_THREADS"
_IO_POOL: ThreadPoolExecutor | None = None
_IO_POOL_PID = 0
_IO_POOL_LOCK = threading.Lock()


def io_pool() -> ThreadPoolExecutor:
    """The worker threads that run the pinned sync path for every async method.

    One pool per process, shared by all tenant stores, separate from the event
    loop's default executor (which LangChain also uses for embeddings and sync
    fallbacks, and which has only ``cpu_count + 4`` threads). Its size matches
    the SDK's default connection pool (``5 x cpu_count``, at most 32), so each
    worker can hold a kept-alive connection; set ``TENANT_RAG_ASYNC_THREADS`` to
    change it (more helps when each query waits on a distant cloud region).
    """
    global _IO_POOL, _IO_POOL_PID
    with _IO_POOL_LOCK:
        # a pool inherited through fork() has no threads in the child: make a new one
        if _IO_POOL is None or os.getpid() != _IO_POOL_PID:
            _IO_POOL_PID = os.getpid()
            _IO_POOL = ThreadPoolExecutor(
                max_workers=_io_workers(), thread_name_prefix="tenant-rag-io"
            )
        return _IO_POOL


def _io_workers() -> int:
    """``TENANT_RAG_ASYNC_THREADS``, else ``5 x cpu_count`` (at most 32). A value that is not
    a whole number of at least 1 is refused, naming it: it used to surface as int()'s bare
    error, and 0 or less was quietly made 1."""
    raw = os.environ.get(ASYNC_THREADS_ENV, "").strip()
    if not raw:
        return min(32, 5 * (os.cpu_count() or 1))
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ConfigurationError(
            f"{ASYNC_THREADS_ENV}={raw!r} cannot be read: it takes a whole number of threads, "
            "1 or more (unset: 5 x the CPUs, at most 32)"
        )
    return workers


async def run_in_io_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``func`` on :func:`io_pool`, with the caller's context variables (callbacks)."""
    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(io_pool(), call)


class TenantPineconeVectorStore(PineconeVectorStore):
    """A ``PineconeVectorStore`` that can only read and write one tenant's data.

    Build it with :func:`tenant_vector_store`. ``tenant`` may be a tenant id
    or a ready :class:`TenantScope`; the id is validated once, here.

    Args:
        index: the SDK data-plane handle (``pc.Index(...)`` or
            ``ensure_index(...)``), shared by every tenant. A ``GRPCIndex``
            works too. Never a ``PineconeAsyncio`` index: async methods run the
            pinned sync path in a thread (see the module docs).
        embedding: any LangChain ``Embeddings``.
        tenant: the tenant id (or a ``TenantScope``).
        isolation: ``"namespace"`` (one namespace per tenant, the default) or
            ``"metadata"`` (one shared namespace, tenant in metadata and ids).
        text_key: metadata key holding the page text (upstream's default).
        shared_namespace: the shared namespace under metadata isolation.
        distance_strategy: how raw scores map to relevance scores in [0, 1];
            match the index metric (cosine by default, like upstream).
        principal: who the reads are for (`tenant_rag.tenancy.acl`): a
            ``Principal(user=..., groups=[...])``, ``TENANT_ADMIN`` (every
            document), or ``None`` (what everyone in the tenant may read).
            Its access condition is joined to every search with ``$and``; a
            filter naming ``acl`` is refused; results are checked again.
            Writes are not limited by it: ``metadata["acl"]`` of added texts
            becomes their access list.
        acl_policy: overrides the index's ACL policy read from its tags.
    """

    def __init__(
        self,
        index: Any,
        embedding: Embeddings,
        tenant: str | TenantScope,
        *,
        isolation: Isolation = "namespace",
        text_key: str = "text",
        shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
        distance_strategy: DistanceStrategy = DistanceStrategy.COSINE,
        index_name: str | None = None,
        principal: Reader = None,
        acl_policy: AclPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        scope = (
            tenant
            if isinstance(tenant, TenantScope)
            else TenantScope(tenant, isolation, shared_namespace=shared_namespace)
        )
        scope.check_namespace_kwarg(kwargs, where="TenantPineconeVectorStore()")
        if kwargs:
            raise TypeError(
                f"unexpected arguments {sorted(kwargs)}; a tenant store takes an index handle, "
                "not pinecone_api_key/host/index_name."
            )
        if index is None:
            raise TypeError("index is required: pass the data-plane handle from ensure_index().")
        if is_asyncio_index(index):
            raise TypeError(
                "pass the synchronous Index handle; async methods of a tenant store run the "
                "pinned sync path in a worker thread."
            )
        raw = index.wrapped if isinstance(index, NamespaceGuardedIndex) else index
        name = index_name or index_name_of(raw)
        guarded = NamespaceGuardedIndex(index, scope.namespace, scope.tenant)
        super().__init__(
            index=guarded,
            embedding=embedding,
            text_key=text_key,
            namespace=scope.namespace,
            distance_strategy=distance_strategy,
        )
        # our own references: upstream keeps these under private names of its own
        self._embedder = embedding
        self._text_field = text_key
        self._guarded = guarded
        self._scope = scope
        self._pinned = PinnedIndex(
            guarded,
            scope,
            index_name=name,
            retry=READ_WRITE_RETRY,
            principal=check_reader(principal),
            acl_policy=acl_policy,
        )

    # -- identity ------------------------------------------------------------------

    @property
    def scope(self) -> TenantScope:
        """The tenant this store is pinned to (read-only: a store is never re-pinned)."""
        return self._scope

    @property
    def pinned(self) -> PinnedIndex:
        """The pinned data-plane handle every request goes through."""
        return self._pinned

    @property
    def tenant(self) -> str:
        return self.scope.tenant

    @property
    def principal(self) -> Reader:
        """Who this store's reads are for (read-only, like the tenant)."""
        return self._pinned.principal

    @property
    def namespace(self) -> str:
        """The one namespace this store sends (the tenant's, or the shared one)."""
        return self.scope.namespace

    @property
    def index(self) -> Any:  # type: ignore[override]
        """The namespace-guarded data-plane handle (never a fresh client)."""
        return self._guarded

    @property
    async def async_index(self) -> Any:  # type: ignore[override]
        raise TypeError(
            "a tenant store has no PineconeAsyncio index: its async methods run the pinned "
            "sync path in a worker thread, on the shared connection pool."
        )

    async def __aenter__(self) -> TenantPineconeVectorStore:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def aclose(self, *exc: Any) -> None:  # type: ignore[override]
        return None

    def __repr__(self) -> str:
        return (
            f"TenantPineconeVectorStore(tenant={self.tenant!r}, "
            f"isolation={self.scope.isolation!r}, namespace={self.namespace!r}, "
            f"principal={self.principal!r})"
        )

    def _check_ns(self, namespace: Any, kwargs: dict[str, Any], where: str) -> None:
        if _is_set(namespace):
            kwargs = {**kwargs, "namespace": namespace}
        self.scope.check_namespace_kwarg(kwargs, where=where)

    # -- writes --------------------------------------------------------------------

    def add_texts(  # type: ignore[override]
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        ids: list[str] | None = None,
        namespace: Any = _UNSET,
        batch_size: int = 32,
        embedding_chunk_size: int = 1000,
        *,
        async_req: bool = True,
        id_prefix: str | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed ``texts`` and upsert them into the tenant's data; returns their ids.

        Like upstream: ids default to fresh UUIDs (also for ``None`` entries),
        ``id_prefix`` gives ``"{id_prefix}#{id}"`` (an id already starting with
        ``"{id_prefix}#"`` keeps its tail), and the text is stored in metadata
        under ``text_key``. ``id_prefix`` is a document id: the ids follow
        `tenant_rag.tenancy.records` (non-ASCII and ``%`` percent-encoded,
        ``#`` in the id escaped), so ``delete_document(id_prefix)`` deletes
        exactly these records. Unlike upstream, the caller's metadata
        dicts are not mutated, and numpy floats are accepted.
        """
        self._check_ns(namespace, kwargs, "add_texts")
        texts, metas, ids = self._prepare(texts, metadatas, ids, id_prefix)
        for start in range(0, len(texts), max(1, embedding_chunk_size)):
            end = start + max(1, embedding_chunk_size)
            vectors = self._embedder.embed_documents(texts[start:end])
            self._upsert(ids[start:end], vectors, metas[start:end], batch_size, async_req)
        return ids

    async def aadd_texts(  # type: ignore[override]
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        ids: list[str] | None = None,
        namespace: Any = _UNSET,
        batch_size: int = 32,
        embedding_chunk_size: int = 1000,
        *,
        id_prefix: str | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_texts`: async embedding, then the pinned upsert in a thread."""
        self._check_ns(namespace, kwargs, "aadd_texts")
        texts, metas, ids = self._prepare(texts, metadatas, ids, id_prefix)
        for start in range(0, len(texts), max(1, embedding_chunk_size)):
            end = start + max(1, embedding_chunk_size)
            vectors = await self._embedder.aembed_documents(texts[start:end])
            await run_in_io_thread(
                self._upsert, ids[start:end], vectors, metas[start:end], batch_size, True
            )
        return ids

    def _prepare(
        self,
        texts: Iterable[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None,
        ids: Sequence[str | None] | None,
        id_prefix: str | None,
    ) -> tuple[list[str], list[dict[str, Any]], list[str]]:
        texts = list(texts)
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"got {len(metadatas)} metadatas for {len(texts)} texts.")
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"got {len(ids)} ids for {len(texts)} texts.")
        out_ids = [str(i) if i else str(uuid.uuid4()) for i in (ids or [None] * len(texts))]
        if id_prefix:
            out_ids = [node_record_id(id_prefix, i) for i in out_ids]
        metas: list[dict[str, Any]] = []
        for md, text in zip(metadatas or [None] * len(texts), texts, strict=True):
            stored = dict(md or {})
            stored[self._text_field] = text
            # fails early (before any embedding cost) on a forged tenant field or a bad ACL
            store_acl_field(self.scope.stored_metadata(stored))
            metas.append(stored)
        return texts, metas, out_ids

    def _upsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        metadatas: Sequence[dict[str, Any]],
        batch_size: int,
        concurrent: bool,
    ) -> None:
        records = [
            {"id": i, "values": as_floats(v), "metadata": m}
            for i, v, m in zip(ids, vectors, metadatas, strict=True)
        ]
        batches = record_batches(records, max_records=min(max(1, batch_size), MAX_UPSERT_RECORDS))
        if len(batches) <= 1 or not concurrent:
            for batch in batches:
                self.pinned.upsert(batch)
            return
        with ThreadPoolExecutor(max_workers=min(4, len(batches))) as pool:
            for _ in pool.map(self.pinned.upsert, batches):
                pass

    def delete(  # type: ignore[override]
        self,
        ids: list[str] | None = None,
        delete_all: bool | None = None,
        namespace: Any = _UNSET,
        filter: dict | None = None,
        **kwargs: Any,
    ) -> bool:
        """Delete the tenant's records by ids, by filter, or all of them.

        ``delete_all=True`` deletes this tenant's data and nothing else (its
        namespace, or its prefixed ids under metadata isolation). With no
        argument at all it raises, as upstream does: never "delete everything"
        by omission.
        """
        self._check_ns(namespace, kwargs, "delete")
        if delete_all:
            self.pinned.delete_all()
        elif ids is not None:
            if ids:
                self.pinned.delete([str(i) for i in ids])
        elif filter is not None:
            self.pinned.delete_by_filter(filter)
        else:
            raise ValueError("Either ids, delete_all, or filter must be provided.")
        return True

    async def adelete(  # type: ignore[override]
        self,
        ids: list[str] | None = None,
        delete_all: bool | None = None,
        namespace: Any = _UNSET,
        filter: dict | None = None,
        **kwargs: Any,
    ) -> bool:
        self._check_ns(namespace, kwargs, "adelete")
        return await run_in_io_thread(self.delete, ids, delete_all, _UNSET, filter)

    def delete_document(self, doc_id: str) -> int:
        """Delete exactly the records of document ``doc_id``; return how many there were.

        A document's records are those `tenant_rag.tenancy.records` names:
        written here with ``id_prefix=doc_id``, by `tenant_rag.ingest` or by
        the LlamaIndex store. ``https://acme.test/page`` never takes the
        records of ``https://acme.test/page#faq`` or ``https://acme.test/page2``.
        """
        return self.pinned.delete_document(doc_id)

    async def adelete_document(self, doc_id: str) -> int:
        """Async :meth:`delete_document` (the pinned calls run on :func:`io_pool`)."""
        return await run_in_io_thread(self.delete_document, doc_id)

    # -- get by id -------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The tenant's documents with these ids, in the order given; missing ids are skipped."""
        wanted = [str(i) for i in ids]
        if not wanted:
            return []
        found = self.pinned.fetch(list(dict.fromkeys(wanted)))
        docs = []
        for i in dict.fromkeys(wanted):
            rec = found.get(i)
            if rec is not None:
                doc = self._document(rec)
                if doc is not None:
                    docs.append(doc)
        return docs

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return await run_in_io_thread(self.get_by_ids, list(ids))

    # -- similarity search -------------------------------------------------------------

    def similarity_search_by_vector_with_score(  # type: ignore[override]
        self,
        embedding: list[float],
        *,
        k: int = 4,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """The tenant's ``k`` nearest documents to ``embedding``, with raw Pinecone scores."""
        self.scope.check_namespace_kwarg(kwargs, where="similarity_search")
        recs = self._query(embedding, k, kwargs.get("filter"), include_values=False)
        return self._scored_docs(recs)

    async def asimilarity_search_by_vector_with_score(  # type: ignore[override]
        self,
        embedding: list[float],
        *,
        k: int = 4,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        self.scope.check_namespace_kwarg(kwargs, where="asimilarity_search")
        return await run_in_io_thread(
            self.similarity_search_by_vector_with_score,
            embedding,
            k=k,
            filter=kwargs.get("filter"),
        )

    def similarity_search_with_score(  # type: ignore[override]
        self,
        query: str,
        k: int = 4,
        filter: dict | None = None,
        namespace: Any = _UNSET,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        self._check_ns(namespace, kwargs, "similarity_search_with_score")
        return self.similarity_search_by_vector_with_score(
            self._embedder.embed_query(query), k=k, filter=filter
        )

    async def asimilarity_search_with_score(  # type: ignore[override]
        self,
        query: str,
        k: int = 4,
        filter: dict | None = None,
        namespace: Any = _UNSET,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        self._check_ns(namespace, kwargs, "asimilarity_search_with_score")
        vector = await self._embedder.aembed_query(query)
        return await self.asimilarity_search_by_vector_with_score(vector, k=k, filter=filter)

    def similarity_search(  # type: ignore[override]
        self,
        query: str,
        k: int = 4,
        filter: dict | None = None,
        namespace: Any = _UNSET,
        **kwargs: Any,
    ) -> list[Document]:
        self._check_ns(namespace, kwargs, "similarity_search")
        return [d for d, _ in self.similarity_search_with_score(query, k=k, filter=filter)]

    async def asimilarity_search(  # type: ignore[override]
        self,
        query: str,
        k: int = 4,
        filter: dict | None = None,
        namespace: Any = _UNSET,
        **kwargs: Any,
    ) -> list[Document]:
        self._check_ns(namespace, kwargs, "asimilarity_search")
        pairs = await self.asimilarity_search_with_score(query, k=k, filter=filter)
        return [d for d, _ in pairs]

    def similarity_search_by_vector(  # type: ignore[override]
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        pairs = self.similarity_search_by_vector_with_score(embedding, k=k, **kwargs)
        return [d for d, _ in pairs]

    async def asimilarity_search_by_vector(  # type: ignore[override]
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        pairs = await self.asimilarity_search_by_vector_with_score(embedding, k=k, **kwargs)
        return [d for d, _ in pairs]

    def similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        self.scope.check_namespace_kwarg(kwargs, where="similarity_search_with_relevance_scores")
        return super().similarity_search_with_relevance_scores(query, k, **kwargs)

    async def asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        self.scope.check_namespace_kwarg(kwargs, where="asimilarity_search_with_relevance_scores")
        return await super().asimilarity_search_with_relevance_scores(query, k, **kwargs)

    # -- maximal marginal relevance ---------------------------------------------------------

    def max_marginal_relevance_search_by_vector(  # type: ignore[override]
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict | None = None,
        namespace: Any = _UNSET,
        **kwargs: Any,
    ) -> list[Document]:
        self._check_ns(namespace, kwargs, "max_marginal_relevance_search")
        pairs = self._mmr_scored(embedding, k, fetch_k, lambda_mult, filter)
        return [d for d, _ in pairs]

    async def amax_marginal_relevance_search_by_vector(  # type: ignore[override]
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict | None = None,
        namespace: Any = _UNSET,
        **kwargs: Any,
    ) -> list[Document]:
        self._check_ns(namespace, kwargs, "amax_marginal_relevance_search")
        pairs = await run_in_io_thread(self._mmr_scored, embedding, k, fetch_k, lambda_mult, filter)
        return [d for d, _ in pairs]

    def max_marginal_relevance_search(  # type: ignore[override]
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict | None = None,
        namespace: Any = _UNSET,
        **kwargs: Any,
    ) -> list[Document]:
        self._check_ns(namespace, kwargs, "max_marginal_relevance_search")
        embedding = self._embedder.embed_query(query)
        return [d for d, _ in self._mmr_scored(embedding, k, fetch_k, lambda_mult, filter)]

    async def amax_marginal_relevance_search(  # type: ignore[override]
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict | None = None,
        namespace: Any = _UNSET,
        **kwargs: Any,
    ) -> list[Document]:
        self._check_ns(namespace, kwargs, "amax_marginal_relevance_search")
        embedding = await self._embedder.aembed_query(query)
        pairs = await run_in_io_thread(self._mmr_scored, embedding, k, fetch_k, lambda_mult, filter)
        return [d for d, _ in pairs]

    # -- retrievers ----------------------------------------------------------------------

    def as_retriever(self, **kwargs: Any) -> TenantVectorStoreRetriever:
        """A retriever pinned to this store's tenant.

        Same arguments as upstream (``search_type``, ``search_kwargs``). A
        ``namespace`` in ``search_kwargs`` other than the tenant's raises now,
        and so does one passed at call time. Each returned document carries
        its raw Pinecone score in ``metadata["score"]``.
        """
        tags = kwargs.pop("tags", None) or retriever_tags(self)
        return TenantVectorStoreRetriever(vectorstore=self, tags=tags, **kwargs)

    # -- construction classmethods ------------------------------------------------------------

    @classmethod
    def from_texts(  # type: ignore[override]
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        ids: list[str] | None = None,
        *,
        index: Any = None,
        tenant: str | TenantScope | None = None,
        isolation: Isolation = "namespace",
        text_key: str = "text",
        batch_size: int = 32,
        **kwargs: Any,
    ) -> TenantPineconeVectorStore:
        """Build a tenant store over ``index`` and add ``texts`` (``index=`` and ``tenant=`` required)."""
        if index is None or tenant is None:
            raise TypeError("from_texts on a tenant store needs index=... and tenant=...")
        store = cls(index, embedding, tenant, isolation=isolation, text_key=text_key)
        store.scope.check_namespace_kwarg(kwargs, where="from_texts")
        store.add_texts(texts, metadatas=metadatas, ids=ids, batch_size=batch_size)
        return store

    @classmethod
    async def afrom_texts(  # type: ignore[override]
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        ids: list[str] | None = None,
        *,
        index: Any = None,
        tenant: str | TenantScope | None = None,
        isolation: Isolation = "namespace",
        text_key: str = "text",
        batch_size: int = 32,
        **kwargs: Any,
    ) -> TenantPineconeVectorStore:
        if index is None or tenant is None:
            raise TypeError("afrom_texts on a tenant store needs index=... and tenant=...")
        store = cls(index, embedding, tenant, isolation=isolation, text_key=text_key)
        store.scope.check_namespace_kwarg(kwargs, where="afrom_texts")
        await store.aadd_texts(texts, metadatas=metadatas, ids=ids, batch_size=batch_size)
        return store

    @classmethod
    def from_existing_index(cls, *args: Any, **kwargs: Any) -> PineconeVectorStore:  # type: ignore[override]
        raise TypeError(
            "a tenant store is built from an index handle and a tenant: "
            "tenant_vector_store(index, tenant, embedding)."
        )

    @classmethod
    def get_pinecone_index(cls, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise TypeError(
            "a tenant store does not hand out unpinned index handles; use "
            "tenant_rag.connect() and ensure_index()."
        )

    # -- internals -----------------------------------------------------------------------------

    def _query(
        self,
        embedding: Sequence[float],
        k: int,
        filter: Mapping[str, Any] | None,
        *,
        include_values: bool,
    ) -> list[Record]:
        return self.pinned.query(
            vector=embedding, top_k=k, filter=filter, include_values=include_values
        )

    def _document(self, rec: Record) -> Document | None:
        metadata = rec.metadata  # a fresh dict per record (PinnedIndex copies it)
        if self._text_field not in metadata:
            logger.warning("Found document with no `%s` key. Skipping.", self._text_field)
            return None
        text = metadata.pop(self._text_field)
        return Document(id=rec.id, page_content=str(text), metadata=metadata)

    def _scored_docs(self, recs: Iterable[Record]) -> list[tuple[Document, float]]:
        out = []
        for rec in recs:
            doc = self._document(rec)
            if doc is not None:
                out.append((doc, float(rec.score or 0.0)))
        return out

    def _mmr_scored(
        self,
        embedding: Sequence[float],
        k: int,
        fetch_k: int,
        lambda_mult: float,
        filter: Mapping[str, Any] | None,
    ) -> list[tuple[Document, float]]:
        recs = [
            r
            for r in self._query(embedding, max(fetch_k, k), filter, include_values=True)
            if self._text_field in r.metadata
        ]
        if not recs:
            return []
        chosen = maximal_marginal_relevance(
            np.array([as_floats(embedding)], dtype=np.float32),
            [r.values for r in recs],
            k=k,
            lambda_mult=lambda_mult,
        )
        return self._scored_docs(recs[i] for i in chosen)

    def _search_scored(
        self, query: str, search_type: str, search_kwargs: Mapping[str, Any]
    ) -> list[tuple[Document, float]]:
        """One retriever call, sync: documents with raw scores (embedding included)."""
        return self._search_vector_scored(
            self._embedder.embed_query(query), search_type, search_kwargs
        )

    def _search_vector_scored(
        self, embedding: Sequence[float], search_type: str, search_kwargs: Mapping[str, Any]
    ) -> list[tuple[Document, float]]:
        kw = dict(search_kwargs)
        self.scope.check_namespace_kwarg(kw, where="retriever search_kwargs")
        k = int(kw.get("k", 4))
        flt = kw.get("filter")
        if search_type == "similarity":
            return self._scored_docs(self._query(embedding, k, flt, include_values=False))
        if search_type == "mmr":
            return self._mmr_scored(
                embedding,
                k,
                int(kw.get("fetch_k", 20)),
                float(kw.get("lambda_mult", 0.5)),
                flt,
            )
        if search_type == "similarity_score_threshold":
            threshold = kw.get("score_threshold")
            relevance = relevance_score_fn(self)
            pairs = self._scored_docs(self._query(embedding, k, flt, include_values=False))
            if threshold is None:
                return pairs
            return [(d, s) for d, s in pairs if relevance(s) >= float(threshold)]
        raise ValueError(f"search_type must be one of {SEARCH_TYPES}, got {search_type!r}.")


def check_configurable_namespace(scope: TenantScope, configurable: Mapping[str, Any]) -> None:
    """Refuse a foreign namespace in ``configurable`` or in its ``search_kwargs``.

    LangChain ignores configurable keys a runnable did not declare, so such a
    namespace would be silently dropped; we raise instead, because the caller
    clearly meant to reach somewhere else.
    """
    if "namespace" in configurable:
        scope.check_namespace_kwarg(
            {"namespace": configurable["namespace"]}, where="config['configurable']"
        )
    nested = configurable.get("search_kwargs")
    if isinstance(nested, Mapping) and "namespace" in nested:
        scope.check_namespace_kwarg(
            {"namespace": nested["namespace"]}, where="config['configurable']['search_kwargs']"
        )


def check_configurable_principal(principal: Reader, configurable: Mapping[str, Any]) -> None:
    """Refuse a config that asks for another principal than the one a retriever reads for.

    A retriever built for one principal never serves another; the config can
    name the same principal (a per-request retriever passes its config down),
    nothing else.
    """
    asked = reader_from_config(configurable, default=principal)
    if asked != principal:
        raise AccessControlError(
            f"config asks for principal {asked!r}, but this retriever reads for {principal!r}; "
            "use per_request_retriever() to choose the principal per call."
        )


def _with_scores(pairs: Iterable[tuple[Document, float]]) -> list[Document]:
    docs = []
    for doc, score in pairs:
        doc.metadata[SCORE_KEY] = score
        docs.append(doc)
    return docs


class TenantVectorStoreRetriever(VectorStoreRetriever):
    """``VectorStoreRetriever`` over a :class:`TenantPineconeVectorStore`, pinned and scored.

    * ``search_kwargs`` may not carry another tenant's namespace (checked
      when the retriever is built and again on every call, including
      ``invoke(..., namespace=...)`` and configurable fields).
    * Under metadata isolation, a filter naming the tenant field raises when
      the retriever is built.
    * ``config={"configurable": {"tenant_id": X}}`` with X other than the
      pinned tenant raises: a pinned retriever never serves another tenant.
    * Every document carries its raw Pinecone score in ``metadata["score"]``,
      for all three search types (for ``similarity_score_threshold`` the
      threshold applies to the relevance score, as in LangChain).
    """

    vectorstore: TenantPineconeVectorStore  # type: ignore[assignment]
    allowed_search_types: ClassVar[tuple[str, ...]] = SEARCH_TYPES  # type: ignore[misc]

    @model_validator(mode="after")
    def _check_pin(self) -> TenantVectorStoreRetriever:
        store = self.vectorstore
        if not isinstance(store, TenantPineconeVectorStore):
            raise TypeError("TenantVectorStoreRetriever needs a TenantPineconeVectorStore.")
        kw = dict(self.search_kwargs)
        store.scope.check_namespace_kwarg(kw, where="search_kwargs")
        self.search_kwargs = kw
        store.scope.pinned_filter(kw.get("filter"))
        view_for(store.principal, "tenant").join(kw.get("filter"))  # refuses a filter on acl
        return self

    @property
    def tenant(self) -> str:
        return self.vectorstore.tenant

    def _check_config(self, config: RunnableConfig | None) -> None:
        # No config: the surrounding runnable's, if any (what ensure_config() reads).
        cfg = config if config is not None else (var_child_runnable_config.get() or {})
        configurable = cfg.get("configurable") or {}
        if not configurable:
            return
        scope = self.vectorstore.scope
        other = configurable.get("tenant_id", scope.tenant)
        if other != scope.tenant:
            raise TenantIsolationError(
                f"config asks for tenant {other!r}, but this retriever is pinned to tenant "
                f"{scope.tenant!r}; use per_request_retriever() to choose the tenant per call."
            )
        check_configurable_namespace(scope, configurable)
        check_configurable_principal(self.vectorstore.principal, configurable)

    def invoke(
        self, input: str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Document]:
        self._check_config(config)
        return super().invoke(input, config, **kwargs)

    async def ainvoke(
        self, input: str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Document]:
        self._check_config(config)
        return await super().ainvoke(input, config, **kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        store = self.vectorstore
        kwargs_ = self.search_kwargs | kwargs
        return _with_scores(store._search_scored(query, self.search_type, kwargs_))

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        **kwargs: Any,
    ) -> list[Document]:
        store = self.vectorstore
        kwargs_ = self.search_kwargs | kwargs
        store.scope.check_namespace_kwarg(dict(kwargs_), where="retriever search_kwargs")
        embedding = await store.embeddings.aembed_query(query)  # type: ignore[union-attr]
        pairs = await run_in_io_thread(
            store._search_vector_scored, embedding, self.search_type, kwargs_
        )
        return _with_scores(pairs)


# -- factories -----------------------------------------------------------------------------------


def tenant_vector_store(
    index: Any,
    tenant: str | TenantScope,
    embedding: Embeddings,
    *,
    isolation: Isolation = "namespace",
    text_key: str = "text",
    principal: Reader = None,
    **kwargs: Any,
) -> TenantPineconeVectorStore:
    """A LangChain ``PineconeVectorStore`` pinned to ``tenant``, reading for ``principal``.

    No network call and no new connection: the store borrows ``index`` (one
    handle per index per process, see :func:`tenant_rag.ensure_index`).
    ``principal`` decides what its reads return inside the tenant
    (`tenant_rag.tenancy.acl`). Extra keyword arguments: ``shared_namespace``,
    ``distance_strategy``, ``index_name``, ``acl_policy``. A ``namespace``
    argument other than the tenant's raises.
    """
    return TenantPineconeVectorStore(
        index,
        embedding,
        tenant,
        isolation=isolation,
        text_key=text_key,
        principal=principal,
        **kwargs,
    )


def tenant_retriever(
    index: Any,
    tenant: str | TenantScope,
    embedding: Embeddings,
    *,
    k: int = 4,
    search_type: str = "similarity",
    filter: Mapping[str, Any] | None = None,
    isolation: Isolation = "namespace",
    text_key: str = "text",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    tenant_field: str = TENANT_FIELD,
    principal: Reader = None,
    acl_policy: AclPolicy | None = None,
    **search_kwargs: Any,
) -> TenantVectorStoreRetriever:
    """A LangChain retriever that can only ever see ``tenant``'s documents.

    ``search_type`` is ``"similarity"``, ``"mmr"`` (``fetch_k``,
    ``lambda_mult``) or ``"similarity_score_threshold"``
    (``score_threshold``, a float in [0, 1] on LangChain's relevance scale).
    ``filter`` is a Pinecone metadata filter; it is combined with the pin
    (``$and`` under metadata isolation) and can never widen it. A
    ``namespace`` in ``search_kwargs`` raises :class:`TenantIsolationError`.
    Each document has its raw score in ``metadata["score"]``.

    ``principal`` (``Principal(user="u1", groups=["eng"])``) restricts the
    retriever to the documents that user may read (`tenant_rag.tenancy.acl`):
    its condition is joined to every query with ``$and``, exactly like the
    tenant pin; a filter naming ``acl`` is refused. Without one it sees what
    everyone in the tenant may read; ``TENANT_ADMIN`` sees everything.
    """
    if search_type not in SEARCH_TYPES:
        raise ValueError(f"search_type must be one of {SEARCH_TYPES}, got {search_type!r}.")
    scope = (
        tenant
        if isinstance(tenant, TenantScope)
        else TenantScope(
            tenant, isolation, shared_namespace=shared_namespace, tenant_field=tenant_field
        )
    )
    scope.check_namespace_kwarg(search_kwargs, where="tenant_retriever search_kwargs")
    if "score_threshold" in search_kwargs and search_kwargs["score_threshold"] is not None:
        search_kwargs["score_threshold"] = float(search_kwargs["score_threshold"])
    kwargs: dict[str, Any] = {"k": int(k), **search_kwargs}
    principal = check_reader(principal)
    if filter:
        scope.pinned_filter(filter)  # refuse a widening filter now, not at the first query
        view_for(principal, "tenant").join(filter)  # and one that names the access list
        kwargs["filter"] = dict(filter)
    store = TenantPineconeVectorStore(
        index, embedding, scope, text_key=text_key, principal=principal, acl_policy=acl_policy
    )
    return store.as_retriever(search_type=search_type, search_kwargs=kwargs)


__all__ = [
    "TenantPineconeVectorStore",
    "TenantVectorStoreRetriever",
    "tenant_retriever",
    "tenant_vector_store",
]
