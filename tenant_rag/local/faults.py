"""Test-only fault injection for the embedded server: 429/500/503, slow answers, dropped connections.

Why it exists: the retry paths (ingestion, queries, offboarding) must be
shown to converge on exactly the right records when the server misbehaves
the way Pinecone can (rate limits, transient 5xx, a connection reset after a
write was applied). A real service cannot be told to fail on cue; this
middleware can.

It is **off unless asked for**: ``start(..., faults=FaultConfig(rate=0.2))``,
or ``TENANT_RAG_FAULTS="rate=0.2"`` in the environment of a process that
calls ``start()``. Nothing else enables it, and ``tenant-rag serve`` does
not read the variable.

``TENANT_RAG_FAULTS`` syntax: comma-separated ``key=value``; keys ``rate``
(0..1), ``kinds`` (``+``-separated subset of :data:`KINDS`), ``slow``
(seconds), ``seed`` (int), ``prefix`` (request paths to fault; default the
data plane, ``/_index/``). Example: ``rate=0.2,kinds=429+503+drop,seed=7``.

Kinds:

* ``429``, ``500``, ``503``: answered at once with Pinecone's error body;
  the request is not applied.
* ``slow``: the request is delayed ``slow`` seconds, then served normally.
* ``drop``: the connection is closed mid-response and the request is not
  applied (the client sees a broken connection, not a status).
* ``drop_after``: the request **is applied**, then the connection is closed
  before the client reads the answer: the case that punishes writes which
  are not idempotent.

The gRPC data plane gets the same faults from `GrpcFaults`, a server
interceptor sharing the middleware's configuration, random stream and
counts: ``429``/``500``/``503`` abort with ``RESOURCE_EXHAUSTED``/``INTERNAL``/
``UNAVAILABLE``; ``drop`` aborts with ``UNAVAILABLE`` before the call runs and
``drop_after`` after it ran (a gRPC client sees a lost connection as
``UNAVAILABLE``, which the SDK's channel itself retries).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ENV_VAR = "TENANT_RAG_FAULTS"
KINDS: tuple[str, ...] = ("429", "500", "503", "slow", "drop", "drop_after")
_STATUS = {
    "429": (429, "RESOURCE_EXHAUSTED"),
    "500": (500, "INTERNAL"),
    "503": (503, "UNAVAILABLE"),
}


class InjectedDrop(Exception):
    """Raised inside the ASGI app so uvicorn closes the connection mid-response."""


@dataclass(frozen=True)
class FaultConfig:
    """What to inject and how often. ``rate`` is the share of matching requests that get a fault."""

    rate: float = 0.2
    kinds: tuple[str, ...] = KINDS
    slow: float = 0.2
    seed: int | None = None
    prefix: str = "/_index/"

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be in [0, 1], got {self.rate}.")
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds:
            raise ValueError(
                f"fault kinds must be a non-empty subset of {KINDS}, got {self.kinds}."
            )
        if self.slow < 0:
            raise ValueError("slow must be >= 0 seconds.")

    @classmethod
    def from_env(cls, value: str | None = None) -> FaultConfig | None:
        """Parse ``TENANT_RAG_FAULTS`` (or ``value``); None when unset or empty."""
        text = os.environ.get(ENV_VAR, "") if value is None else value
        if not text.strip():
            return None
        args: dict[str, Any] = {}
        for part in text.split(","):
            key, sep, raw = part.strip().partition("=")
            if not sep:
                raise ValueError(f"{ENV_VAR}: expected key=value, got {part!r}.")
            if key == "rate":
                args["rate"] = float(raw)
            elif key == "kinds":
                args["kinds"] = tuple(k for k in raw.split("+") if k)
            elif key == "slow":
                args["slow"] = float(raw)
            elif key == "seed":
                args["seed"] = int(raw)
            elif key == "prefix":
                args["prefix"] = raw
            else:
                raise ValueError(
                    f"{ENV_VAR}: unknown key {key!r} (rate, kinds, slow, seed, prefix)."
                )
        return cls(**args)


@dataclass
class FaultMiddleware:
    """ASGI middleware that injects the configured faults; ``counts`` says what it did."""

    app: ASGIApp
    config: FaultConfig
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()
        # uvicorn logs every exception an app raises with a traceback; an injected drop is
        # not an error worth a traceback, so only its one-line count is kept (``counts``)
        uvicorn_error = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, _QuietDrops) for f in uvicorn_error.filters):
            uvicorn_error.addFilter(_QuietDrops())

    def draw(self, path: str, *, data_plane: bool = False) -> str | None:
        """The fault for one request (None: serve it); ``data_plane`` skips the path test."""
        if not data_plane and not path.startswith(self.config.prefix):
            return None
        with self._lock:
            self.counts["requests"] += 1
            if self._rng.random() >= self.config.rate:
                return None
            kind = self._rng.choice(self.config.kinds)
            self.counts[kind] += 1
            return kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = self.draw(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
        elif kind in _STATUS:
            status, code = _STATUS[kind]
            body = json.dumps({"code": code, "message": f"injected fault: {status}"}).encode()
            await _respond(send, status, body)
        elif kind == "slow":
            await asyncio.sleep(self.config.slow)
            await self.app(scope, receive, send)
        else:
            if kind == "drop_after":
                await self.app(scope, receive, _swallow)  # applied; the answer is lost
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise InjectedDrop(f"injected fault: {kind}")


class GrpcFaults:
    """gRPC server interceptor injecting `FaultMiddleware`'s faults into every data-plane call.

    Shares the middleware (its live ``config``, random stream and ``counts``),
    so one switch drives both transports. Registered by `LocalServer` only
    when fault mode is on. gRPC only calls ``intercept_service``, so no base class
    (and no gRPC import) is needed until a call arrives.
    """

    def __init__(self, faults: FaultMiddleware) -> None:
        self.faults = faults

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        import grpc  # here, not at module level: a REST-only server never loads gRPC (~8 MB)

        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        def call(request: Any, context: Any) -> Any:
            kind = self.faults.draw(details.method, data_plane=True)
            if kind is None:
                return inner(request, context)
            if kind in _STATUS:
                status, code = _STATUS[kind]
                context.abort(grpc.StatusCode[code], f"injected fault: {status}")
            if kind == "slow":
                time.sleep(self.faults.config.slow)
                return inner(request, context)
            if kind == "drop_after":
                inner(request, context)  # applied; the answer is lost
            context.abort(grpc.StatusCode.UNAVAILABLE, f"injected fault: {kind}")

        return grpc.unary_unary_rpc_method_handler(
            call,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class _QuietDrops(logging.Filter):
    """Drop uvicorn's traceback for an :class:`InjectedDrop` (every other record passes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedDrop)


async def _swallow(message: Message) -> None:
    return None


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
