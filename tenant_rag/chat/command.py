"""``tenant-rag chat-server``: run the chatbot backend (`tenant_rag.chat`) with uvicorn.

Keys come from ``--keys FILE`` (JSON or TOML: ``{"keys": {"sha256:<hex>": "acme"},
"admin_keys": ["sha256:<hex>"]}``, written by ``tenant-rag chat-keys new --keys FILE``,
reloaded when it changes) or the environment (``TENANT_RAG_CHAT_KEYS=key1=acme,key2=globex``,
``TENANT_RAG_ADMIN_KEY``). User tokens (JWT, `tenant_rag.chat.jwt_auth`) are accepted
beside them when ``--jwt-public-key FILE`` or ``TENANT_RAG_JWT_SECRET`` is set. The data
lives on the embedded server
(``TENANT_RAG_HOME``) unless ``PINECONE_API_KEY`` is set.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Annotated

import typer


def chat_server(
    host: Annotated[
        str, typer.Option(help="Interface to bind. Keep the loopback default unless you mean it.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port; 0 picks a free one.")] = 8000,
    keys: Annotated[
        Path | None,
        typer.Option(
            "--keys",
            help="Keys file (JSON or .toml; reloaded when it changes). Default: "
            "$TENANT_RAG_CHAT_KEYS_FILE, else $TENANT_RAG_CHAT_KEYS / $TENANT_RAG_ADMIN_KEY.",
            show_default=False,
        ),
    ] = None,
    index: Annotated[str, typer.Option(help="Index holding one namespace per tenant.")] = "rag",
    max_upload_mb: Annotated[
        float, typer.Option(help="Largest accepted upload, per file, in MB.")
    ] = 10.0,
    log_level: Annotated[
        str, typer.Option(help="debug, info (logs each request, never keys), warning, error.")
    ] = "info",
    jwt_public_key: Annotated[
        Path | None,
        typer.Option(
            "--jwt-public-key",
            help="PEM public key (RS256 or ES256) verifying user tokens. An HS256 secret is "
            "read from $TENANT_RAG_JWT_SECRET only, never from the command line.",
            show_default=False,
        ),
    ] = None,
    jwt_audience: Annotated[
        str | None, typer.Option(help="Required 'aud' of user tokens.", show_default=False)
    ] = None,
    jwt_issuer: Annotated[
        str | None, typer.Option(help="Required 'iss' of user tokens.", show_default=False)
    ] = None,
    audit_log: Annotated[
        Path | None,
        typer.Option(
            "--audit-log",
            help="Also append the audit lines (one per failed authentication) to this file.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the per-tenant chat backend and its web page (open http://HOST:PORT/)."""
    from tenant_rag.chat.keystore import KeyStore
    from tenant_rag.chat.logs import REDACTOR
    from tenant_rag.errors import ConfigurationError, TenantRagError

    if max_upload_mb <= 0:
        typer.echo("error: --max-upload-mb must be positive.", err=True)
        raise typer.Exit(2)
    from tenant_rag.chat import jwt_auth
    from tenant_rag.chat.config import KeyRing

    env = dict(os.environ)
    for name, value in (
        (jwt_auth.PUBLIC_KEY_FILE_ENV, jwt_public_key),
        (jwt_auth.AUDIENCE_ENV, jwt_audience),
        (jwt_auth.ISSUER_ENV, jwt_issuer),
    ):
        if value is not None:
            env[name] = str(value)
    try:
        jwt = jwt_auth.load_jwt_config(env)
        try:
            ring = KeyStore.load(keys)
        except ConfigurationError:
            if jwt is None or keys is not None:
                raise
            ring = KeyStore(KeyRing.from_mapping({}))  # user tokens only
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    import uvicorn

    try:  # bound before anything is printed or loaded: a busy port fails at once
        sock = _listen(host, port)
    except OSError as exc:
        typer.echo(
            f"error: cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another --port.",
            err=True,
        )
        raise typer.Exit(2) from None

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACTOR)
    logging.basicConfig(level=log_level.upper(), handlers=[handler], force=True)
    if audit_log is not None:
        audit_handler = logging.FileHandler(audit_log, encoding="utf-8")
        audit_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        audit_handler.addFilter(REDACTOR)
        logging.getLogger("tenant_rag.chat.audit").addHandler(audit_handler)

    from tenant_rag.chat.app import create_chat_app
    from tenant_rag.chat.service import ChatLimits

    typer.echo(f"loading models and opening index {index!r} ...")
    try:
        app = create_chat_app(
            keys=ring,
            jwt=jwt,
            index_name=index,
            limits=ChatLimits(max_upload_bytes=int(max_upload_mb * 1024 * 1024)),
        )
    except TenantRagError as exc:
        sock.close()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    bound = int(sock.getsockname()[1])
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"tenant_rag chat backend: open http://{shown}:{bound}/  "
        f"(tenants: {', '.join(ring.tenants) or 'from user tokens'}; admin keys: "
        f"{ring.admin_count}; user tokens: {'on' if jwt is not None else 'off'})"
    )
    # log_config=None keeps our handler (and its redaction filter) for uvicorn's loggers;
    # uvicorn's access log is off because RequestLogMiddleware logs each request without
    # its query string.
    config = uvicorn.Config(
        app,
        host=host,
        port=bound,
        log_config=None,
        log_level=log_level.lower(),
        access_log=False,
        # a streaming answer still open at shutdown is cut after this many seconds, so
        # Ctrl-C or SIGTERM stops the backend in bounded time
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: a free port), for uvicorn to serve on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def main() -> None:
    """Entry point of ``python -m tenant_rag.chat``: the same command, standalone."""
    typer.run(chat_server)
