"""Request logging that can never carry a key.

Nothing in the server logs a header or a key on purpose; this module is the
second line. `RedactingFilter` rewrites any log record that contains a
configured key, or anything shaped like ``Bearer <token>``, a signed user
token (JWT) or an ``Authorization`` header, before a handler sees it. It is installed on the
loggers the server's stack writes to (ours, uvicorn's, FastAPI's, the SSE
library's) and on the handler the CLI configures.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tenant_rag.chat")

REDACTED = "[REDACTED]"
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+")
_AUTH_HEADER = re.compile(
    r"(?i)(['\"]?(?:authorization|api[-_]?key|x-api-key)['\"]?\s*[:=,]\s*(?:b?['\"])?)"
    r"(?!\[REDACTED\])[^'\"\s,;)\]]+(?:\s+[^'\"\s,;)\]]+)?"
)
#: A signed user token (JWT) anywhere in a message: three base64url parts, the first two JSON.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
#: Loggers whose records are filtered (filters on a logger do not see its children's records).
REDACTED_LOGGERS = (
    "tenant_rag",
    "tenant_rag.chat",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "fastapi",
    "starlette",
    "sse_starlette",
    "sse_starlette.sse",
    "httpx",
)


class RedactingFilter(logging.Filter):
    """Replace configured keys and bearer tokens in a record's message and args."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add_secrets(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets = self._secrets | frozenset(s for s in secrets if s)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _JWT.sub(REDACTED, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bytes | bytearray):
            text = bytes(value).decode("utf-8", "replace")
            cleaned = self.redact(text)
            return value if cleaned == text else cleaned
        if isinstance(value, int | float | bool) or value is None:
            return value
        text = repr(value)
        cleaned = self.redact(text)
        return value if cleaned == text else cleaned

    def filter(self, record: logging.LogRecord) -> bool:
        # Keep the args' shape (uvicorn's access formatter unpacks a 5-tuple).
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._clean(v) for k, v in record.args.items()}
        return True


REDACTOR = RedactingFilter()


def install_redaction(secrets: Iterable[str], *, handlers: Iterable[logging.Handler] = ()) -> None:
    """Register keys for redaction and attach the filter (idempotent)."""
    REDACTOR.add_secrets(secrets)
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)
    for handler in handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)


class RequestLogMiddleware:
    """Log one line per request: method, path, status, tenant, milliseconds.

    Only the tenant id (from the authenticated principal) is logged; headers,
    query strings and bodies are not.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        scope.setdefault("state", {})  # shared with Request.state, which records the principal

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            principal = scope.get("state", {}).get("principal")
            who = "-"
            if principal is not None:
                who = "admin" if principal.admin else f"tenant={principal.tenant}"
            log.info(
                "%s %s -> %d (%s) %.0f ms",
                scope.get("method", "?"),
                scope.get("path", "?"),
                status,
                who,
                (time.perf_counter() - started) * 1000,
            )
