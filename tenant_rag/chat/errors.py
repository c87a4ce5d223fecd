"""Every failure becomes a JSON error with a status that says whose fault it is.

Bad input is the caller's fault and gets a 4xx naming what to fix; the
library's own refusals (`TenantRagError`) are mapped here once, so no route
can turn a bad tenant id or a quota into a 500. Error bodies have one shape,
``{"detail": "<message>", "code": "<machine code>"}``, and never echo a key.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tenant_rag.errors import (
    ConfigurationError,
    DocumentConflictError,
    IngestError,
    InvalidTenantError,
    QuotaExceededError,
    TenantIsolationError,
    TenantRagError,
)
from tenant_rag.tenancy.sdk_errors import http_status

log = logging.getLogger("tenant_rag.chat")
#: Exceptions meaning "the vector store could not be reached" (SDK and transport).
_UNAVAILABLE = frozenset(
    {"MaxRetryError", "ServiceException", "ConnectionError", "NewConnectionError", "ProtocolError"}
)


class ChatApiError(Exception):
    """An error response: HTTP status, a stable machine code and a human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.extra = extra or {}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"detail": message, "code": code, **extra}


def status_for(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and code for one of tenant_rag's own errors."""
    if isinstance(exc, InvalidTenantError):
        return 400, "invalid_tenant"
    if isinstance(exc, TenantIsolationError):
        return 403, "isolation_violation"
    if isinstance(exc, QuotaExceededError):
        return 429, "quota_exceeded"
    if isinstance(exc, DocumentConflictError):
        return 409, "document_conflict"
    if isinstance(exc, IngestError):
        return 422, "ingest_failed"
    if isinstance(exc, ConfigurationError):
        return 503, "server_misconfigured"
    if type(exc).__name__ == "OffboardVerificationError":  # eventual consistency: retry later
        return 503, "offboard_unverified"
    return 400, "rejected"


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every failure the JSON error shape."""

    @app.exception_handler(ChatApiError)
    async def _api_error(request: Request, exc: ChatApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.extra),
            status_code=exc.status,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"{where}: {msg}")
        message = "invalid request: " + "; ".join(problems)
        return JSONResponse(error_body("invalid_request", message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(TenantRagError)
    async def _tenant_rag(request: Request, exc: TenantRagError) -> JSONResponse:
        status, code = status_for(exc)
        if isinstance(exc, TenantIsolationError):
            log.warning("isolation refusal on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(error_body(code, str(exc)), status_code=status)

    async def _store_error(request: Request, exc: Exception) -> JSONResponse:
        """The vector store failed (SDK or transport error): 429/503, never a bare 500."""
        status = http_status(exc)
        if status == 429:
            return JSONResponse(
                error_body("rate_limited", "the vector store is rate limiting; retry shortly."),
                status_code=429,
            )
        if (status is not None and status >= 500) or type(exc).__name__ in _UNAVAILABLE:
            log.error(
                "vector store unavailable on %s %s: %s",
                request.method,
                request.url.path,
                type(exc).__name__,
            )
            return JSONResponse(
                error_body("store_unavailable", "the vector store is unavailable; retry shortly."),
                status_code=503,
            )
        return await _unexpected(request, exc)

    # Registered per class so they are handled inside the app; the catch-all below
    # also re-raises to the ASGI server, which logs a traceback.
    from pinecone.exceptions import PineconeException
    from urllib3.exceptions import HTTPError as Urllib3Error

    for cls in (PineconeException, Urllib3Error, ConnectionError):
        app.add_exception_handler(cls, _store_error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unhandled error on %s %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc_info=exc,
        )
        return JSONResponse(
            error_body("internal_error", "internal error; the server log has the details."),
            status_code=500,
        )
