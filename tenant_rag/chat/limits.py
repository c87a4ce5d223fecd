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
    """Cap ``POST <upload_path>`` bodies at ``upload_limit`` and all others at ``limit``.

    Refusing is not enough on its own: after a 413 that leaves the body unread, an
    HTTP/1.1 server keeps the connection alive by reading (and dropping) whatever the
    client goes on sending. So the refusal carries ``Connection: close``, which makes
    uvicorn close the connection after it instead of draining the rest:

    * a declared ``Content-Length`` over the cap (or not a number) is refused before a
      byte of the body is read;
    * a body without a declared length (``Transfer-Encoding: chunked``) is counted as
      it arrives and refused at the first byte over the cap; the route behind sees the
      client disconnect, and anything it would still send is dropped.
    """

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
        declared = None
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                declared = value.strip()
                break
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                await self._refuse(
                    send, ChatApiError(400, "bad_content_length", "Content-Length is not a number.")
                )
                return
            if int(declared) > cap:
                await self._refuse(send, self._error(upload))
                return

        seen = 0
        refused = False
        body_done = declared == b"0" or scope.get("method") in ("GET", "HEAD", "DELETE")

        async def counting_receive() -> Message:
            nonlocal seen, refused, body_done
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > cap:  # only a body without a declared length gets here
                    refused = True
                    await self._refuse(send, self._error(upload))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if refused:  # once refused, the refusal is the whole answer
                return
            if message["type"] == "http.response.start" and not body_done:
                # answered before the body was read (a 401 on an upload, a parse error):
                # close afterwards rather than drain the rest of the body
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # the route saw the client disconnect (our doing) and gave up: nothing to add

    async def _refuse(self, send: Send, err: ChatApiError) -> None:
        body = json.dumps(error_body(err.code, err.message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": err.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
