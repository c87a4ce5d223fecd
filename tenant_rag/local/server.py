"""``LocalServer``: the embedded server running on a background thread of this process.

uvicorn serves the REST app on a socket we bind ourselves (so port 0 gives a
free port we know before the first request); the optional gRPC data plane runs
on its own loopback port (and on one port per index for clients that do not
name their index, see ``api/grpc_service.py``). ``start()`` returns only when
both accept connections. With ``tls=True`` every port speaks TLS with a
certificate from the data dir's local CA (``tls.py``).
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

from tenant_rag.local.api.grpc_lookup import grpc_lookup_router
from tenant_rag.local.api.maintenance import maintenance_router
from tenant_rag.local.api.rest import create_app
from tenant_rag.local.api.search_state import search_state_router
from tenant_rag.local.discovery import DATA_DIR_NAME, default_data_dir
from tenant_rag.local.engine import Engine
from tenant_rag.local.engine.settings import check_settings
from tenant_rag.local.faults import FaultConfig, FaultMiddleware, GrpcFaults
from tenant_rag.local.storage.sqlite import DEFAULT_DURABILITY, Durability

if TYPE_CHECKING:
    from tenant_rag.local.api.grpc_service import GrpcPlane
    from tenant_rag.local.tls import TlsFiles

log = logging.getLogger("tenant_rag.local")
DEFAULT_DATA_DIR = DATA_DIR_NAME
ANY_KEY = "local"
#: seconds `stop` gives requests in flight before cancelling them
GRACEFUL_SHUTDOWN_S = 5


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
        tls: bool = False,
        durability: Durability = DEFAULT_DURABILITY,
    ) -> None:
        check_settings()  # a setting that cannot be read stops the server before it opens anything
        self.data_dir = data_dir
        self.host = host
        self._configured_key = api_key
        self.api_key = api_key if api_key is not None else ANY_KEY
        self.engine = Engine(data_dir, durability)
        #: "process" or "power" (see tenant_rag/local/storage/sqlite.py)
        self.durability = self.engine.durability
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
        app = create_app(
            self.engine,
            api_key=api_key,
            routers=[
                grpc_lookup_router(lambda: self._grpc, self._client_host),
                maintenance_router(self.engine),
                search_state_router(self.engine),
            ],
        )
        #: test-only fault injection (tenant_rag/local/faults.py); None unless asked for
        self.faults = FaultMiddleware(app, faults) if faults is not None else None
        app = self.faults or app
        #: the CA and certificate files when serving TLS (``tls=True``), else None
        self.tls: TlsFiles | None = None
        ssl: dict[str, Any] = {}
        if tls:
            from tenant_rag.local.tls import ensure_certificates

            self.tls = ensure_certificates(data_dir)
            ssl = {"ssl_certfile": str(self.tls.cert), "ssl_keyfile": str(self.tls.key)}
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=access_log,
            lifespan="off",
            timeout_keep_alive=30,
            # Shutdown waits this long for requests in flight, then cancels them, so the
            # serving thread has ended before `stop` closes the stores under it.
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            **ssl,
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._grpc: GrpcPlane | None = None
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
            from tenant_rag.local.api.grpc_service import GrpcPlane

            credentials = None
            if self.tls is not None:
                import grpc

                credentials = grpc.ssl_server_credentials(
                    [(self.tls.key.read_bytes(), self.tls.cert.read_bytes())]
                )
            self._grpc = GrpcPlane(
                self.engine,
                self.host,
                self._configured_key,
                credentials=credentials,
                interceptors=[GrpcFaults(self.faults)] if self.faults is not None else [],
            )
            self.grpc_port = self._grpc.start(self._grpc_port_arg)
        log.info("tenant_rag.local serving %s (data dir %s)", self.url, self.data_dir)
        return self

    def stop(self) -> None:
        """Stop accepting requests, finish in-flight ones, close the stores. Idempotent.

        A request still running after `GRACEFUL_SHUTDOWN_S` is cancelled (its client sees
        the connection close; a write it made is either committed or rolled back whole).
        """
        if self._stopped:
            return
        self._stopped = True
        if self._grpc is not None:
            self._grpc.stop(grace=1.0)
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(GRACEFUL_SHUTDOWN_S + 10)
        with contextlib.suppress(OSError):
            self._sock.close()
        self.engine.close()

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
        """``http(s)://HOST:PORT``: the control-plane host for ``Pinecone(host=...)``."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self._client_host}:{self.port}"

    @property
    def _client_host(self) -> str:
        """The host a local client dials: loopback for a wildcard bind, IPv6 in brackets."""
        if self.host in ("0.0.0.0", "::"):
            return "127.0.0.1"
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def grpc_target(self) -> str | None:
        """``HOST:GPORT`` (no scheme, as PineconeGRPC wants it), or None without gRPC.

        The shared port: it finds the index by the ``service-name`` metadata that
        SDK 7.x and 8.x send. SDK 9.x and 10.x name no index; use
        ``grpc_index_target(name)`` for them.
        """
        if self.grpc_port is None:
            return None
        return f"{self._client_host}:{self.grpc_port}"

    def grpc_index_target(self, name: str) -> str:
        """``HOST:PORT`` of a gRPC port that serves only index ``name`` (bound on first use).

        Pinecone gives every index its own host; SDK 9.x and 10.x rely on that and
        send no index name, so ``pc.index(host=srv.grpc_index_target("rag"), grpc=True)``.
        """
        if self._grpc is None:
            raise RuntimeError("start the server with grpc=True to use the gRPC data plane")
        return f"{self._client_host}:{self._grpc.index_port(name)}"

    @property
    def running(self) -> bool:
        return not self._stopped and self._thread is not None and self._thread.is_alive()

    @property
    def client_key(self) -> str:
        """The key ``client()`` sends: ``api_key`` if configured, else ``"local-<port>"``.

        Why not plain ``"local"``: SDK 7.x and 8.x cache index hosts process-wide
        under ``"<api_key>:<index name>"``, so two servers in one process (a test
        fixture per test, say) would otherwise share cached hosts, and
        ``pc.Index(name=...)`` could reach a server that has stopped. With the
        port in the key, a cached host can only come from a server on this same
        port, and an index's host depends on nothing but that port and its name,
        so the cached host is right for whichever server holds the port now. That
        is why the server never edits the SDK's cache (no private SDK name is
        used). A configured key is sent as is: a process that runs several
        servers one after another with the same key and index names should call
        ``pc.describe_index(name)`` (which refreshes the cache) or pass
        ``host=``. SDK 9.x and later keep the cache per client. Any key is
        accepted when none is configured, so a per-server key is harmless.
        """
        return (
            self._configured_key if self._configured_key is not None else f"{ANY_KEY}-{self.port}"
        )

    def _trust(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` plus ``ssl_ca_certs`` (the local CA) when serving TLS."""
        if self.tls is not None:
            kwargs.setdefault("ssl_ca_certs", str(self.tls.ca))
        return kwargs

    def client(self, **kwargs: Any) -> Any:
        """A ``pinecone.Pinecone`` for this server (control and REST data plane)."""
        from pinecone import Pinecone

        return Pinecone(api_key=self.client_key, host=self.url, **self._trust(kwargs))

    def async_client(self, **kwargs: Any) -> Any:
        """A ``pinecone.PineconeAsyncio`` for this server; use it inside ``async with``."""
        from pinecone import PineconeAsyncio

        return PineconeAsyncio(api_key=self.client_key, host=self.url, **self._trust(kwargs))

    def grpc_client(self, **kwargs: Any) -> Any:
        """A ``PineconeGRPC`` (SDK 7.x/8.x) for this server; its data plane: ``grpc_index(name)``.

        Connect an index with ``pc.Index(name=..., host=srv.grpc_target,
        grpc_config=GRPCClientConfig(secure=False))`` (``secure=True`` under TLS,
        which this client trusts through ``ssl_ca_certs``), or use ``grpc_index``.
        """
        from pinecone.grpc import PineconeGRPC

        return PineconeGRPC(api_key=self.client_key, host=self.url, **self._trust(kwargs))

    def grpc_index(self, name: str) -> Any:
        """A ready SDK 7.x/8.x ``GRPCIndex`` for index ``name`` (requires ``start(grpc=True)``)."""
        if self.grpc_target is None:
            raise RuntimeError("start the server with grpc=True to use the gRPC data plane")
        from pinecone.grpc import GRPCClientConfig

        return self.grpc_client().Index(
            name=name,
            host=self.grpc_target,
            grpc_config=GRPCClientConfig(secure=self.tls is not None),
        )

    def __repr__(self) -> str:
        return f"LocalServer(url={self.url!r}, grpc_target={self.grpc_target!r}, data_dir={str(self.data_dir)!r})"
