"""Request-size limits enforced while the body arrives, not after it is stored.

FastAPI parses a multipart body before the route runs, so a per-file check
in the route alone would still accept (and spool) an arbitrarily large
request, and a JSON route would read any body into memory. The chat backend
therefore refuses a request whose declared or actual size exceeds its cap with
a 413 as soon as it knows: uploads get room for every file at its cap, every
other route a small JSON-sized cap. The reading, counting and closing are the
embedded server's own edge middleware
(`tenant_rag.local.api.body_limit.BodyLimitMiddleware`), so both servers refuse
oversized bodies the same way; this module says only how large and how the
refusal reads.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Scope

from tenant_rag.chat.errors import ChatApiError, error_body
from tenant_rag.local.api.body_limit import BodyLimitMiddleware, Oversize


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


def body_limit(
    app: ASGIApp,
    *,
    upload_path: str,
    upload_limit: int,
    per_file_limit: int,
    limit: int,
) -> BodyLimitMiddleware:
    """Cap ``POST <upload_path>`` bodies at ``upload_limit`` and all others at ``limit``.

    A ``Content-Length`` that is not a number gets 400 ``bad_content_length``; a body
    over its cap 413 ``upload_too_large`` (naming the per-file cap, which is what the
    user can act on) or ``body_too_large``. Every refusal closes the connection.
    """

    def is_upload(scope: Scope) -> bool:
        return scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == upload_path

    def cap(scope: Scope) -> int:
        return upload_limit if is_upload(scope) else limit

    def refusal(scope: Scope, why: Oversize) -> Response:
        if why.kind == "not_a_number":
            err = ChatApiError(400, "bad_content_length", "Content-Length is not a number.")
        elif is_upload(scope):
            err = too_large(per_file_limit)
        else:
            err = body_too_large(limit)
        return JSONResponse(error_body(err.code, err.message), status_code=err.status)

    return BodyLimitMiddleware(app, cap, refusal)
