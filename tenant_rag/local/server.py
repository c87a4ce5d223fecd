"""``LocalServer``: the embedded server running on a background thread of this process.

uvicorn serves the REST app on a socket we bind ourselves (so port 0 gives a
free port we know before the first request); the optional gRPC server runs on
its own loopback port. ``start()`` returns only when both accept connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import uvicorn

from tenant_rag.local.api.rest import create_app
from tenant_rag.local.discovery import DATA_DIR_NAME, default_data_dir
from tenant_rag.local.engine import Engine
from tenant_rag.local.faults import FaultConfig, FaultMiddleware, GrpcFaults

if TYPE_CHECKING:
    import grpc as grpc_mod

log = logging.getLogger("tenant_rag.local")
DEFAULT_DATA_DIR = DATA_DIR_NAME
ANY_KEY = "local"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """The argument, else the rule of `tenant_rag.local.discovery.default_data_dir`
    (``$TENANT_RAG_HOME``, else the nearest ``.tenant_rag`` here or above, else
    ``./.tenant_rag``); made absolute."""
    if data_dir:
        return Path(data_dir).expanduser().resolve()
    return default_data_dir()


class LocalServer:
    """A running embedded server. Use ``start()`` to make one; ``stop()`` or ``with`` ends it."""

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        grpc: bool = False,
        grpc_port: int = 0,
        log_level: str = "warning",
        access_log: bool = False,
        faults: FaultConfig | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self._configured_key = api_key
        self.api_key = api_key if api_key is not None else ANY_KEY
        self.engine = Engine(data_dir)
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only
        # when their proto is IPPROTO_TCP. With proto 0, uvicorn's separate header and
        # body writes meet the client's delayed ACK: 44 ms per request instead of <1 ms.
        self._sock = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
        )
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((host, port))
        self._sock.listen(2048)
        self.port: int = self._sock.getsockname()[1]
        app = create_app(self.engine, api_key=api_key)
        #: test-only fault injection (tenant_rag/local/faults.py); None unless asked for
        self.faults = FaultMiddleware(app, faults) if faults is not None else None
        app = self.faults or app
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=access_log,
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._grpc_server: grpc_mod.Server | None = None
        self.grpc_port: int | None = None
        self._want_grpc = grpc
        self._grpc_port_arg = grpc_port
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------
    def _serve(self) -> None:
        asyncio.run(self._uvicorn.serve(sockets=[self._sock]))

    def start(self, timeout: float = 30.0) -> LocalServer:
        """Start serving and return once the REST (and gRPC) server accepts connections."""
        self._thread = threading.Thread(target=self._serve, name="tenant-rag-local", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        if not self._uvicorn.started:
            self.stop()
            raise RuntimeError("tenant_rag.local: the REST server did not start")
        if self._want_grpc:
            from tenant_rag.local.api.grpc_service import serve_grpc

            self._grpc_server, self.grpc_port = serve_grpc(
                self.engine,
                self.host,
                self._grpc_port_arg,
                self._configured_key,
                interceptors=[GrpcFaults(self.faults)] if self.faults is not None else [],
            )
        log.info("tenant_rag.local serving %s (data dir %s)", self.url, self.data_dir)
        return self

    def stop(self) -> None:
        """Stop accepting requests, finish in-flight ones, close the stores. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=1.0).wait(5)
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        with contextlib.suppress(OSError):
            self._sock.close()
        self.engine.close()
        _forget_cached_hosts(self.url)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses and clients ---------------------------------------------------
    @property
    def url(self) -> str:
        """``http://HOST:PORT``: the control-plane host for ``Pinecone(host=...)``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def grpc_target(self) -> str | None:
        """``HOST:GPORT`` (no scheme, as PineconeGRPC wants it), or None without gRPC."""
        if self.grpc_port is None:
            return None
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"{host}:{self.grpc_port}"

    @property
    def running(self) -> bool:
        return not self._stopped and self._thread is not None and self._thread.is_alive()

    @property
    def client_key(self) -> str:
        """The key ``client()`` sends: ``api_key`` if configured, else ``"local-<port>"``.

        Why not plain ``"local"``: the SDK caches index hosts process-wide under
        ``"<api_key>:<index name>"``, so two servers in one process (a test
        fixture per test, say) would otherwise share cached hosts, and
        ``pc.Index(name=...)`` could reach a server that has stopped. Any key is
        accepted when none is configured, so a per-server key is harmless.
        """
        return (
            self._configured_key if self._configured_key is not None else f"{ANY_KEY}-{self.port}"
        )

    def client(self, **kwargs: Any) -> Any:
        """A ``pinecone.Pinecone`` for this server (control and REST data plane)."""
        from pinecone import Pinecone

        return Pinecone(api_key=self.client_key, host=self.url, **kwargs)

    def async_client(self, **kwargs: Any) -> Any:
        """A ``pinecone.PineconeAsyncio`` for this server; use it inside ``async with``."""
        from pinecone import PineconeAsyncio

        return PineconeAsyncio(api_key=self.client_key, host=self.url, **kwargs)

    def grpc_client(self, **kwargs: Any) -> Any:
        """A ``PineconeGRPC`` for this server; its data plane needs ``grpc_index(name)``.

        Connect an index with ``pc.Index(name=..., host=srv.grpc_target,
        grpc_config=GRPCClientConfig(secure=False))``, or use ``grpc_index``.
        """
        from pinecone.grpc import PineconeGRPC

        return PineconeGRPC(api_key=self.client_key, host=self.url, **kwargs)

    def grpc_index(self, name: str) -> Any:
        """A ready ``GRPCIndex`` for index ``name`` (requires ``start(grpc=True)``)."""
        if self.grpc_target is None:
            raise RuntimeError("start the server with grpc=True to use the gRPC data plane")
        from pinecone.grpc import GRPCClientConfig

        return self.grpc_client().Index(
            name=name, host=self.grpc_target, grpc_config=GRPCClientConfig(secure=False)
        )

    def __repr__(self) -> str:
        return f"LocalServer(url={self.url!r}, grpc_target={self.grpc_target!r}, data_dir={str(self.data_dir)!r})"


def _forget_cached_hosts(url: str) -> None:
    """Drop the SDK's cached index hosts that point at this (now stopped) server.

    The SDK keys its process-wide host cache by ``api_key:index_name`` only; a
    later server reusing a key and an index name must not inherit our host.
    """
    try:
        from pinecone.db_control.index_host_store import IndexHostStore
    except ImportError:  # SDK layout changed or SDK absent: nothing cached to drop
        return
    store = IndexHostStore()
    hosts: dict[str, str] = getattr(store, "_indexHosts", {})
    for key in [k for k, host in hosts.items() if host.startswith(url + "/")]:
        hosts.pop(key, None)
