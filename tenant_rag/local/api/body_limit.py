"""The request-size limit at the edge: refuse an oversized body and close the connection.

One mechanism for both servers of tenant_rag: the embedded Pinecone server (2 MB on every
route, Pinecone's limit) and the chat backend (`tenant_rag.chat.app`: uploads get room for
their files, every other route a JSON-sized cap). Each says how large a request may be
(``limit``, per request) and how a refusal looks (``refusal``); the reading and closing
below are shared. It lives here because the embedded server imports nothing else of
tenant_rag, while everything above it may import it.

Refusing is not enough on its own: after an answer that leaves the body unread, an HTTP/1.1
server keeps the connection alive, which means reading (and throwing away) whatever the
client goes on sending: 95 MB, in one test. So:

* a body whose ``Content-Length`` is over the limit (or is not a number) is refused before
  a byte of it is read, and the answer carries ``Connection: close``, so uvicorn closes the
  connection right after it instead of draining the rest;
* a body without a declared length (``Transfer-Encoding: chunked``) is counted as it
  arrives; at the first byte over the limit the same answer goes out, the connection is
  closed, and the app behind sees the client as gone;
* an answer that starts before the app has read the whole body (a wrong key refused
  before an upload is read, a parse error) also carries ``Connection: close``, for the same
  reason: the rest of the body is not worth reading.

A pure ASGI middleware (no body buffering of its own), placed outside the routes and the key
check, so every route is covered by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class Oversize:
    """Why a body was refused, for the refusal's message.

    ``kind``: ``"not_a_number"`` (a ``Content-Length`` that is not a number; ``size`` is
    None), ``"declared"`` (a ``Content-Length`` of ``size`` bytes over ``limit``) or
    ``"streamed"`` (a body without a declared length passed ``limit``; ``size`` is what
    had arrived by then).
    """

    kind: Literal["not_a_number", "declared", "streamed"]
    size: int | None
    limit: int


#: The largest body a request (its scope) may send.
Limit = Callable[[Scope], int]
#: Builds the refusal of a request (its scope): each server's own error shape.
Refusal = Callable[[Scope, Oversize], Response]

_NO_BODY_METHODS = ("GET", "HEAD", "DELETE", "OPTIONS")


class BodyLimitMiddleware:
    """Refuses bodies over ``limit`` (bytes, or a function of the request) with ``refusal``."""

    def __init__(self, app: ASGIApp, limit: int | Limit, refusal: Refusal) -> None:
        self.app = app
        if isinstance(limit, int):
            fixed = limit

            def same(scope: Scope) -> int:
                return fixed

            self.limit: Limit = same
        else:
            self.limit = limit
        self.refusal = refusal

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, why: Oversize) -> None:
        response = self.refusal(scope, why)
        response.headers["connection"] = "close"
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.limit(scope)
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value.decode("latin-1").strip()
                break
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                await self._refuse(scope, receive, send, Oversize("not_a_number", None, cap))
                return
            if int(declared) > cap:
                await self._refuse(scope, receive, send, Oversize("declared", int(declared), cap))
                return

        received = 0
        refused = False
        # the HTTP parser stops at a declared length, so only an undeclared one is counted
        body_done = declared == "0" or (
            declared is None and scope.get("method") in _NO_BODY_METHODS
        )

        async def counted_receive() -> Message:
            nonlocal received, refused, body_done
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > cap:
                    refused = True
                    await self._refuse(scope, receive, send, Oversize("streamed", received, cap))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if refused:  # once refused, the refusal is the whole answer
                return
            if message["type"] == "http.response.start" and not body_done:
                # answered before the body was read: close afterwards rather than drain it
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # the app saw the client disconnect (our doing) and gave up: nothing to report
