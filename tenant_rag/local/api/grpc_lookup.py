"""``GET /_local/grpc/{index}``: the gRPC port that serves one index, for SDK 9.x and 10.x.

Pinecone gives each index a host of its own, and the gRPC clients of SDK 9.x and
10.x rely on it: their calls carry no index name. The embedded server answers
them on a port per index (``GrpcPlane.index_port``); a client in another process
(``tenant-rag serve``) asks for that port here. The route is this server's own
(``/_local/`` is not part of Pinecone's API) and sits behind the same API key check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tenant_rag.local.engine.errors import ApiError

if TYPE_CHECKING:  # a REST-only server never loads gRPC
    from tenant_rag.local.api.grpc_service import GrpcPlane


def grpc_lookup_router(plane: Callable[[], GrpcPlane | None], host: str) -> APIRouter:
    """The lookup route; ``plane()`` is the running gRPC plane (None: gRPC is off)."""
    router = APIRouter()

    @router.get("/_local/grpc/{name}")
    async def grpc_port(name: str) -> JSONResponse:
        running = plane()
        if running is None:
            raise ApiError(
                404,
                "NOT_FOUND",
                "this server does not serve gRPC; start it with --grpc-port (or grpc=True)",
            )
        port = await to_thread.run_sync(lambda: running.index_port(name))
        return JSONResponse({"name": name, "grpc_host": f"{host}:{port}"})

    return router
