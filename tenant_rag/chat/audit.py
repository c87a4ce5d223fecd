"""One audit line per failed authentication attempt, never the key.

Logger ``tenant_rag.chat.audit`` (WARNING): the outcome, the client address,
the method and path, the reason, and, when a key was presented, a 12-hex-digit
SHA-256 fingerprint of it, which tells repeated attempts with one key apart
from many keys without revealing any of them. Route it to its own file with
``tenant-rag chat-server --audit-log FILE`` or any logging configuration.
"""

from __future__ import annotations

import logging

from fastapi import Request

from tenant_rag.chat.throttle import Decision, fingerprint

audit_log = logging.getLogger("tenant_rag.chat.audit")


def auth_failure(
    request: Request, reason: str, key: str | None = None, decision: Decision | None = None
) -> None:
    """Log one failed attempt: ``reason`` is the error code the client got."""
    client = request.client.host if request.client else "-"
    extra = ""
    if decision is not None and not decision.allowed:
        extra = f" throttled_by={decision.reason} retry_after={decision.retry_after:.0f}s"
    audit_log.warning(
        "auth failed: client=%s %s %s reason=%s key_sha256=%s%s",
        client,
        request.method,
        request.url.path,
        reason,
        fingerprint(key) if key else "-",
        extra,
    )
