"""``POST /_local/checkpoint``: make deletions physical now (empty every index's WAL).

Deleted records are overwritten with zeros in the database files as they are
deleted (``secure_delete``, `tenant_rag.local.storage.sqlite`), but SQLite's
write-ahead log still holds the page images written before the delete until a
checkpoint truncates it. Offboarding and erasure on the embedded server call
this route so that their receipts can say the data is gone from disk, not just
from the API. The route is this server's own (``/_local/`` is not part of
Pinecone's API) and sits behind the same API key check as every other route.
"""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tenant_rag.local.engine import Engine


def maintenance_router(engine: Engine) -> APIRouter:
    """The checkpoint route over ``engine``."""
    router = APIRouter()

    @router.post("/_local/checkpoint")
    async def checkpoint() -> JSONResponse:
        indexes = await to_thread.run_sync(engine.checkpoint)
        complete = all(r["busy"] == 0 for r in indexes.values())
        return JSONResponse({"indexes": indexes, "complete": complete})

    return router
