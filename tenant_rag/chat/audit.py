"""One audit line per failed authentication attempt, never the key.

Logger ``tenant_rag.chat.audit`` (WARNING): the outcome, the client address,
the method and path, the reason, and, when a key was presented, a 12-hex-digit
SHA-256 fingerprint of it, which tells repeated attempts with one key apart
from many keys without revealing any of them. Route it to its own file with
``tenant-rag chat-server --audit-log FILE`` or any logging configuration.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Protocol

from fastapi import Request

audit_log = logging.getLogger("tenant_rag.chat.audit")


class Decision(Protocol):
    """What the audit line says of a throttle decision (`tenant_rag.chat.throttle.Decision`).

    A protocol, so that the throttle can write audit lines without this module importing it.
    """

    @property
    def allowed(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def retry_after(self) -> float: ...


def fingerprint(key: str) -> str:
    """A short, one-way label of a presented key for the audit log (never the key)."""
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12]


def auth_failure(
    request: Request, reason: str, key: str | None = None, decision: Decision | None = None
) -> None:
    """Log one failed attempt: ``reason`` is the error code the client got."""
    client = request.client.host if request.client else "-"
    _line(client, request.method, request.url.path, reason, key, decision)


def refused_at_edge(scope: Any, key: str, decision: Decision) -> None:
    """Log an attempt the throttle refused before routing (`ThrottleMiddleware`)."""
    client = scope.get("client")
    _line(
        client[0] if client else "-",
        scope.get("method", "?"),
        scope.get("path", "?"),
        "too_many_failed_attempts",
        key,
        decision,
    )


def _line(
    client: str, method: str, path: str, reason: str, key: str | None, decision: Decision | None
) -> None:
    extra = ""
    if decision is not None and not decision.allowed:
        extra = f" throttled_by={decision.reason} retry_after={decision.retry_after:.0f}s"
    audit_log.warning(
        "auth failed: client=%s %s %s reason=%s key_sha256=%s%s",
        client,
        method,
        path,
        reason,
        fingerprint(key) if key else "-",
        extra,
    )
