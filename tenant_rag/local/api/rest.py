"""REST API: Pinecone's control plane and, under ``/_index/{name}``, each index's data plane.

Routing decision: Pinecone gives each index its own host. Here one HTTP server
serves everything, and ``IndexModel.host`` is ``http://HOST:PORT/_index/<name>``:
the SDK (sync and asyncio) keeps a path prefix in the host and appends
``/vectors/upsert``, ``/query`` and so on, so no client change is needed.

The layer is deliberately thin: it parses JSON itself (orjson; no pydantic over large
vector payloads), runs the engine call on a worker thread
(so a write waiting on another process's SQLite lock never blocks the event
loop), and turns ``ApiError`` into Pinecone's error bodies. Request and response
shapes that differ between Pinecone API versions live in ``versions/``, one module per
version; the routes here ask ``version_of(request)`` and stay one copy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from anyio import to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from tenant_rag.local.api import versions
from tenant_rag.local.api.auth import UNAUTHENTICATED_MESSAGE, WRONG_KEY_MESSAGE, key_ok
from tenant_rag.local.api.backups import backups_router
from tenant_rag.local.api.body_limit import BodyLimitMiddleware, Oversize
from tenant_rag.local.api.versions import version_of
from tenant_rag.local.engine import ApiError, Engine, IndexEngine
from tenant_rag.local.engine.backups import Backups
from tenant_rag.local.engine.errors import GRPC_NUMBER, bad_request, short
from tenant_rag.local.engine.limits import (
    DEFAULT_NAMESPACE,
    MAX_FILTER_DEPTH,
    MAX_JSON_DEPTH,
    MAX_REQUEST_BYTES,
)
from tenant_rag.local.storage import IndexDef

log = logging.getLogger("tenant_rag.local")
T = TypeVar("T")
DATA_PREFIX = "/_index"
#: Pinecone's LSN headers: writes answer the LSN they committed at, queries the LSN
#: their answer reflects (Pinecone's integration tests poll on them).
REQUEST_LSN = "x-pinecone-request-lsn"
MAX_INDEXED_LSN = "x-pinecone-max-indexed-lsn"

# orjson (a pinned dependency) parses a 1.6 MB upsert body in ~8 ms against ~60 ms for the
# stdlib, measured on this machine.
_loads: Callable[[bytes], Any] = orjson.loads
_dumps: Callable[[Any], bytes] = orjson.dumps


def index_host(base_url: str, name: str) -> str:
    """The data-plane host of index ``name``: ``http://HOST:PORT/_index/<name>``."""
    return f"{base_url.rstrip('/')}{DATA_PREFIX}/{name}"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=_dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def error_response(exc: ApiError, data_plane: bool) -> Response:
    """Pinecone's error shapes: RpcStatus on the data plane, ErrorResponse on the control plane."""
    if data_plane:
        body: dict[str, Any] = {
            "code": GRPC_NUMBER.get(exc.code, 2),
            "message": exc.message,
            "details": [],
        }
    else:
        body = {"error": {"code": exc.code, "message": exc.message}, "status": exc.status}
    return _json(body, exc.status)


def _lsn_header(name: str, lsn: int) -> dict[str, str]:
    return {name: str(lsn)}


class EdgeMiddleware:
    """Pure ASGI edge (cheaper than BaseHTTPMiddleware): API key, then API version.

    One pass over the headers finds both. A refused key gets Pinecone's answer
    for its plane: the control plane 401 ``Invalid API key.`` (its specs'
    example), the data plane 403 ``Wrong API key`` (SDK 8.1.2's integration test
    ``test_unauthorized_requests_rejected``). The resolved version is left in
    the scope for ``versions.version_of(request)``.
    """

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = raw_version = None
            for name, value in scope["headers"]:
                if name == b"api-key":
                    given = value.decode("latin-1")
                elif name == versions.HEADER:
                    raw_version = value
            data_plane = scope["path"].startswith(DATA_PREFIX + "/")
            try:
                if self.api_key is not None and not key_ok(self.api_key, given):
                    if data_plane:
                        raise ApiError(403, "PERMISSION_DENIED", WRONG_KEY_MESSAGE)
                    raise ApiError(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE)
                scope[versions.SCOPE_KEY] = versions.resolve(raw_version)
            except ApiError as exc:
                await error_response(exc, data_plane)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object in the request body ({} when empty); 400 for anything else."""
    body = await _parse_body(request)
    if not isinstance(body, dict):
        raise bad_request(f"request body must be a JSON object, got {type(body).__name__}")
    return body


async def _parse_body(request: Request) -> Any:
    """The parsed body; its size was checked on the way in (``body_limit``)."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        return _loads(raw)
    except ValueError as exc:
        if "depth limit" in str(exc):  # orjson's own nesting limit
            raise too_deep() from None
    try:  # the stdlib also reads NaN/Infinity, so validation can name them precisely
        return json.loads(raw)
    except RecursionError:
        raise too_deep() from None
    except ValueError as exc:
        raise bad_request(f"request body is not valid JSON: {short(str(exc))}") from None


def too_deep() -> ApiError:
    """400 for JSON nested deeper than the server reads (a deep filter or metadata)."""
    return bad_request(
        f"request body nests JSON more than {MAX_JSON_DEPTH} levels deep; the limit is "
        f"{MAX_JSON_DEPTH}. Metadata must be a flat object, and a filter may nest $and/$or "
        f"at most {MAX_FILTER_DEPTH} levels."
    )


def _int_param(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name} must be an integer, got {value!r}") from None


def create_app(
    engine: Engine, *, api_key: str | None = None, routers: Sequence[APIRouter] = ()
) -> ASGIApp:
    """The ASGI app for ``engine``; with ``api_key`` set, every other key is refused.

    ``routers``: more routes served behind the same key check, version layer and error
    handling (the gRPC port lookup), each from a module of its own.
    """
    app = FastAPI(
        title="tenant_rag local Pinecone", docs_url=None, redoc_url=None, openapi_url=None
    )

    async def run(fn: Callable[[], T]) -> T:
        return await to_thread.run_sync(fn)

    async def read(
        name: str,
        ns: Any,
        needs_matrix: bool,
        fn: Callable[[IndexEngine], T],
        *,
        vectors_api: bool = True,
        inline: bool = True,
    ) -> tuple[T, int]:
        """Run a data-plane read inline when it is known cheap, else on a worker thread.

        Handing a request to a thread costs ~0.7 ms on a loaded 2-core machine, a third
        of a small tenant's whole query. Inline only if the index lock is free right now
        and nothing needs loading or replaying, so the event loop never waits. Returns
        the answer and the LSN it reflects (read under the same lock). ``vectors_api``
        reads refuse a document index; stats and the namespaces API serve every index.
        ``inline=False``: always a worker thread (a read whose cost grows with the index).
        """
        eng = engine.cached_index(name) if inline else None
        if eng is not None and eng.lock.acquire(blocking=False):
            try:
                if eng.cheap_read(ns, needs_matrix):
                    return fn(eng), eng.lsn
            finally:
                eng.lock.release()
        get = engine.vector_index if vectors_api else engine.index
        return await to_thread.run_sync(lambda: _locked(get(name), fn))

    async def write(name: str, fn: Callable[[IndexEngine], T]) -> tuple[T, dict[str, str]]:
        """Run a data-plane write on a worker thread; the answer and its LSN header."""
        result, lsn = await run(lambda: _locked(engine.vector_index(name), fn))
        return result, _lsn_header(REQUEST_LSN, lsn)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc, request.url.path.startswith(DATA_PREFIX + "/"))

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> Response:
        """The last line against deep input: whatever recursed too far, it is a 400."""
        return error_response(too_deep(), request.url.path.startswith(DATA_PREFIX + "/"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Unknown routes and methods in Pinecone's error shape, naming what was asked."""
        code = {404: "NOT_FOUND", 405: "UNIMPLEMENTED"}.get(exc.status_code, "UNKNOWN")
        message = (
            f"{request.method} {request.url.path}: {exc.detail}. The local server serves "
            "Pinecone's control plane under /indexes and each index's data plane under "
            f"{DATA_PREFIX}/<index name>."
        )
        return error_response(
            ApiError(exc.status_code, code, message), request.url.path.startswith(DATA_PREFIX + "/")
        )

    # -- data plane: vectors ---------------------------------------------------
    # Routes are matched in order (a regex per route per request), so the hot data-plane
    # routes come first and query leads: every route ahead of it costs each query ~4 us.
    @app.post(DATA_PREFIX + "/{name}/query")
    async def query(name: str, request: Request) -> Response:
        b = await _body(request)
        if b.get("queries"):
            raise bad_request("the deprecated 'queries' field is not supported; send one query")
        result, lsn = await read(
            name,
            b.get("namespace"),
            True,
            lambda ix: ix.query(
                b.get("namespace"),
                b.get("topK"),
                vector=b.get("vector"),
                sparse_vector=b.get("sparseVector"),
                rid=b.get("id"),
                flt=b.get("filter"),
                include_values=bool(b.get("includeValues")),
                include_metadata=bool(b.get("includeMetadata")),
                as_json=True,
            ),
        )
        return _json(result, headers=_lsn_header(MAX_INDEXED_LSN, lsn))

    @app.post(DATA_PREFIX + "/{name}/vectors/upsert")
    async def upsert(name: str, request: Request) -> Response:
        body = await _body(request)
        n, headers = await write(
            name, lambda ix: ix.upsert(body.get("namespace"), body.get("vectors"))
        )
        return _json({"upsertedCount": n}, headers=headers)

    @app.get(DATA_PREFIX + "/{name}/vectors/fetch")
    async def fetch(name: str, request: Request) -> Response:
        ids = request.query_params.getlist("ids")
        ns = request.query_params.get("namespace")
        result, _ = await read(name, ns, False, lambda ix: ix.fetch(ns, ids, as_json=True))
        return _json(result)

    @app.post(DATA_PREFIX + "/{name}/vectors/fetch_by_metadata")
    async def fetch_by_metadata(name: str, request: Request) -> Response:
        version_of(request).require(versions.FETCH_BY_METADATA, "fetch_by_metadata")
        b = await _body(request)
        result, _ = await read(
            name,
            b.get("namespace"),
            False,
            lambda ix: ix.fetch_by_metadata(
                b.get("namespace"),
                b.get("filter"),
                b.get("limit"),
                b.get("paginationToken"),
                as_json=True,
            ),
        )
        return _json(result)

    @app.post(DATA_PREFIX + "/{name}/vectors/update")
    async def update(name: str, request: Request) -> Response:
        version = version_of(request)
        b = await _body(request)
        if b.get("filter") is not None:
            version.require(versions.UPDATE_BY_FILTER, "update by metadata filter")
            if b.get("id") is not None:
                raise bad_request("update takes either id or filter, not both")
            if b.get("values") or b.get("sparseValues") is not None:
                raise bad_request(
                    "an update by filter changes metadata only; values and sparseValues "
                    "belong to an update by id"
                )
            matched, headers = await write(
                name,
                lambda ix: ix.update_by_filter(
                    b.get("namespace"), b["filter"], b.get("setMetadata"), bool(b.get("dryRun"))
                ),
            )
            return _json(version.update_response(matched), headers=headers)
        _, headers = await write(
            name,
            lambda ix: ix.update(
                b.get("namespace"),
                b.get("id"),
                b.get("values"),
                b.get("sparseValues"),
                b.get("setMetadata"),
            ),
        )
        return _json(version.update_response(None), headers=headers)

    @app.post(DATA_PREFIX + "/{name}/vectors/delete")
    async def delete(name: str, request: Request) -> Response:
        b = await _body(request)
        _, headers = await write(
            name,
            lambda ix: ix.delete(
                b.get("namespace"), b.get("ids"), b.get("deleteAll"), b.get("filter")
            ),
        )
        return _json({}, headers=headers)

    @app.get(DATA_PREFIX + "/{name}/vectors/list")
    async def list_vectors(name: str, request: Request) -> Response:
        qp = request.query_params
        ns = qp.get("namespace")
        limit = _int_param(qp.get("limit"), "limit")
        (ids, nxt), _ = await read(
            name,
            ns,
            False,
            lambda ix: ix.list_ids(ns, qp.get("prefix"), limit, qp.get("paginationToken")),
        )
        body: dict[str, Any] = {
            "vectors": [{"id": i} for i in ids],
            "namespace": ns or "",
            "usage": {"readUnits": 1},
        }
        if nxt is not None:  # omit on the last page, or the SDK's list() never stops
            body["pagination"] = {"next": nxt}
        return _json(body)

    @app.post(DATA_PREFIX + "/{name}/describe_index_stats")
    async def describe_index_stats(name: str, request: Request) -> Response:
        b = await _body(request)
        flt = b.get("filter")
        key = version_of(request).stats_namespace_key(DEFAULT_NAMESPACE)
        stats, _ = await read(
            name,
            None,
            False,
            lambda ix: ix.describe_stats_encoded(flt, key),
            vectors_api=False,
            inline=False,  # one entry per namespace: 100,000 tenants must not stall the loop
        )
        stats["namespaces"] = orjson.Fragment(stats["namespaces"])
        return _json(stats)

    # -- data plane: namespaces ------------------------------------------------
    @app.get(DATA_PREFIX + "/{name}/namespaces")
    async def list_namespaces(name: str, request: Request) -> Response:
        version = version_of(request)
        qp = request.query_params
        limit = _int_param(qp.get("limit"), "limit") or None  # 0 or absent: the default
        prefix = qp.get("prefix") or ""
        if prefix:
            version.require(versions.NAMESPACE_PREFIX, "list_namespaces(prefix=...)")
        token = qp.get("paginationToken")
        (page, nxt, total), _ = await read(
            name,
            None,
            False,
            lambda ix: ix.namespace_page(prefix, limit, token),
            vectors_api=False,
        )
        return _json(version.namespace_list(page, nxt, total))

    @app.post(DATA_PREFIX + "/{name}/namespaces")
    async def create_namespace(name: str, request: Request) -> Response:
        version = version_of(request)
        version.require(versions.CREATE_NAMESPACE, "create_namespace")
        b = await _body(request)
        ns, schema = b.get("name"), b.get("schema")
        await run(lambda: engine.index(name).create_namespace(ns, schema))
        return _json(version.namespace_description(str(ns), 0, schema))

    @app.get(DATA_PREFIX + "/{name}/namespaces/{ns:path}")
    async def describe_namespace(name: str, ns: str, request: Request) -> Response:
        (n, schema), _ = await read(
            name,
            ns,
            False,
            lambda ix: (ix.namespace_count(ns), ix.namespace_schema(ns)),
            vectors_api=False,
        )
        return _json(version_of(request).namespace_description(ns, n, schema))

    @app.delete(DATA_PREFIX + "/{name}/namespaces/{ns:path}")
    async def delete_namespace(name: str, ns: str) -> Response:
        await run(lambda: engine.index(name).drop_namespace(ns))
        return _json({})  # 200, as every version's spec answers deleteNamespace

    # -- control plane -------------------------------------------------------
    def host_of(request: Request) -> Callable[[IndexDef], str]:
        base = str(request.base_url)
        return lambda d: index_host(base, d.name)

    @app.get("/indexes")
    async def list_indexes(request: Request) -> Response:
        defs = await run(engine.list_indexes)
        return _json(version_of(request).index_list(defs, host_of(request)))

    @app.post("/indexes")
    async def create_index(request: Request) -> Response:
        version = version_of(request)
        body, schema = version.create_request(await _body(request))
        d = await run(lambda: engine.create_index(body, document_schema=schema))
        return _json(version.index_model(d, host_of(request)(d)), 201)

    @app.post("/indexes/create-for-model")
    async def create_index_for_model() -> Response:
        raise ApiError(
            501,
            "UNIMPLEMENTED",
            "Indexes with integrated embedding (create_index_for_model) are not implemented by "
            "the local server; create an index with a dimension and embed text yourself.",
        )

    @app.get("/indexes/{name}")
    async def describe_index(name: str, request: Request) -> Response:
        d = await run(lambda: engine.describe_index(name))
        return _json(version_of(request).index_model(d, host_of(request)(d)))

    @app.delete("/indexes/{name}")
    async def delete_index(name: str) -> Response:
        await run(lambda: engine.delete_index(name))
        return Response(status_code=202)

    @app.patch("/indexes/{name}")
    async def configure_index(name: str, request: Request) -> Response:
        version = version_of(request)
        body = version.configure_request(await _body(request))
        d = await run(lambda: engine.configure_index(name, body))
        # 202 Accepted with the IndexModel, as every version's spec answers configure_index
        return _json(version.index_model(d, host_of(request)(d)), 202)

    # -- not implemented: say so, and what is served instead -------------------
    @app.post(DATA_PREFIX + "/{name}/namespaces/{ns}/documents/{op}")
    async def documents(name: str, ns: str, op: str) -> Response:
        raise ApiError(
            501,
            "UNIMPLEMENTED",
            f"The Documents API ({op}) is not implemented by the local server. It serves "
            "the vectors API (upsert, query, fetch, fetch_by_metadata, update, delete, list, "
            "describe_index_stats) and the namespaces API on indexes created with "
            "dimension/metric or the schema fields '_values'/'_sparse_values'.",
        )

    @app.api_route(DATA_PREFIX + "/{name}/bulk/imports", methods=["GET", "POST"])
    @app.api_route(DATA_PREFIX + "/{name}/bulk/imports/{op}", methods=["GET", "DELETE"])
    async def imports(name: str) -> Response:
        raise ApiError(
            501,
            "UNIMPLEMENTED",
            "Bulk imports from object storage are not implemented by the local server; "
            "upsert the records in batches of up to 1,000.",
        )

    @app.post(DATA_PREFIX + "/{name}/records/namespaces/{ns}/{op}")
    async def records(name: str, ns: str, op: str) -> Response:
        raise ApiError(
            501,
            "UNIMPLEMENTED",
            f"Integrated embedding (records {op}) is not implemented by the local server; "
            "embed your text yourself and use upsert and query with vectors.",
        )

    app.include_router(backups_router(Backups(engine)))
    for router in routers:
        app.include_router(router)
    return BodyLimitMiddleware(EdgeMiddleware(app, api_key), MAX_REQUEST_BYTES, _refusal)


def _refusal(scope: Scope, why: Oversize) -> Response:
    """Pinecone's 400 for its plane, naming the 2 MB limit and what to do."""
    if why.kind == "not_a_number":
        size = "unknown"
    elif why.kind == "streamed":
        size = f"more than {why.limit}"
    else:
        size = str(why.size)
    message = (
        f"request body is {size} bytes; the limit is {why.limit} bytes (2 MB). "
        "Send fewer records per upsert."
    )
    return error_response(bad_request(message), scope["path"].startswith(DATA_PREFIX + "/"))


def _locked(ix: IndexEngine, fn: Callable[[IndexEngine], T]) -> tuple[T, int]:
    """``fn(ix)`` and the LSN it reflects, both under the index lock."""
    with ix.lock:
        return fn(ix), ix.lsn
