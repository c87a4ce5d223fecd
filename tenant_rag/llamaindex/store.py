"""LlamaIndex's `PineconeVectorStore`, pinned to one tenant.

`TenantPineconeVectorStore` subclasses the real
``llama_index.vector_stores.pinecone.PineconeVectorStore`` (so LlamaIndex's
indexes, retrievers and ingestion pipelines accept it unchanged) but sends
every request through :class:`~tenant_rag.tenancy.pinned.PinnedIndex`. That
gives it the same fail-closed rules as every other pinned object: the
namespace is the tenant's, metadata isolation forces ``tenant_id`` into
metadata and every filter, results of another tenant are refused, and usage
is reported to `tenant_rag.tenancy.usage`.

It also fixes the upstream store's faults (llama-index-vector-stores-pinecone 0.9.0):

* Record ids follow the one scheme of `tenant_rag.tenancy.records`, shared with
  `tenant_rag.ingestion` and the LangChain store: ``{base}#{key}``, where
  ``base`` is the document id (percent-encoded where Pinecone needs ASCII) and
  the key (the chunk number, or the node id) never holds ``#``. So
  ``delete(ref_doc_id)`` deletes exactly that document's records. Upstream
  lists the prefix ``ref_doc_id`` without the ``#``, so deleting ``doc1`` also
  deleted ``doc10#...``; and a prefix with the ``#`` still took the records of
  ``https://acme.test/page#faq`` when deleting ``https://acme.test/page``.
* ``query`` sends no filter when there is none (upstream always sends ``{}``),
  honours ``VectorStoreQuery.doc_ids``, and reads the index dimension from the
  handle ``ensure_index`` returned instead of an unpinned
  ``describe_index_stats()`` call.
* ``add`` sizes upserts by bytes as well as by count, checks Pinecone's 40 KB
  metadata limit before writing anything, and removes what it wrote if a later
  batch fails, so a document never keeps half its chunks.
* The async methods really are asynchronous: each runs the blocking SDK call
  in the default thread executor (``asyncio.to_thread``), so the event loop
  keeps serving other requests. Upstream's are the synchronous calls in disguise.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.vector_stores.types import (
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import (
    legacy_metadata_dict_to_node,
    metadata_dict_to_node,
    node_to_metadata_dict,
)
from llama_index.vector_stores.pinecone import PineconeVectorStore

from tenant_rag._compat.llamaindex import sparse_embedding_model, to_pinecone_filter
from tenant_rag.connection import index_shape
from tenant_rag.errors import IngestError, TenantIsolationError
from tenant_rag.tenancy.acl import ACL_FIELD, AclPolicy, Reader, store_acl_field
from tenant_rag.tenancy.batching import batches
from tenant_rag.tenancy.guard import NamespaceGuardedIndex
from tenant_rag.tenancy.limits import (
    MAX_ID_LENGTH,
    MAX_METADATA_BYTES,
    MAX_TOP_K,
    MAX_UPSERT_RECORDS,
)
from tenant_rag.tenancy.pinned import PinnedIndex, Record, as_floats
from tenant_rag.tenancy.records import node_record_id
from tenant_rag.tenancy.retry import READ_WRITE_RETRY
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation, TenantScope

_logger = logging.getLogger(__name__)

_NO_ACL = object()
#: Records per upsert request (upstream's default; Pinecone allows 1,000).
DEFAULT_BATCH_SIZE = 100


class TenantPineconeVectorStore(PineconeVectorStore):
    """A LlamaIndex Pinecone store that can reach one tenant only.

    Build it with :func:`tenant_vector_store`. The ``namespace`` field always
    equals the tenant's namespace and cannot be reassigned; ``client`` is the
    :class:`PinnedIndex`, never the raw SDK handle, so nothing reachable from
    the store is unpinned.

    Reads (``query``, ``get_nodes``, and so every retriever, query engine and
    chat engine over the store) are made for its ``principal``
    (`tenant_rag.tenancy.acl`): the principal's access condition is joined
    to every filter with ``$and`` and each node is checked on the way out.
    A node's ``metadata["acl"]`` (a list of strings) becomes its chunk's
    access list, checked before anything is written.
    """

    _pinned: PinnedIndex = PrivateAttr()
    _dimension: int | None = PrivateAttr(default=None)

    def __init__(
        self,
        pinecone_index: Any,
        tenant: str | TenantScope,
        *,
        isolation: Isolation = "namespace",
        shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
        dimension: int | None = None,
        principal: Reader = None,
        acl_policy: AclPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        scope = (
            tenant
            if isinstance(tenant, TenantScope)
            else TenantScope(tenant, isolation, shared_namespace=shared_namespace)
        )
        if pinecone_index is None or isinstance(pinecone_index, str | PinnedIndex):
            raise TypeError(
                "pinecone_index must be the SDK's data-plane handle, e.g. "
                "ensure_index(pc, 'rag', dimension=384); got "
                f"{type(pinecone_index).__name__}."
            )
        kwargs = dict(kwargs)
        scope.check_namespace_kwarg(kwargs, where="tenant_vector_store(...)")
        insert_kwargs = dict(kwargs.pop("insert_kwargs", None) or {})
        scope.check_namespace_kwarg(insert_kwargs, where="insert_kwargs")
        if insert_kwargs:
            raise TypeError(
                f"insert_kwargs {sorted(insert_kwargs)} are not supported: upserts go through "
                "the tenant's PinnedIndex, which sets the namespace and batching itself."
            )
        for key in ("api_key", "index_name", "environment"):
            if kwargs.get(key) is not None:
                raise TypeError(
                    f"{key}= is not accepted: pass the data-plane handle from ensure_index() "
                    "so the store never builds an unpinned client of its own."
                )
        # Upstream keeps the handle for its own methods; it gets a namespace-guarded one, so
        # one we do not override (a future upstream addition, say) cannot leave the pin.
        guarded = NamespaceGuardedIndex(pinecone_index, scope.namespace, scope.tenant)
        super().__init__(pinecone_index=guarded, namespace=scope.namespace, **kwargs)
        self._pinned = PinnedIndex(
            pinecone_index,
            scope,
            retry=READ_WRITE_RETRY,
            principal=principal,
            acl_policy=acl_policy,
        )
        self._dimension = dimension or _handle_dimension(pinecone_index)

    def __setattr__(self, name: str, value: Any) -> None:
        # The namespace field exists for LlamaIndex's sake; changing it would
        # not reroute requests (they go through the PinnedIndex), but it would
        # mislead anyone reading it, so a change is refused outright.
        pinned = getattr(self, "_pinned", None) if name == "namespace" else None
        if pinned is not None and value != pinned.namespace:
            raise TenantIsolationError(
                f"namespace cannot be changed to {value!r}: this store is pinned to tenant "
                f"{pinned.tenant!r}. Build another store with tenant_vector_store(...)."
            )
        super().__setattr__(name, value)

    @classmethod
    def class_name(cls) -> str:
        return "TenantPineconeVectorStore"

    @classmethod
    def from_params(cls, *args: Any, **kwargs: Any) -> PineconeVectorStore:
        """Refused: upstream's builds an unpinned client from an API key."""
        raise TypeError(
            "a tenant store is built from an index handle and a tenant: "
            "tenant_vector_store(ensure_index(pc, 'rag', dimension=...), tenant)."
        )

    # -- identity ----------------------------------------------------------------

    @property
    def client(self) -> PinnedIndex:
        """The tenant's :class:`PinnedIndex` (never the unpinned SDK handle)."""
        return self._pinned

    @property
    def pinned(self) -> PinnedIndex:
        return self._pinned

    @property
    def scope(self) -> TenantScope:
        return self._pinned.scope

    @property
    def tenant(self) -> str:
        return self._pinned.tenant

    @property
    def principal(self) -> Reader:
        """Who this store's reads are for (`tenant_rag.tenancy.acl`)."""
        return self._pinned.principal

    # -- writes ------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert nodes (with embeddings) into the tenant's namespace; return their ids.

        Ids follow `tenant_rag.tenancy.records`: ``"{base}#{key}"`` with the
        document's base and, as key, the chunk number of a node id
        ``"{ref_doc_id}#{n}"`` (the default splitter's) or else the node id with
        ``#`` escaped. For ASCII document ids without ``%`` that is upstream's
        ``"{ref_doc_id}#{node_id}"``. Nothing is written if any node's metadata is over
        Pinecone's 40 KB limit; if a batch fails, the batches already written
        by this call are deleted again before the error propagates.
        """
        self.scope.check_namespace_kwarg(add_kwargs, where="add")
        if add_kwargs:
            raise TypeError(f"unexpected add() arguments: {sorted(add_kwargs)}.")
        records = [self._record_for(node) for node in nodes]
        if self.add_sparse_vector and sparse_embedding_model(self) is not None and nodes:
            texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
            sparse = sparse_embedding_model(self).get_text_embedding_batch(texts)
            for rec, vec in zip(records, sparse, strict=True):
                rec.sparse_values = {"indices": list(vec.keys()), "values": list(vec.values())}
        written: list[str] = []
        try:
            for batch in batches(
                ((r.id, r.as_upsert()) for r in records),
                max_records=min(self.batch_size or DEFAULT_BATCH_SIZE, MAX_UPSERT_RECORDS),
            ):
                self._pinned.upsert(batch.records)
                written.extend(batch.owners)
        except Exception:
            if written:
                _logger.warning(
                    "upsert failed after %d of %d records for tenant %r; removing them",
                    len(written),
                    len(records),
                    self.tenant,
                )
                try:
                    self._pinned.delete(written)
                except Exception:  # noqa: BLE001 - the original error matters more
                    _logger.exception("could not remove the partially written records")
            raise
        return [r.id for r in records]

    def _record_for(self, node: BaseNode) -> Record:
        # An access list is a list of strings, which LlamaIndex's flat-metadata check
        # refuses; it is taken out for the node's serialisation and stored beside it.
        acl = node.metadata.pop(ACL_FIELD, _NO_ACL)
        try:
            metadata = node_to_metadata_dict(
                node, remove_text=self.remove_text_from_metadata, flat_metadata=self.flat_metadata
            )
        finally:
            if acl is not _NO_ACL:
                node.metadata[ACL_FIELD] = acl
        if acl is not _NO_ACL and acl is not None:
            metadata[ACL_FIELD] = store_acl_field({ACL_FIELD: acl}).get(ACL_FIELD)
        ref = node.ref_doc_id
        node_id = node.node_id if ref is None else node_record_id(ref, node.node_id)
        stored_id = self.scope.stored_id(node_id)
        if not stored_id.isascii() or len(stored_id) > MAX_ID_LENGTH or "\x00" in stored_id:
            raise IngestError(
                f"node {node_id!r} of document {ref!r} cannot be stored: Pinecone record ids "
                f"are ASCII without NUL, at most {MAX_ID_LENGTH} characters (here "
                f"{len(stored_id)}). Give the node a source document (its ref_doc_id), whose "
                "id is escaped as needed, or a shorter id."
            )
        size = len(json.dumps(self.scope.stored_metadata(metadata), ensure_ascii=False).encode())
        if size > MAX_METADATA_BYTES:
            raise IngestError(
                f"node {node_id!r} of document {ref!r} has {size} bytes of metadata, over "
                f"Pinecone's {MAX_METADATA_BYTES} byte limit. Use smaller chunks, fewer "
                "metadata keys, or remove_text_from_metadata=True."
            )
        embedding = node.embedding
        if embedding is None:
            raise ValueError(
                f"node {node_id!r} has no embedding; run an embedding model before add() "
                "(tenant_ingestion_pipeline does this for you)."
            )
        return Record(id=node_id, values=as_floats(embedding), metadata=metadata)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete the tenant's records of one document, exactly (`tenant_rag.tenancy.records`).

        The document's id prefix is listed (every serverless index can) and
        only the ids of this document are kept: ``doc1`` never takes
        ``doc10#0``, ``https://acme.test/page`` never takes
        ``https://acme.test/page#faq#0``. Every writer in this project (this
        store, `tenant_rag.ingestion`, the LangChain store) uses that scheme;
        records this store wrote before it (``{ref_doc_id}#{node_id}`` as
        given) are found too. Upstream's first attempt, a delete by ``doc_id``
        filter, is not used: in a shared namespace it matches every tenant's
        document of that id, and any error from it (a server without filtered
        deletes, say) fell through to its over-deleting prefix.
        """
        self.scope.check_namespace_kwarg(delete_kwargs, where="delete")
        if delete_kwargs:
            raise TypeError(f"unexpected delete() arguments: {sorted(delete_kwargs)}.")
        if not isinstance(ref_doc_id, str) or not ref_doc_id:
            raise ValueError(f"ref_doc_id must be a non-empty string, got {ref_doc_id!r}.")
        self._pinned.delete_document(ref_doc_id)

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete the tenant's records by stored node id or by filter (pin applied)."""
        self.scope.check_namespace_kwarg(delete_kwargs, where="delete_nodes")
        if delete_kwargs:
            raise TypeError(f"unexpected delete_nodes() arguments: {sorted(delete_kwargs)}.")
        if node_ids and filters is not None:
            raise ValueError("node_ids and filters cannot be combined; pass one of them.")
        if filters is not None:
            user = to_pinecone_filter(filters)
            if not user:
                raise ValueError("an empty filter would delete everything; use clear().")
            self._pinned.delete_by_filter(user)
        elif node_ids:
            self._pinned.delete(list(node_ids))

    def clear(self) -> None:
        """Delete every record of this tenant, and nothing else."""
        self._pinned.delete_all()

    # -- reads -------------------------------------------------------------------

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Top-k nodes of this tenant; LlamaIndex filters are ANDed with the pin.

        ``kwargs`` may carry ``filter``/``pinecone_query_filters`` (a raw
        Pinecone filter, pinned the same way) and ``include_values`` (default
        False: the query engines never need the stored vectors back).
        """
        self.scope.check_namespace_kwarg(kwargs, where="query")
        user_filter = self._user_filter(query, kwargs)
        include_values = bool(kwargs.pop("include_values", False))
        kwargs.pop("include_metadata", None)  # nodes are rebuilt from metadata: always on
        if kwargs:
            raise TypeError(f"unexpected query() arguments: {sorted(kwargs)}.")

        if query.node_ids:
            # Pinecone cannot filter on record ids; ignoring the restriction
            # would silently return more than the caller asked for.
            raise ValueError(
                "VectorStoreQuery.node_ids is not supported by the Pinecone store; restrict "
                "by doc_ids or metadata filters instead."
            )
        sparse_vector = self._sparse_query(query)
        vector: list[float]
        if query.mode == VectorStoreQueryMode.SPARSE and sparse_vector is not None:
            vector = [0.0] * self._index_dimension()
        elif query.query_embedding is not None:
            # Any dense mode (default, hybrid, and modes Pinecone does not
            # implement such as MMR) searches by the embedding; upstream sent
            # a zero vector for the latter.
            vector = list(query.query_embedding)
            if query.alpha is not None and query.mode in (
                VectorStoreQueryMode.DEFAULT,
                VectorStoreQueryMode.HYBRID,
            ):
                vector = [v * query.alpha for v in vector]
        else:
            raise ValueError(
                "query needs a query_embedding (or a sparse query in SPARSE/HYBRID mode); "
                "build the retriever from tenant_index(...) so the embed model is set."
            )
        records = self._pinned.query(
            vector=vector,
            top_k=min(int(query.similarity_top_k), MAX_TOP_K),
            filter=user_filter,
            include_values=include_values,
            sparse_vector=sparse_vector,
        )
        nodes = [self._node_of(rec, include_values) for rec in records]
        return VectorStoreQueryResult(
            nodes=nodes,
            similarities=[float(r.score or 0.0) for r in records],
            ids=[r.id for r in records],
        )

    def get_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | list[MetadataFilters] | None = None,  # type: ignore[override]
        limit: int = 100,
        include_values: bool = False,
    ) -> list[BaseNode]:
        """Up to ``limit`` of the tenant's nodes matching ``filters`` (pin applied).

        A list of ``MetadataFilters`` (upstream's annotation) is ANDed.
        """
        if node_ids is not None:
            raise ValueError("getting nodes by node id is not supported by Pinecone; use filters.")
        if filters is None:
            raise ValueError("filters must be specified.")
        if isinstance(filters, list):
            filters = MetadataFilters(filters=list(filters))
        user = to_pinecone_filter(filters) or None
        # Any vector will do: the filter selects, the vector only orders. A unit
        # vector (not zeros) keeps cosine indexes happy.
        probe = [0.0] * self._index_dimension()
        probe[0] = 1.0
        records = self._pinned.query(
            vector=probe,
            top_k=min(int(limit), MAX_TOP_K),
            filter=user,
            include_values=include_values,
        )
        return [self._node_of(rec, include_values) for rec in records]

    def _user_filter(self, query: VectorStoreQuery, kwargs: dict[str, Any]) -> dict | None:
        if query.filters is not None:
            if "filter" in kwargs or "pinecone_query_filters" in kwargs:
                raise ValueError(
                    "pass filters either as VectorStoreQuery.filters or as filter=, not both."
                )
            user: dict | None = to_pinecone_filter(query.filters) or None
        else:
            raw = kwargs.pop("pinecone_query_filters", None) or kwargs.pop("filter", None)
            if raw is not None and not isinstance(raw, Mapping):
                raise TypeError(f"filter must be a dict, got {type(raw).__name__}.")
            user = dict(raw) if raw else None
        kwargs.pop("filter", None)
        kwargs.pop("pinecone_query_filters", None)
        if query.doc_ids:
            by_doc = {"doc_id": {"$in": list(query.doc_ids)}}
            user = {"$and": [user, by_doc]} if user else by_doc
        return user

    def _sparse_query(self, query: VectorStoreQuery) -> dict[str, Any] | None:
        if (
            query.mode not in (VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.HYBRID)
            or sparse_embedding_model(self) is None
        ):
            return None
        if query.query_str is None:
            raise ValueError("query_str must be specified if mode is SPARSE or HYBRID.")
        sparse = sparse_embedding_model(self).get_query_embedding(query.query_str)
        scale = 1.0 if query.alpha is None else 1.0 - query.alpha
        return {"indices": list(sparse.keys()), "values": [v * scale for v in sparse.values()]}

    def _index_dimension(self) -> int:
        if self._dimension is None:
            # Only for handles not built by ensure_index(); the dimension is
            # index-wide, so this unpinned stats call reveals nothing to the caller.
            stats = self._pinned.index.describe_index_stats()
            self._dimension = int(stats["dimension"])
        return self._dimension

    def _node_of(self, rec: Record, include_values: bool) -> BaseNode:
        node: BaseNode
        try:
            node = metadata_dict_to_node(rec.metadata)
        except Exception:  # noqa: BLE001 - records written by older LlamaIndex versions
            metadata, node_info, relationships = legacy_metadata_dict_to_node(
                rec.metadata, text_key=self.text_key
            )
            node = TextNode(
                text=str(rec.metadata.get(self.text_key, "")),
                id_=rec.id,
                metadata=metadata,
                start_char_idx=node_info.get("start", None),
                end_char_idx=node_info.get("end", None),
                relationships=relationships,
            )
        if include_values and rec.values:
            node.embedding = list(rec.values)
        return node

    # -- async: the blocking SDK call runs in the default thread executor ----------

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """:meth:`add` in a worker thread, so the event loop is not blocked."""
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """:meth:`delete` in a worker thread."""
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """:meth:`delete_nodes` in a worker thread."""
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    async def aclear(self) -> None:
        """:meth:`clear` in a worker thread."""
        await asyncio.to_thread(self.clear)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """:meth:`query` in a worker thread."""
        return await asyncio.to_thread(self.query, query, **kwargs)

    async def aget_nodes(  # type: ignore[override]
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | list[MetadataFilters] | None = None,
        limit: int = 100,
        include_values: bool = False,
    ) -> list[BaseNode]:
        """:meth:`get_nodes` in a worker thread."""
        return await asyncio.to_thread(self.get_nodes, node_ids, filters, limit, include_values)


def _handle_dimension(index: Any) -> int | None:
    """The dimension ``ensure_index`` recorded on the handle it returned, if any."""
    shape = index_shape(index)
    return shape[0] if shape else None


def tenant_vector_store(
    index: Any,
    tenant: str | TenantScope,
    *,
    isolation: Isolation = "namespace",
    principal: Reader = None,
    **kwargs: Any,
) -> TenantPineconeVectorStore:
    """A LlamaIndex Pinecone vector store pinned to ``tenant``.

    Args:
        index: the data-plane handle from ``ensure_index(pc, name, dimension=...)``
            (REST ``Index`` or gRPC ``GRPCIndex``).
        tenant: the tenant id (validated here; ``None``, ``""`` and
            ``"__default__"`` are refused) or a ready :class:`TenantScope`.
        principal: who the reads are for: a ``Principal(user=..., groups=[...])``,
            ``TENANT_ADMIN`` (everything), or ``None`` (what everyone in the
            tenant may read). Its access-list condition is joined to every
            query with ``$and``; a filter naming ``acl`` is refused.
        isolation: ``"namespace"`` (one namespace per tenant) or ``"metadata"``
            (a shared namespace, ``tenant_id`` in metadata and every filter).
        **kwargs: upstream options (``text_key``, ``batch_size``,
            ``remove_text_from_metadata``, ``add_sparse_vector``, ...) plus
            ``shared_namespace``, ``dimension`` and ``acl_policy``. ``namespace=`` is refused
            unless it equals the tenant's own.

    Raises:
        InvalidTenantError: the tenant id breaks a rule.
        TenantIsolationError: another namespace was asked for.
    """
    return TenantPineconeVectorStore(
        index, tenant, isolation=isolation, principal=principal, **kwargs
    )
