"""API-key check shared by REST and gRPC. The key is compared in constant time and never logged."""

from __future__ import annotations

import hmac

# Pinecone's own sentences first (control plane: its specs' 401 example; data plane:
# SDK 8.1.2's integration test), then what to do about it here.
_ADVICE = (
    "Send the key this server was started with (Api-Key header or "
    "Pinecone(api_key=...)); see LocalServer.api_key."
)
UNAUTHENTICATED_MESSAGE = f"Invalid API key. {_ADVICE}"
WRONG_KEY_MESSAGE = f"Wrong API key. {_ADVICE}"


def key_ok(expected: str | None, given: str | None) -> bool:
    """True when no key is configured, or ``given`` equals it."""
    if expected is None:
        return True
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
