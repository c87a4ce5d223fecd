"""API-key check shared by REST and gRPC. The key is compared in constant time and never logged."""

from __future__ import annotations

import hmac

UNAUTHENTICATED_MESSAGE = (
    "Invalid API key. Send the key this server was started with (Api-Key header or "
    "Pinecone(api_key=...)); see LocalServer.api_key."
)


def key_ok(expected: str | None, given: str | None) -> bool:
    """True when no key is configured, or ``given`` equals it."""
    if expected is None:
        return True
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
