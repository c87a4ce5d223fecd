"""``GET /_local/indexes/{index}/namespaces/{namespace}/search``: how a namespace is searched.

A namespace past the approximate-index threshold is searched exactly until its index,
built in the background after the namespace is loaded, is ready; its first queries are
slow by design. This route says which path answers now (``IndexEngine.search_state``)
without loading the namespace, so an operator, a test or a benchmark can wait for the
index instead of guessing from latencies. The default namespace is ``__default__``. The
route is this server's own (``/_local/`` is not part of Pinecone's API) and sits behind the
same API key check as every other route.
"""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tenant_rag.local.engine import Engine


def search_state_router(engine: Engine) -> APIRouter:
    """The search-state route over ``engine``."""
    router = APIRouter()

    @router.get("/_local/indexes/{name}/namespaces/{namespace}/search")
    async def search_state(name: str, namespace: str) -> JSONResponse:
        state = await to_thread.run_sync(lambda: engine.index(name).search_state(namespace))
        return JSONResponse({"index": name, **state})

    return router
