"""A LlamaIndex `IngestionPipeline` that writes to one tenant and deduplicates per tenant.

LlamaIndex deduplicates through a docstore that maps document ids to content
hashes. One docstore shared by tenants collides: tenant B's ``handbook.md``
looks "already ingested" because tenant A's has the same id. So each
pipeline gets a docstore of its own tenant, in memory or persisted under
``persist_dir/<quoted tenant>/``, and writes through a
:class:`TenantPineconeVectorStore` with ``DocstoreStrategy.UPSERTS``:
re-running writes nothing for unchanged documents, and a changed document's
old chunks are deleted (exactly that document's records, by the id scheme of
`tenant_rag.tenancy.records`) before the new ones are written.

Give documents stable ids (``Document(id_=...)``, or
``SimpleDirectoryReader(..., filename_as_id=True)``); a random id is a new
document on every run.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from hashlib import sha256
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import quote

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.ingestion.cache import DEFAULT_CACHE_NAME, IngestionCache
from llama_index.core.schema import BaseNode, TransformComponent
from llama_index.core.storage.docstore import BaseDocumentStore, SimpleDocumentStore
from llama_index.core.storage.storage_context import DOCSTORE_FNAME

from tenant_rag.errors import ConfigurationError, TenantIsolationError
from tenant_rag.llamaindex.resolve import resolve_embed_model
from tenant_rag.llamaindex.splitting import default_splitter
from tenant_rag.llamaindex.store import TenantPineconeVectorStore, tenant_vector_store
from tenant_rag.tenancy.acl import TENANT_ADMIN
from tenant_rag.tenancy.scope import Isolation, TenantScope

_logger = logging.getLogger(__name__)

MARKER_FNAME = "tenant.json"
_MAX_DIRNAME = 200
#: Attribute set on a docstore once a pipeline has claimed it for a tenant.
_CLAIM_ATTR = "_tenant_rag_tenant"

DocstoreArg = BaseDocumentStore | Callable[[str], BaseDocumentStore] | None


def tenant_dirname(tenant: str) -> str:
    """A directory name for a tenant: ``quote(tenant, safe="")``, never ``.``/``..``.

    Very long ids keep a readable head and a hash, within filename limits.
    """
    name = quote(tenant, safe="")
    if set(name) == {"."}:
        name = name.replace(".", "%2E")
    if len(name) > _MAX_DIRNAME:
        name = f"{name[:150]}-{sha256(tenant.encode()).hexdigest()[:32]}"
    return name


class TenantIngestionPipeline(IngestionPipeline):
    """An `IngestionPipeline` bound to one tenant's store and docstore.

    Build it with :func:`tenant_ingestion_pipeline`. ``vector_store`` cannot be
    replaced by another tenant's store, and the docstore is claimed for this
    tenant (a docstore already claimed by another tenant is refused). When a
    ``persist_dir`` was given, the docstore is written atomically after every
    ``run``/``arun`` and ``persist()``/``load()`` default to the tenant's directory.
    """

    _tenant_dir: Path | None = PrivateAttr(default=None)

    def __init__(self, *, tenant_dir: Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tenant_dir = tenant_dir

    @property
    def tenant(self) -> str:
        return self._store().tenant

    @property
    def tenant_dir(self) -> Path | None:
        """Where this tenant's docstore is persisted (None: in memory only)."""
        return self._tenant_dir

    def __setattr__(self, name: str, value: Any) -> None:
        # Pydantic sets fields directly during __init__; later assignments land
        # here, and must not point the pipeline at another tenant.
        current = self.__dict__.get("vector_store")
        if isinstance(current, TenantPineconeVectorStore):
            if name == "vector_store" and not (
                isinstance(value, TenantPineconeVectorStore)
                and value.scope.tenant == current.scope.tenant
                and value.scope.namespace == current.scope.namespace
            ):
                raise TenantIsolationError(
                    f"this pipeline writes to tenant {current.tenant!r}; its vector store can "
                    "only be replaced by a store pinned to the same tenant."
                )
            if name == "docstore" and value is not None:
                _claim(value, current.tenant)
        super().__setattr__(name, value)

    def _store(self) -> TenantPineconeVectorStore:
        store = self.vector_store
        assert isinstance(store, TenantPineconeVectorStore)
        return store

    def run(self, *args: Any, **kwargs: Any) -> Sequence[BaseNode]:
        """`IngestionPipeline.run`, with ``store_doc_text=False`` unless asked otherwise.

        Deduplication needs only ids and hashes; a second copy of every
        document's text in a local file would outlive offboarding.
        """
        kwargs.setdefault("store_doc_text", False)
        nodes = super().run(*args, **kwargs)
        self._autosave()
        return nodes

    async def arun(self, *args: Any, **kwargs: Any) -> Sequence[BaseNode]:
        """`IngestionPipeline.arun`; the store's writes run in worker threads."""
        kwargs.setdefault("store_doc_text", False)
        nodes = await super().arun(*args, **kwargs)
        self._autosave()
        return nodes

    def delete_document(self, doc_id: str) -> None:
        """Delete one document's records (exactly, see `tenant_rag.tenancy.records`) and forget it.

        The next run that includes the document ingests it again.
        """
        self._store().delete(doc_id)
        if self.docstore is not None:
            self.docstore.delete_ref_doc(doc_id, raise_error=False)
            self.docstore.delete_document(doc_id, raise_error=False)
        self._autosave()

    def reset(self) -> None:
        """Delete every record of the tenant and forget every document.

        For a changed splitter or embedding model: the docstore knows
        documents, not settings, so without a reset unchanged documents would
        keep their old chunks and vectors.
        """
        self._store().clear()
        if self.docstore is not None:
            for doc_id in set(self.docstore.get_all_document_hashes().values()):
                self.docstore.delete_ref_doc(doc_id, raise_error=False)
                self.docstore.delete_document(doc_id, raise_error=False)
        self._autosave()

    def _autosave(self) -> None:
        # Only our own file-backed docstore; a KV-backed one (Redis, ...) persists itself.
        if self.tenant_dir is not None and isinstance(self.docstore, SimpleDocumentStore):
            _save_docstore(self.docstore, self.tenant_dir / DOCSTORE_FNAME)

    def persist(
        self,
        persist_dir: str | os.PathLike[str] | None = None,
        fs: Any = None,
        cache_name: str = DEFAULT_CACHE_NAME,
        docstore_name: str = DOCSTORE_FNAME,
    ) -> None:
        """Persist the docstore and cache under ``persist_dir/<quoted tenant>/``.

        ``persist_dir`` is the root shared by all tenants (default: the one
        the pipeline was built with); the tenant's directory is appended here,
        so two tenants can never write one file.
        """
        if fs is not None:
            raise ConfigurationError("fsspec filesystems are not supported for tenant pipelines.")
        target = self._dir_for(persist_dir)
        self.cache.persist(str(target / cache_name))
        if isinstance(self.docstore, SimpleDocumentStore):
            _save_docstore(self.docstore, target / docstore_name)

    def load(
        self,
        persist_dir: str | os.PathLike[str] | None = None,
        fs: Any = None,
        cache_name: str = DEFAULT_CACHE_NAME,
        docstore_name: str = DOCSTORE_FNAME,
    ) -> None:
        """Load this tenant's docstore and cache from ``persist_dir/<quoted tenant>/``."""
        if fs is not None:
            raise ConfigurationError("fsspec filesystems are not supported for tenant pipelines.")
        target = self._dir_for(persist_dir)
        if (target / cache_name).exists():
            self.cache = IngestionCache.from_persist_path(str(target / cache_name))
        if (target / docstore_name).exists():
            self.docstore = SimpleDocumentStore.from_persist_path(str(target / docstore_name))

    def _dir_for(self, persist_dir: str | os.PathLike[str] | None) -> Path:
        if persist_dir is None:
            if self.tenant_dir is None:
                raise ConfigurationError(
                    "this pipeline was built without persist_dir; pass persist_dir= (the "
                    "root shared by all tenants)."
                )
            return self.tenant_dir
        return _prepare_tenant_dir(Path(persist_dir), self._store())


def tenant_ingestion_pipeline(
    index: Any,
    tenant: str | TenantScope,
    *,
    embed_model: Any = None,
    transformations: list[TransformComponent] | None = None,
    docstore: DocstoreArg = None,
    persist_dir: str | os.PathLike[str] | None = None,
    isolation: Isolation = "namespace",
    docstore_strategy: DocstoreStrategy = DocstoreStrategy.UPSERTS,
    **store_kwargs: Any,
) -> TenantIngestionPipeline:
    """An ingestion pipeline that chunks, embeds and upserts into ``tenant``'s store.

    Args:
        index: the data-plane handle from ``ensure_index(...)``.
        tenant: the tenant id (or a :class:`TenantScope`).
        embed_model: LlamaIndex or LangChain embedding model; default
            ``tenant_rag.models.llamaindex.default_embed_model()``. Never
            LlamaIndex's global ``Settings``.
        transformations: default ``[default_splitter(), embed_model]`` (a
            ``SentenceSplitter`` with ``{doc_id}#{n}`` chunk ids and no NLTK).
            If none of the given transformations embeds, the embed model is
            appended (nodes without embeddings would otherwise be dropped
            silently and still be recorded as ingested).
        docstore: ``None`` (a fresh ``SimpleDocumentStore`` for this tenant,
            loaded from ``persist_dir`` when one was saved there), a docstore
            dedicated to this tenant, or a factory ``f(tenant) ->
            BaseDocumentStore`` (e.g. a Redis docstore with a per-tenant
            namespace).
        persist_dir: root directory for persisted docstores; this tenant's is
            ``persist_dir/<quoted tenant>/docstore.json``, saved after each run.
            Use one root per index: the directory records which index and
            isolation it describes, and another one is refused.
        isolation: ``"namespace"`` or ``"metadata"``.
        docstore_strategy: ``UPSERTS`` (default) or ``UPSERTS_AND_DELETE``
            (also deletes documents missing from a run's input).
        **store_kwargs: passed to :func:`tenant_vector_store`.

    The docstore knows documents, not settings: after changing the splitter or
    the embedding model, call ``pipeline.reset()`` (deletes the tenant's
    records and forgets its documents), or unchanged documents are skipped.

    The transformation cache is off: LlamaIndex keys it by content alone, so a
    document whose text equals an earlier one's would get that document's
    chunks (ids included). Unchanged documents are skipped by the docstore
    before any transformation runs, so the cache would save little anyway.
    """
    if docstore_strategy not in (DocstoreStrategy.UPSERTS, DocstoreStrategy.UPSERTS_AND_DELETE):
        raise ConfigurationError(
            f"docstore_strategy={docstore_strategy!r} cannot replace changed documents; use "
            "DocstoreStrategy.UPSERTS or UPSERTS_AND_DELETE."
        )
    store = tenant_vector_store(index, tenant, isolation=isolation, **store_kwargs)
    if transformations is None:
        steps: list[TransformComponent] = [default_splitter(), resolve_embed_model(embed_model)]
    else:
        steps = list(transformations)
        if not any(isinstance(t, BaseEmbedding) for t in steps):
            steps.append(resolve_embed_model(embed_model))

    tenant_dir = _prepare_tenant_dir(Path(persist_dir), store) if persist_dir is not None else None
    store_for_tenant = _docstore_for(docstore, store, tenant_dir)
    return TenantIngestionPipeline(
        name=f"tenant-{tenant_dirname(store.tenant)}",
        transformations=steps,
        vector_store=store,
        docstore=store_for_tenant,
        docstore_strategy=docstore_strategy,
        disable_cache=True,
        tenant_dir=tenant_dir,
    )


def _docstore_for(
    docstore: DocstoreArg, store: TenantPineconeVectorStore, tenant_dir: Path | None
) -> BaseDocumentStore:
    tenant = store.tenant
    if docstore is None:
        path = tenant_dir / DOCSTORE_FNAME if tenant_dir is not None else None
        if path is not None and path.exists():
            loaded = SimpleDocumentStore.from_persist_path(str(path))
            if loaded.get_all_document_hashes() and not _has_records(store):
                # The index lost the tenant's records (offboarded, index
                # recreated): trusting the docstore would skip every document
                # forever. Start over; the next run re-ingests everything.
                _logger.warning(
                    "docstore at %s lists documents but tenant %r has no records in the "
                    "index; starting with an empty docstore",
                    path,
                    tenant,
                )
                loaded = SimpleDocumentStore()
            result: BaseDocumentStore = loaded
        else:
            result = SimpleDocumentStore()
    elif isinstance(docstore, BaseDocumentStore):
        result = docstore
    elif callable(docstore):
        result = docstore(tenant)
        if not isinstance(result, BaseDocumentStore):
            raise ConfigurationError(
                f"the docstore factory returned {type(result).__name__}, not a BaseDocumentStore."
            )
    else:
        raise ConfigurationError(
            "docstore must be None, a BaseDocumentStore dedicated to this tenant, or a "
            f"factory f(tenant) -> BaseDocumentStore; got {type(docstore).__name__}."
        )
    _claim(result, tenant)
    return result


def _claim(docstore: BaseDocumentStore, tenant: str) -> None:
    """Mark a docstore as this tenant's; one already claimed by another tenant is refused."""
    owner = getattr(docstore, _CLAIM_ATTR, None)
    if owner is not None and owner != tenant:
        raise TenantIsolationError(
            f"this docstore already deduplicates tenant {owner!r}'s documents; sharing it with "
            f"tenant {tenant!r} would make their document ids collide. Give each tenant its "
            "own docstore (or pass a factory f(tenant) -> docstore)."
        )
    try:
        setattr(docstore, _CLAIM_ATTR, tenant)
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - exotic docstores
        _logger.debug("cannot mark docstore %r with its tenant", docstore)


def _has_records(store: TenantPineconeVectorStore) -> bool:
    """Whether the tenant has at least one record (one list call, one page of one id)."""
    admin = store.pinned.with_principal(TENANT_ADMIN)
    return any(True for _ in islice(admin.list_ids(limit=1), 1))


def _prepare_tenant_dir(root: Path, store: TenantPineconeVectorStore) -> Path:
    """Create ``root/<quoted tenant>/`` and check it describes this tenant, index and isolation."""
    target = root / tenant_dirname(store.tenant)
    target.mkdir(parents=True, exist_ok=True)
    marker = {
        "tenant": store.tenant,
        "index": store.pinned.index_name,
        "isolation": store.scope.isolation,
        "namespace": store.scope.namespace,
    }
    path = target / MARKER_FNAME
    if path.exists():
        found = json.loads(path.read_text(encoding="utf-8"))
        if found.get("tenant") != store.tenant:
            raise TenantIsolationError(
                f"{target} holds tenant {found.get('tenant')!r}'s docstore, not "
                f"{store.tenant!r}'s (a case-insensitive filesystem?). Use another persist_dir."
            )
        if found != marker:
            raise ConfigurationError(
                f"{target} describes {found}, but this pipeline writes to {marker}. A docstore "
                "records what one index holds; use one persist_dir per index and isolation."
            )
    else:
        _write_atomic(path, json.dumps(marker, indent=2).encode())
    return target


def _save_docstore(docstore: BaseDocumentStore, path: Path) -> None:
    """Persist a docstore via a temporary file and a rename, so a crash never truncates it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".docstore-", suffix=".json")
    os.close(fd)
    try:
        docstore.persist(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
