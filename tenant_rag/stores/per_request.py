"""One retriever for every tenant, the tenant chosen per call from the config.

A chatbot backend serves all tenants through one chain object. LangChain's
own how-to does this with a ``ConfigurableField`` over ``search_kwargs``; if a
request forgets its config, that retriever silently queries the default
namespace. :class:`PerRequestTenantRetriever` reads the tenant from
``config={"configurable": {"tenant_id": "acme"}}`` on every call and raises
:class:`TenantIsolationError` when it is missing: there is no default tenant.

With ``routes=`` (a `tenant_rag.tenancy.routing.RoutingTable`), each call
first looks up which index serves its tenant: a tenant re-embedded into a new
index (`reembed_tenant`) or moved (`move_tenant`) is served from there as soon
as its route is switched, with that index's embedding model, and from the
default index before. The lookup is one ``stat`` of the routes file.

Each call is served by a tenant-pinned retriever (:func:`tenant_retriever`),
looked up in a bounded LRU cache. Building one is pure bookkeeping (no
request, no connection), so the cache only saves microseconds; its bound
keeps memory flat with any number of tenants. Calls carry no shared mutable
state beyond that cache, so concurrent calls for different tenants, from
threads or ``asyncio.gather``, cannot mix.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, ensure_config
from pydantic import ConfigDict, PrivateAttr, model_validator

from tenant_rag.errors import ConfigurationError, TenantIsolationError
from tenant_rag.stores.langchain import (
    SEARCH_TYPES,
    TenantVectorStoreRetriever,
    check_configurable_namespace,
    tenant_retriever,
)
from tenant_rag.tenancy.acl import AclPolicy, Reader, reader_from_config, view_for
from tenant_rag.tenancy.ids import validate_tenant
from tenant_rag.tenancy.pinned import index_name_of
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation, TenantScope

#: The configurable key that names the tenant of a call.
TENANT_CONFIG_KEY = "tenant_id"


class PerRequestTenantRetriever(BaseRetriever):
    """A retriever whose tenant comes from each call's config, never from a default.

    ``retriever.invoke("q", config={"configurable": {"tenant_id": "acme"}})``
    searches acme's data only; without ``tenant_id`` it raises
    :class:`TenantIsolationError`. Works inside any chain (the chain passes
    its config down), with ``.batch`` (one config per input) and with
    ``.with_config(configurable={...})``.

    The principal comes from the same config: ``"user_id"`` and ``"groups"``
    (``{"tenant_id": "acme", "user_id": "u1", "groups": ["eng"]}``), or a
    ready ``"principal"`` object (``TENANT_ADMIN``). Without one a call sees
    only what everyone in the tenant may read (`tenant_rag.tenancy.acl`).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    embedding: Embeddings
    k: int = 4
    search_type: str = "similarity"
    search_kwargs: dict[str, Any] = {}
    isolation: Isolation = "namespace"
    text_key: str = "text"
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE
    config_key: str = TENANT_CONFIG_KEY
    cache_size: int = 1024
    acl_policy: AclPolicy | None = None
    #: a `RoutingTable`: which index serves each tenant (None: ``index`` serves everyone)
    routes: Any = None
    #: ``open_index(name) -> (index handle, Embeddings)`` for indexes tenants are routed to
    open_index: Callable[[str], tuple[Any, Embeddings]] | None = None

    #: (tenant, index name, isolation, reader) -> retriever
    _cache: OrderedDict[tuple[str, str, str, Reader], TenantVectorStoreRetriever] = PrivateAttr(
        default_factory=OrderedDict
    )
    _opened: dict[str, tuple[Any, Embeddings]] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="after")
    def _validate(self) -> PerRequestTenantRetriever:
        if self.search_type not in SEARCH_TYPES:
            raise ValueError(
                f"search_type must be one of {SEARCH_TYPES}, got {self.search_type!r}."
            )
        if "namespace" in self.search_kwargs:
            raise TenantIsolationError(
                "a per-request retriever takes its namespace from the tenant of each call; "
                "remove 'namespace' from search_kwargs."
            )
        if self.search_type == "similarity_score_threshold" and not isinstance(
            self.search_kwargs.get("score_threshold"), float
        ):
            raise ValueError(
                "search_type='similarity_score_threshold' needs score_threshold=<float in [0, 1]>."
            )
        if self.cache_size < 1:
            raise ValueError("cache_size must be at least 1.")
        if self.search_kwargs.get("filter") and self.isolation == "metadata":
            # refuse a widening filter now; any valid tenant id would do for the check
            TenantScope("x", "metadata", shared_namespace=self.shared_namespace).pinned_filter(
                self.search_kwargs["filter"]
            )
        # a filter on the access list is refused for any caller but the tenant admin
        view_for(None, "tenant").join(self.search_kwargs.get("filter"))
        return self

    # -- tenant resolution --------------------------------------------------------------

    def tenant_of(self, config: RunnableConfig | None) -> str:
        """The tenant a call's config names; raises if it names none."""
        cfg = ensure_config(config)
        configurable: Mapping[str, Any] = cfg.get("configurable") or {}
        tenant = configurable.get(self.config_key)
        if tenant is None:
            raise TenantIsolationError(
                f"no tenant for this call: pass config={{'configurable': "
                f"{{'{self.config_key}': '<tenant>'}}}}. A per-request retriever never falls "
                "back to a default tenant or namespace."
            )
        tenant = validate_tenant(tenant)
        if "namespace" in configurable or "search_kwargs" in configurable:
            scope = self.retriever_for(tenant).vectorstore.scope
            check_configurable_namespace(scope, configurable)
        return tenant

    def principal_of(self, config: RunnableConfig | None) -> Reader:
        """The principal a call's config names (``None`` when it names none)."""
        configurable: Mapping[str, Any] = ensure_config(config).get("configurable") or {}
        return reader_from_config(configurable)

    def retriever_for(self, tenant: str, principal: Reader = None) -> TenantVectorStoreRetriever:
        """The pinned retriever for ``tenant`` and ``principal`` in the index that serves
        ``tenant`` (cached, LRU dropped)."""
        index, embedding, isolation = self.target_of(tenant)
        key = (tenant, index_name_of(index), isolation, principal)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        built = tenant_retriever(
            index,
            tenant,
            embedding,
            k=self.k,
            search_type=self.search_type,
            isolation=isolation,
            text_key=self.text_key,
            shared_namespace=self.shared_namespace,
            principal=principal,
            acl_policy=self.acl_policy,
            **self.search_kwargs,
        )
        with self._lock:
            self._cache[key] = built
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return built

    def target_of(self, tenant: str) -> tuple[Any, Embeddings, Isolation]:
        """(index handle, embedding model, isolation) that serve ``tenant`` now."""
        route = self.routes.get(tenant) if self.routes is not None else None
        if route is None or route.index == index_name_of(self.index):
            isolation = route.isolation if route is not None else self.isolation
            return self.index, self.embedding, isolation
        with self._lock:
            opened = self._opened.get(route.index)
        if opened is None:
            opened = (self.open_index or self._open_by_name)(route.index)
            with self._lock:
                self._opened[route.index] = opened
        return opened[0], opened[1], route.isolation

    def _open_by_name(self, name: str) -> tuple[Any, Embeddings]:
        return open_index_by_name(name, self.embedding)

    # -- runnable entry points ------------------------------------------------------------

    def _for_config(self, config: RunnableConfig | None) -> TenantVectorStoreRetriever:
        tenant = self.tenant_of(config)
        return self.retriever_for(tenant, self.principal_of(config))

    def invoke(
        self, input: str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Document]:
        cfg = ensure_config(config)
        return self._for_config(cfg).invoke(input, cfg, **kwargs)

    async def ainvoke(
        self, input: str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Document]:
        cfg = ensure_config(config)
        return await self._for_config(cfg).ainvoke(input, cfg, **kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        # Reached only by paths that bypass invoke(); the config then comes from
        # the surrounding runnable context, and its absence still raises.
        retriever = self._for_config(None)
        return retriever._get_relevant_documents(query, run_manager=run_manager)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        retriever = self._for_config(None)
        return await retriever._aget_relevant_documents(query, run_manager=run_manager)


def open_index_by_name(name: str, embedding: Embeddings) -> tuple[Any, Embeddings]:
    """The default way to open an index a tenant is routed to: through `connect()`, searched
    with ``embedding`` when it has that index's dimension (else pass ``open_index=``)."""
    from tenant_rag.connection import connect, ensure_index
    from tenant_rag.models.embeddings import embedding_dimension

    pc = connect()
    desc = pc.describe_index(name)
    dimension = int(desc.dimension)
    if dimension != embedding_dimension(embedding):
        raise ConfigurationError(
            f"a tenant is routed to index {name!r} ({dimension}-d), but queries are embedded "
            f"with {embedding_dimension(embedding)}-d vectors; pass open_index=lambda name: "
            "(handle, embeddings) giving that index's model."
        )
    handle = ensure_index(pc, name, dimension=dimension, metric=str(desc.metric or "cosine"))
    return handle, embedding


def per_request_retriever(
    index: Any,
    embedding: Embeddings,
    *,
    k: int = 4,
    search_type: str = "similarity",
    isolation: Isolation = "namespace",
    filter: Mapping[str, Any] | None = None,
    text_key: str = "text",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    config_key: str = TENANT_CONFIG_KEY,
    cache_size: int = 1024,
    acl_policy: AclPolicy | None = None,
    routes: Any = None,
    open_index: Callable[[str], tuple[Any, Embeddings]] | None = None,
    **search_kwargs: Any,
) -> PerRequestTenantRetriever:
    """One retriever for all tenants; each call names its tenant in the config.

    ``retriever.invoke(q, config={"configurable": {"tenant_id": "acme"}})``.
    A call without a tenant raises :class:`TenantIsolationError`. Search
    options are those of :func:`tenant_retriever`; a ``namespace`` among them
    raises. ``"user_id"`` and ``"groups"`` in the same config name the
    principal the call reads for (`tenant_rag.tenancy.acl`).

    ``routes``: a `RoutingTable`; a tenant routed to another index is served
    from it, embedded with the model ``open_index(name)`` returns with its
    handle (default: that index through `connect()`, with ``embedding`` when
    the dimensions agree). ``index``/``embedding`` serve tenants with no route.
    """
    if "namespace" in search_kwargs:
        raise TenantIsolationError(
            "a per-request retriever takes its namespace from the tenant of each call; "
            "do not pass namespace=."
        )
    kwargs = dict(search_kwargs)
    if kwargs.get("score_threshold") is not None:
        kwargs["score_threshold"] = float(kwargs["score_threshold"])
    if filter:
        kwargs["filter"] = dict(filter)
    return PerRequestTenantRetriever(
        index=index,
        embedding=embedding,
        k=k,
        search_type=search_type,
        search_kwargs=kwargs,
        isolation=isolation,
        text_key=text_key,
        shared_namespace=shared_namespace,
        config_key=config_key,
        cache_size=cache_size,
        acl_policy=acl_policy,
        routes=routes,
        open_index=open_index,
    )


__all__ = [
    "TENANT_CONFIG_KEY",
    "PerRequestTenantRetriever",
    "open_index_by_name",
    "per_request_retriever",
]
