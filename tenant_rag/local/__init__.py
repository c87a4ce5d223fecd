"""tenant_rag.local: an embedded, durable, Pinecone-compatible server.

>>> from tenant_rag.local import start
>>> with start(tmp_dir) as srv:          # doctest: +SKIP
...     pc = srv.client()                # pinecone.Pinecone(api_key=..., host=srv.url)

See ``tenant_rag/local/README.md`` for how it works and how to connect.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import TYPE_CHECKING, Any

from tenant_rag.local.storage.sqlite import DEFAULT_DURABILITY, Durability

if TYPE_CHECKING:
    from tenant_rag.local.faults import FaultConfig
    from tenant_rag.local.server import LocalServer, resolve_data_dir

__all__ = ["LocalServer", "resolve_data_dir", "shared_server", "start"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the server pulls in uvicorn, FastAPI and numpy (about 1 s),
    # which a client that only reads `tenant_rag.local.discovery` never needs.
    if name in ("LocalServer", "resolve_data_dir"):
        from tenant_rag.local import server

        return getattr(server, name)
    raise AttributeError(f"module 'tenant_rag.local' has no attribute {name!r}")


_shared: dict[str, LocalServer] = {}
_shared_lock = threading.Lock()


def start(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    grpc: bool = False,
    grpc_port: int = 0,
    faults: FaultConfig | None = None,
    tls: bool = False,
    durability: Durability = DEFAULT_DURABILITY,
) -> LocalServer:
    """Run a server on a background thread and return it once it accepts requests.

    Args:
        data_dir: where indexes live; else ``$TENANT_RAG_HOME``, else the nearest
            ``.tenant_rag`` here or in a parent folder, else ``./.tenant_rag``.
        host: interface to bind; loopback unless you really mean otherwise.
        port: 0 picks a free port (see ``LocalServer.port``).
        api_key: when set, requests with any other key get 401; when None, any key works
            and ``LocalServer.api_key`` is ``"local"``.
        grpc: also serve the gRPC data plane on ``grpc_port`` (0 = free port).
        faults: test-only fault injection on the REST data plane (``tenant_rag.local.faults``);
            when None, ``$TENANT_RAG_FAULTS`` is read; unset means no faults.
        tls: serve REST and gRPC over TLS with a certificate from a local CA kept in
            ``<data_dir>/tls/`` (``LocalServer.tls.ca`` is the file clients trust;
            ``client()`` and ``grpc_client()`` already do).
        durability: ``"process"`` (an acknowledged write survives the server being killed)
            or ``"power"`` (also an OS crash or power loss: every commit is fsynced); the
            cost of each is in docs/reliability.md.
    """
    from tenant_rag.local.faults import FaultConfig
    from tenant_rag.local.server import LocalServer, resolve_data_dir

    srv = LocalServer(
        resolve_data_dir(data_dir),
        host=host,
        port=port,
        api_key=api_key,
        grpc=grpc,
        grpc_port=grpc_port,
        faults=faults if faults is not None else FaultConfig.from_env(),
        tls=tls,
        durability=durability,
    )
    return srv.start()


def shared_server(data_dir: str | os.PathLike[str] | None = None) -> LocalServer:
    """One server per resolved data dir per process, started on first use, stopped at exit.

    It also serves gRPC, so ``connect(grpc=True)`` works on the same server.
    """
    from tenant_rag.local.server import resolve_data_dir

    key = str(resolve_data_dir(data_dir))
    with _shared_lock:
        srv = _shared.get(key)
        if srv is None or not srv.running:
            srv = start(key, grpc=True)
            _shared[key] = srv
        return srv


@atexit.register
def _stop_shared() -> None:
    with _shared_lock:
        for srv in _shared.values():
            srv.stop()
        _shared.clear()
