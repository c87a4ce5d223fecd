"""``tenant-rag serve``: run the embedded Pinecone-compatible server in the foreground.

Binds 127.0.0.1 unless ``--host`` says otherwise; Ctrl-C (or SIGTERM) stops it
cleanly: in-flight requests finish, SQLite files are closed.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

DURABILITY_PROMISE = {
    "process": "acknowledged writes survive the server being killed; an OS crash or power "
    "loss may drop the last ones",
    "power": "acknowledged writes survive the server being killed, an OS crash or power loss",
}


def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Interface to bind. Keep the loopback default unless you mean it.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="REST port (control and data plane); 0 picks a free one.")
    ] = 5080,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            metavar="DIR",
            help="Data dir. Default: --home, else $TENANT_RAG_HOME, else the nearest "
            ".tenant_rag here or in a parent folder, else ./.tenant_rag.",
            show_default=False,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="TENANT_RAG_API_KEY",
            help="Require this key (Api-Key header / gRPC api-key); others are refused (401, "
            "403 on an index).",
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
    durability: Annotated[
        str | None,
        typer.Option(
            "--durability",
            help="process (the default): an acknowledged write survives the server being "
            "killed; power: also an OS crash or power loss (each commit is fsynced; slower, "
            "see docs/reliability.md).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="debug, info (logs each request), warning, error.")
    ] = "info",
) -> None:
    """Serve Pinecone's REST API (and optionally gRPC) from a local, durable data dir.

    While it runs, CLI commands whose data dir is this one use it (it
    advertises itself in the data dir), so their requests show in its log.
    """
    from tenant_rag.cli._common import location
    from tenant_rag.local.discovery import advertise
    from tenant_rag.local.server import LocalServer, resolve_data_dir
    from tenant_rag.local.storage.sqlite import DEFAULT_DURABILITY, check_durability

    try:
        mode = check_durability(durability or DEFAULT_DURABILITY)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    level = log_level.lower()
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        srv = LocalServer(
            resolve_data_dir(data or location(ctx)[0]),
            host=host,
            port=port,
            api_key=api_key,
            grpc=grpc_port is not None,
            grpc_port=grpc_port or 0,
            log_level=level,
            access_log=level in ("debug", "info"),
            tls=tls,
            durability=mode,
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
    try:
        with advertise(
            srv.data_dir,
            srv.url,
            grpc_target=srv.grpc_target,
            key_required=bool(api_key),
            ca_file=str(srv.tls.ca) if srv.tls is not None else None,
        ) as record:
            for line in banner(srv, key_required=bool(api_key), advertised=record):
                typer.echo(line)
            while not stop.is_set() and srv.running:
                stop.wait(0.5)
    finally:
        typer.echo("shutting down")
        srv.stop()


def banner(srv: Any, *, key_required: bool, advertised: Any) -> list[str]:
    """What ``serve`` prints on start: where it serves, and commands that reach it as printed.

    Lines starting with ``  $ `` are shell commands; a test runs each of them.
    """
    from tenant_rag.local.discovery import DATA_DIR_NAME

    ours = advertised is not None and advertised.pid == os.getpid()
    key = "<your key>" if key_required else "local"
    cli_key = "TENANT_RAG_API_KEY=<your key> " if key_required else ""
    lines = [f"tenant_rag local Pinecone serving {srv.url}  (data dir {srv.data_dir})"]
    if srv.grpc_target:
        lines.append(
            f"gRPC data plane on {srv.grpc_target} ({'TLS' if srv.tls else 'plaintext'}; "
            "SDK 7.x/8.x name the index; SDK 9.x/10.x, which do not, reach it alone when it "
            f"is the only index, else on its own port: GET {srv.url}/_local/grpc/<index>)"
        )
    if srv.tls is not None:
        lines.append(srv.tls.trust_instructions())
    lines.append("API key: " + ("required (--api-key)" if key_required else "not required"))
    lines.append(f"Durability: {srv.durability} ({DURABILITY_PROMISE[srv.durability]})")
    if not ours:
        other = f" (pid {advertised.pid}, {advertised.url})" if advertised is not None else ""
        lines.append(
            f"note: another tenant-rag serve{other} already serves this data dir and CLI "
            "commands find that one; reach this one with --server."
        )
    elif srv.data_dir.name == DATA_DIR_NAME:
        lines.append(f"tenant-rag commands run in {srv.data_dir.parent} or below use this server.")
    lines.append("Connect: (from any folder)")
    if ours:  # commands find the CA through the data dir too, so this line works under TLS
        lines.append(f"  $ {cli_key}TENANT_RAG_HOME={srv.data_dir} tenant-rag tenants")
    if srv.tls is None:  # with TLS, other clients first trust the CA (see above)
        lines += [
            f"  $ {cli_key}tenant-rag --server {srv.url} tenants",
            f"  $ PINECONE_API_KEY={key} PINECONE_CONTROLLER_HOST={srv.url} tenant-rag tenants",
            f'Python: Pinecone(api_key="{key}", host="{srv.url}")',
        ]
    else:
        lines.append(
            f'Python: Pinecone(api_key="{key}", host="{srv.url}", ssl_ca_certs="{srv.tls.ca}")'
        )
    return lines


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
