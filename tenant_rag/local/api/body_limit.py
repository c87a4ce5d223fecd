"""The request-size limit at the edge: refuse an oversized body and close the connection.

Pinecone refuses requests over 2 MB. Refusing is not enough on its own: after a 400 that
leaves the body unread, an HTTP/1.1 server keeps the connection alive, which means reading
(and throwing away) whatever the client goes on sending: 95 MB, in one test. So:

* a body whose ``Content-Length`` is over the limit (or is not a number) is refused before
  a byte of it is read, and the answer carries ``Connection: close``, so uvicorn closes the
  connection right after it instead of draining the rest;
* a body without a declared length (``Transfer-Encoding: chunked``) is counted as it
  arrives; at the first byte over the limit the same answer goes out, the connection is
  closed, and the app behind sees the client as gone.

A pure ASGI middleware (no body buffering of its own), outermost, so every route, the
key check included, is covered by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Builds the refusal for a request (its scope) from a message: Pinecone's error shape.
Refusal = Callable[[Scope, str], Response]


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with ``refusal(...)`` plus ``Connection: close``."""

    def __init__(self, app: ASGIApp, max_bytes: int, refusal: Refusal) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refusal = refusal

    def _message(self, size: str) -> str:
        return (
            f"request body is {size} bytes; the limit is {self.max_bytes} bytes (2 MB). "
            "Send fewer records per upsert."
        )

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        response = self.refusal(scope, self._message(size))
        response.headers["connection"] = "close"
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value.decode("latin-1").strip()
                break
        number = declared is not None and declared.isascii() and declared.isdigit()
        if declared is not None and (not number or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send, declared if number else "unknown")
            return
        if declared is not None:  # the HTTP parser stops at the declared length
            await self.app(scope, receive, send)
            return

        received = 0
        refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await self._refuse(scope, receive, send, f"more than {self.max_bytes}")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once refused, the refusal is the whole answer
                await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # the app saw the client disconnect (our doing) and gave up: nothing to report
