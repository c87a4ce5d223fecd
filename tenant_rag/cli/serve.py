"""``tenant-rag serve``: run the embedded Pinecone-compatible server in the foreground.

Binds 127.0.0.1 unless ``--host`` says otherwise; Ctrl-C (or SIGTERM) stops it
cleanly: in-flight requests finish, SQLite files are closed.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind. Keep the loopback default unless you mean it.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="REST port (control and data plane); 0 picks a free one.")
    ] = 5080,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Data dir. Default: $TENANT_RAG_HOME, else ./.tenant_rag"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="TENANT_RAG_API_KEY",
            help="Require this key (Api-Key header / gRPC api-key); others are refused (401, 403 on an index). Env: TENANT_RAG_API_KEY.",
            show_default=False,
        ),
    ] = None,
    grpc_port: Annotated[
        int | None,
        typer.Option("--grpc-port", help="Also serve the gRPC data plane on this port (0 = free)."),
    ] = None,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Serve REST and gRPC over TLS with a loopback certificate from a local CA kept "
            "in DATA/tls (created on first use); prints how clients trust it.",
        ),
    ] = False,
    log_level: Annotated[
        str, typer.Option(help="debug, info (logs each request), warning, error.")
    ] = "info",
) -> None:
    """Serve Pinecone's REST API (and optionally gRPC) from a local, durable data dir."""
    from tenant_rag.local.server import LocalServer, resolve_data_dir

    level = log_level.lower()
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        srv = LocalServer(
            resolve_data_dir(data),
            host=host,
            port=port,
            api_key=api_key,
            grpc=grpc_port is not None,
            grpc_port=grpc_port or 0,
            log_level=level,
            access_log=level in ("debug", "info"),
            tls=tls,
        )
    except OSError as exc:
        typer.echo(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another --port.", err=True
        )
        raise typer.Exit(2) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            f"warning: listening on {host}, reachable from other machines"
            + ("" if api_key else " and accepting any API key (set --api-key)"),
            err=True,
        )
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    logging.getLogger("uvicorn.access").addFilter(_RedactKeys(api_key))
    srv.start()
    typer.echo(f"tenant_rag local Pinecone serving {srv.url}  (data dir {srv.data_dir})")
    if srv.grpc_target:
        typer.echo(
            f"gRPC data plane on {srv.grpc_target} ({'TLS' if srv.tls else 'plaintext'}; "
            "SDK 7.x/8.x name the index; SDK 9.x/10.x, which do not, reach it alone when it "
            f"is the only index, else on its own port: GET {srv.url}/_local/grpc/<index>)"
        )
    if srv.tls is not None:
        typer.echo(srv.tls.trust_instructions())
    typer.echo("API key: " + ("required" if api_key else "not required (any key accepted)"))
    typer.echo(
        f"Connect: Pinecone(api_key=..., host={srv.url!r})  or  PINECONE_CONTROLLER_HOST={srv.url}"
    )
    try:
        while not stop.is_set() and srv.running:
            stop.wait(0.5)
    finally:
        typer.echo("shutting down")
        srv.stop()


class _RedactKeys(logging.Filter):
    """Scrub keys from access-log lines, which print each request path with its query string.

    The SDK sends the key in a header, never in the URL, but a hand-written
    client might put it in a query parameter; that must not land in a log.
    """

    _PARAM = re.compile(r"(?i)((?:api[-_]?key|key|token|secret)=)[^&\s]+")

    def __init__(self, key: str | None) -> None:
        super().__init__()
        self.key = key

    def _clean(self, value: str) -> str:
        value = self._PARAM.sub(r"\1***", value)
        return value.replace(self.key, "***") if self.key else value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) if isinstance(a, str) else a for a in record.args)
        return True
