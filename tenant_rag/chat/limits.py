"""Request-size limits enforced while the body arrives, not after it is stored.

FastAPI parses a multipart body before the route runs, so a per-file check
in the route alone would still accept (and spool) an arbitrarily large
request, and a JSON route would read any body into memory. This middleware
refuses a request whose declared or actual size exceeds its cap with a 413 as
soon as it knows: uploads get room for every file at its cap, every other
route a small JSON-sized cap.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenant_rag.chat.errors import ChatApiError, error_body


def too_large(limit: int) -> ChatApiError:
    return ChatApiError(
        413,
        "upload_too_large",
        f"upload too large: the limit is {limit:,} bytes per file "
        "(start the server with --max-upload-mb to change it).",
    )


def body_too_large(limit: int) -> ChatApiError:
    return ChatApiError(
        413, "body_too_large", f"request body too large: the limit is {limit:,} bytes."
    )


class BodyLimitMiddleware:
    """Cap ``POST <upload_path>`` bodies at ``upload_limit`` and all others at ``limit``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        upload_path: str,
        upload_limit: int,
        per_file_limit: int,
        limit: int,
    ) -> None:
        self.app = app
        self.upload_path = upload_path
        self.upload_limit, self.per_file_limit, self.limit = upload_limit, per_file_limit, limit

    def _error(self, upload: bool) -> ChatApiError:
        return too_large(self.per_file_limit) if upload else body_too_large(self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = (
            scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == self.upload_path
        )
        cap = self.upload_limit if upload else self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await self._refuse(send, self._error(upload))
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise self._error(upload)
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, send: Send, err: ChatApiError) -> None:
        body = json.dumps(error_body(err.code, err.message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
