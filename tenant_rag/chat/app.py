"""`create_chat_app`: the chatbot backend as a FastAPI application.

Defaults are the embedded setup: `tenant_rag.connection.connect()` (the
embedded server unless ``PINECONE_API_KEY`` is set), `ensure_index` for the
index, and the default embedding model and LLM. Tests pass their own
``embedding``/``index``/``keys`` so they run fast and in isolation.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from tenant_rag.chat.config import KeyRing
from tenant_rag.chat.errors import install_error_handlers
from tenant_rag.chat.jobs import JobManager
from tenant_rag.chat.jwt_auth import JwtConfig, load_jwt_config
from tenant_rag.chat.keystore import KeyStore
from tenant_rag.chat.limits import body_limit
from tenant_rag.chat.logs import RequestLogMiddleware, install_redaction
from tenant_rag.chat.routes import ROUTERS
from tenant_rag.chat.service import ChatLimits, ChatService
from tenant_rag.chat.throttle import AuthThrottle, ThrottleConfig, ThrottleMiddleware
from tenant_rag.errors import ConfigurationError

log = logging.getLogger("tenant_rag.chat")

#: The index the chat backend reads and writes (the seed's RAG workload).
DEFAULT_INDEX = "rag"
#: ``jwt=`` default: read the JWT settings from the environment (`load_jwt_config`).
FROM_ENV: Any = object()


def create_chat_app(
    *,
    keys: KeyRing | KeyStore | None = None,
    embedding: Any = None,
    llm: Any = None,
    index: Any = None,
    pc: Any = None,
    index_name: str = DEFAULT_INDEX,
    limits: ChatLimits | None = None,
    routes: Any = None,
    audit_log: str | None = None,
    throttle: ThrottleConfig | None = None,
    jwt: JwtConfig | None = FROM_ENV,
) -> FastAPI:
    """Build the app.

    Args:
        keys: tenant and admin keys: a fixed `KeyRing`, or a `KeyStore` (a keys file,
            reloaded when it changes); default `KeyStore.load()` (``TENANT_RAG_CHAT_KEYS_FILE``
            or ``TENANT_RAG_CHAT_KEYS`` / ``TENANT_RAG_ADMIN_KEY``).
        embedding: LangChain embeddings; default: the model the index records
            (`index_embeddings`), or `default_embeddings()` for a new index.
        llm: LangChain chat model; default `default_llm()` (the local extractive
            answerer when no OpenAI endpoint is configured).
        index: a data-plane index handle; default ``ensure_index(pc, index_name, ...)``.
        pc: the Pinecone client for ``ensure_index``; default `connect()`.
        index_name: the index to create or open when ``index`` is not given.
        limits: upload and question limits.
        routes: a `RoutingTable` or the path of one (default: ``$TENANT_RAG_ROUTES``, else
            none): a tenant routed to another index (re-embedded, moved) is served there.
        audit_log: where the admin routes append their deletion receipts (default:
            ``$TENANT_RAG_AUDIT_LOG``, else none).
        throttle: failed-authentication throttling (`ThrottleConfig()` by default).
        jwt: how user tokens are verified (`tenant_rag.chat.jwt_auth.JwtConfig`);
            default `load_jwt_config()` from ``TENANT_RAG_JWT_*``; ``None``: keys only.
    """
    if jwt is FROM_ENV:
        jwt = load_jwt_config()
    if keys is None:
        try:
            keys = KeyStore.load()
        except ConfigurationError:
            if jwt is None:
                raise
            keys = KeyStore(KeyRing.from_mapping({}))  # user tokens only
    elif isinstance(keys, KeyRing):
        keys = KeyStore(keys)
    if not keys.ring.tenants and jwt is None:
        raise ConfigurationError(
            "the key ring has no tenant keys and no JWT key is configured; the server would "
            "serve nobody."
        )
    if index is None:
        from tenant_rag.connection import connect

        pc = pc if pc is not None else connect()
    if embedding is None:
        # the model an existing index was built with (its tags), else the default
        from tenant_rag.models.embeddings import default_embeddings, index_embeddings

        if index is None and _exists(pc, index_name):
            embedding = index_embeddings(pc, index_name)
        else:
            embedding = default_embeddings()
    if llm is None:
        from tenant_rag.models.llm import default_llm

        llm = default_llm()
    if index is None:
        from tenant_rag.connection import ensure_index

        index = ensure_index(pc, index_name, embedding=embedding)
    limits = limits or ChatLimits()
    install_redaction(keys.ring.secrets() | (jwt.secrets() if jwt is not None else frozenset()))
    service = ChatService(
        index=index,
        index_name=index_name,
        embedding=embedding,
        llm=llm,
        limits=limits,
        routes=_routing_table(routes),
    )
    jobs = JobManager(service.ingest, max_pending_per_tenant=limits.max_pending_jobs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()  # queued jobs end as failed (server_stopped); see tenant_rag.chat.jobs

    app = FastAPI(
        title="tenant_rag chat backend",
        summary="Per-tenant RAG chat over Pinecone; the bearer key decides the tenant.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.keys = keys
    app.state.jwt = jwt
    app.state.throttle = guard = AuthThrottle(throttle)
    app.state.service = service
    app.state.jobs = jobs
    app.state.audit_log = audit_log
    install_error_handlers(app)
    app.add_middleware(
        body_limit,
        upload_path="/documents",
        upload_limit=limits.max_request_bytes,
        per_file_limit=limits.max_upload_bytes,
        limit=limits.max_body_bytes,
    )
    app.add_middleware(RequestLogMiddleware)
    # outermost: refusals cost least; user tokens counted by signature, as in auth.py
    app.add_middleware(ThrottleMiddleware, throttle=guard, tokens=jwt is not None)
    for router in ROUTERS:
        app.include_router(router)
    log.info(
        "chat backend ready: index=%s, tenants=%s, admin keys=%d, user tokens=%s",
        index_name,
        ", ".join(keys.ring.tenants),
        keys.ring.admin_count,
        jwt.algorithms if jwt is not None else "off",
    )
    return app


def _routing_table(routes: Any) -> Any:
    """A `RoutingTable` from an object, a path, or ``$TENANT_RAG_ROUTES``; None without one."""
    import os

    from tenant_rag.tenancy.routing import RoutingTable

    if routes is None:
        routes = os.environ.get("TENANT_RAG_ROUTES") or None
    if routes is None or isinstance(routes, RoutingTable):
        return routes
    return RoutingTable(routes)


def _exists(pc: Any, name: str) -> bool:
    try:
        pc.describe_index(name)
    except Exception as exc:
        if getattr(exc, "status", None) == 404 or type(exc).__name__ == "NotFoundException":
            return False
        raise
    return True


def _version() -> str:
    from tenant_rag import __version__

    return __version__
