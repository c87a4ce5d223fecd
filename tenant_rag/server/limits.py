"""Upload limits enforced while the body arrives, not after it is stored.

FastAPI parses a multipart body before the route runs, so a per-file check
in the route alone would still accept (and spool) an arbitrarily large
request. This middleware refuses an upload whose declared or actual size
exceeds the cap with a 413 as soon as it knows.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenant_rag.server.errors import ApiError, error_body


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "upload_too_large",
        f"upload too large: the limit is {limit:,} bytes per file "
        "(start the server with --max-upload-mb to change it).",
    )


class BodyLimitMiddleware:
    """Cap the request body of ``POST <path>`` at ``limit`` bytes."""

    def __init__(self, app: ASGIApp, *, path: str, limit: int, per_file_limit: int) -> None:
        self.app, self.path, self.limit, self.per_file_limit = app, path, limit, per_file_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path", "").rstrip("/") == self.path
        ):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise too_large(self.per_file_limit)
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, send: Send) -> None:
        err = too_large(self.per_file_limit)
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
