"""Retry of transient Pinecone failures: 429 and 5xx, with exponential backoff and full jitter.

Retrying is safe for every call the stores, ingestion and offboarding make
because each one is idempotent: record ids are fixed before the first try
(``{doc_id}#{n}`` for documents), so an upsert sent twice writes the same
records, and deleting an id twice is a no-op.

What counts as transient: HTTP 429 and any 5xx (REST, ``.status`` on the
SDK's exceptions), urllib3's ``MaxRetryError`` (what the sync SDK raises
after its own 5xx retries), connection resets and timeouts, and the gRPC
codes ``UNAVAILABLE``, ``RESOURCE_EXHAUSTED``, ``INTERNAL``, ``DEADLINE_EXCEEDED``
and ``ABORTED``. Everything else (400 validation, 401, 404, a quota refusal) is
raised at once: retrying cannot fix it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenant_rag.tenancy.sdk_errors import grpc_code_name, http_status

T = TypeVar("T")

#: the gRPC twins of 429 and 5xx (INTERNAL is 500), plus the codes gRPC itself calls retryable
_TRANSIENT_GRPC = {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED"}
_TRANSIENT_NAMES = {
    "MaxRetryError",
    "ProtocolError",
    "NewConnectionError",
    "ReadTimeoutError",
    "ConnectTimeoutError",
    "ServerDisconnectedError",
    "ClientConnectionError",
}


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same request may succeed.

    A gRPC error is judged by its code name alone (``INTERNAL``, ``ABORTED`` and
    ``DEADLINE_EXCEEDED`` retry; ``UNIMPLEMENTED``, a 501, does not);
    anything else by its HTTP status, then by its transport error type.
    """
    name = grpc_code_name(exc)
    if name is not None:
        return name in _TRANSIENT_GRPC
    status = http_status(exc)
    if status is not None:
        return status == 429 or status >= 500
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return any(
        err is not None and type(err).__name__ in _TRANSIENT_NAMES for err in (exc, exc.__cause__)
    )


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**attempt)).

    Full jitter spreads the retries of many concurrent writers apart, which
    is what a 429 asks for. ``attempts`` counts the first try.
    """

    attempts: int = 6
    base: float = 0.25
    cap: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    #: how many retries this policy has made (all calls together), for reports and tests
    retries: int = 0

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0.0, min(self.cap, self.base * (2**attempt)))

    def call(self, fn: Callable[[], T], *, what: str = "request") -> T:
        """Run ``fn``; retry transient failures; re-raise the last one when attempts run out."""
        for attempt in range(self.attempts):
            try:
                return fn()
            except Exception as exc:
                if not is_transient(exc) or attempt == self.attempts - 1:
                    raise
                self.retries += 1
                self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover


def no_retry() -> RetryPolicy:
    """A policy that tries once (for tests that want to see the first failure)."""
    return RetryPolicy(attempts=1)


#: The stores' policy for every call (LangChain and LlamaIndex alike; stateless, so shared).
#: The SDK retries 5xx itself but not 429.
READ_WRITE_RETRY = RetryPolicy()
