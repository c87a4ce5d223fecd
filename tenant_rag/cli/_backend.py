"""Which Pinecone a CLI command talks to, and the one stderr line that says so.

In this order:

1. ``--server URL`` (or ``$TENANT_RAG_SERVER``): that server, e.g. a
   ``tenant-rag serve`` on another port or machine.
2. ``$PINECONE_API_KEY``: Pinecone (the SDK honours ``$PINECONE_CONTROLLER_HOST``).
3. Otherwise the data dir (``--home``, ``$TENANT_RAG_HOME``, the nearest
   ``.tenant_rag`` here or in a parent folder, else ``./.tenant_rag``): the
   ``tenant-rag serve`` running over it when there is one, else an embedded
   server inside this command's process.

A command that only reads never creates a data dir: with none found it
stops with a message saying where it looked. A server named by URL is probed
with one TCP connect first, so a dead one fails in milliseconds with a
message that mentions ``tenant-rag serve``, instead of after the SDK's
retries.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

SERVER_ENV = "TENANT_RAG_SERVER"
API_KEY_ENV = "TENANT_RAG_API_KEY"
_PROBE_TIMEOUT = 2.0

_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Any] = {}


class ServerUnreachableError(ConnectionError):
    """The server a command was pointed at does not accept connections."""


@dataclass(frozen=True)
class Backend:
    """Where a command's requests go.

    ``kind``: ``"server"`` (named by URL), ``"cloud"`` (``PINECONE_API_KEY``),
    ``"serve"`` (a running ``tenant-rag serve`` found through the data dir) or
    ``"embedded"`` (a server inside this process).
    """

    kind: str
    description: str
    url: str | None = None
    data_dir: Path | None = None
    api_key: str | None = None
    #: the CA to trust for a ``tenant-rag serve --tls`` found through its data dir
    ca_file: str | None = None

    @property
    def line(self) -> str:
        """The one line every command prints on stderr."""
        return f"backend: {self.description}"


def choose(*, server: str | None = None, home: Path | None = None, writes: bool) -> Backend:
    """The backend for a command; ``writes=False`` refuses to create a data dir."""
    from tenant_rag.errors import ConfigurationError

    named = server or os.environ.get(SERVER_ENV, "").strip() or None
    if named:
        source = "--server" if server else SERVER_ENV
        url = _normalise_url(named, source)
        return Backend(
            "server",
            f"the server at {url} (from {source})",
            url=url,
            api_key=os.environ.get(API_KEY_ENV) or None,
        )
    if os.environ.get("PINECONE_API_KEY"):
        host = os.environ.get("PINECONE_CONTROLLER_HOST", "").strip()
        where = f"the Pinecone API at {host} (PINECONE_CONTROLLER_HOST)" if host else "Pinecone"
        return Backend("cloud", f"{where}, key from PINECONE_API_KEY", url=host or None)
    if os.environ.get("PINECONE_CONTROLLER_HOST"):
        raise ConfigurationError(
            "PINECONE_CONTROLLER_HOST is set but PINECONE_API_KEY is not. To use a "
            "`tenant-rag serve`, unset PINECONE_CONTROLLER_HOST (commands find the server "
            "of their data dir) or pass --server URL; to use another Pinecone API, set "
            "PINECONE_API_KEY too."
        )

    from tenant_rag.local.discovery import (
        DATA_DIR_NAME,
        HOME_ENV,
        find_data_dir,
        running_server,
    )

    if home is not None:
        data_dir, origin = home.expanduser().resolve(), "--home"
    else:
        found = find_data_dir()
        if found is not None:
            data_dir = found
            origin = HOME_ENV if os.environ.get(HOME_ENV, "").strip() else "found"
        else:
            data_dir, origin = (Path.cwd() / DATA_DIR_NAME).resolve(), "new"
    if not data_dir.is_dir():
        if not writes:
            raise ConfigurationError(_no_data_dir(data_dir, origin))
        if data_dir.exists():
            raise ConfigurationError(f"the data dir {data_dir} exists but is not a folder.")

    record = running_server(data_dir) if data_dir.is_dir() else None
    if record is not None:
        key = None
        if record.key_required:
            key = os.environ.get(API_KEY_ENV) or None
            if not key:
                raise ConfigurationError(
                    f"the tenant-rag serve at {record.url} (pid {record.pid}) for data dir "
                    f"{data_dir} requires an API key: set {API_KEY_ENV} to it."
                )
        return Backend(
            "serve",
            f"tenant-rag serve at {record.url} (pid {record.pid}), data dir {data_dir}",
            url=record.url,
            data_dir=data_dir,
            api_key=key,
            ca_file=record.ca_file,
        )
    created = "" if data_dir.is_dir() else " (new)"
    return Backend(
        "embedded",
        f"embedded server in this process (no tenant-rag serve running), data dir "
        f"{data_dir}{created}",
        data_dir=data_dir,
    )


def open_client(backend: Backend) -> Any:
    """A ``pinecone.Pinecone`` for ``backend``; one per backend per process."""
    if backend.kind == "cloud":
        if backend.url:
            probe(backend.url, hint="unset PINECONE_CONTROLLER_HOST to use Pinecone itself")
        from tenant_rag.connection import connect

        return connect()
    if backend.kind in ("server", "serve"):
        assert backend.url is not None
        hint = (
            f"start it with `tenant-rag serve`, or unset {SERVER_ENV}"
            if backend.kind == "server"
            else "start it again with `tenant-rag serve`"
        )
        probe(backend.url, hint=hint)
        port = urlparse(backend.url).port
        # Without a configured key the server takes any; a key per server keeps the SDK's
        # process-wide index-host cache from mixing two servers' hosts.
        key = backend.api_key or f"local-{port}"
        cache_key: tuple[Any, ...] = ("url", backend.url, key)
        with _lock:
            client = _clients.get(cache_key)
            if client is None:
                from pinecone import Pinecone

                client = Pinecone(
                    api_key=key,
                    host=backend.url,
                    source_tag="tenant_rag",
                    ssl_ca_certs=backend.ca_file,  # None: the system's trust store
                )
                _clients[cache_key] = client
            return client
    assert backend.data_dir is not None
    with _lock:
        client = _clients.get(("embedded", str(backend.data_dir)))
        if client is None:
            from tenant_rag.local import shared_server

            client = shared_server(backend.data_dir).client()
            _clients[("embedded", str(backend.data_dir))] = client
        return client


def probe(url: str, *, hint: str) -> None:
    """One TCP connect to ``url``'s host and port; raise `ServerUnreachableError` if it fails."""
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT):
            return
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError | socket.timeout):
            why = f"no answer within {_PROBE_TIMEOUT:g} s"
        raise ServerUnreachableError(
            f"cannot reach the server at {url} ({why}). Is `tenant-rag serve` running? {hint}."
        ) from None


def reset_for_tests() -> None:
    """Forget cached clients (tests that stop servers)."""
    with _lock:
        _clients.clear()


def _normalise_url(value: str, source: str) -> str:
    from tenant_rag.errors import ConfigurationError

    url = value.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigurationError(
            f"{source}={value!r} is not a server URL; use e.g. http://127.0.0.1:5080."
        )
    return url


def _no_data_dir(data_dir: Path, origin: str) -> str:
    if origin == "--home":
        return f"the data dir {data_dir} (from --home) does not exist."
    if origin == "TENANT_RAG_HOME":
        return f"the data dir {data_dir} (from TENANT_RAG_HOME) does not exist."
    return (
        f"no tenant_rag data here: no .tenant_rag folder in {Path.cwd()} or any parent folder. "
        "Run the command from your project folder, point at the data with --home DIR or "
        "TENANT_RAG_HOME=DIR, or ingest documents first (`tenant-rag ingest -t TENANT PATH` "
        "creates ./.tenant_rag)."
    )
