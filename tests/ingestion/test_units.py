"""Byte- and count-aware batching, retry classification and backoff, record id scheme."""

from __future__ import annotations

import json
import random

import pytest
from pinecone.exceptions import NotFoundException, PineconeApiException, ServiceException

from tenant_rag.tenancy.batching import MAX_REQUEST_BYTES, batches, record_bytes
from tenant_rag.tenancy.retry import RetryPolicy, is_transient


def rec(i: int, dim: int = 384, text: str = "") -> dict:
    return {"id": f"doc#{i}", "values": [-0.012345678901234567] * dim, "metadata": {"text": text}}


def test_record_bytes_is_an_upper_bound_on_the_json_body() -> None:
    r = rec(1, text="é" * 1000)
    assert record_bytes(r) >= len(json.dumps(r).encode())


def test_batches_respect_the_byte_budget_with_large_metadata() -> None:
    records = [(i, rec(i, text="x" * 30_000)) for i in range(200)]  # ~40 KB each
    out = list(batches(records))
    assert sum(len(b) for b in out) == 200
    for b in out:
        body = json.dumps({"vectors": b.records, "namespace": "acme"}).encode()
        assert len(body) < MAX_REQUEST_BYTES
        assert len(b) < 100  # LangChain's count-only batching would send far more per request
    assert [o for b in out for o in b.owners] == list(range(200))  # order kept


def test_batches_respect_the_count_limit() -> None:
    out = list(batches(((i, rec(i, dim=2)) for i in range(2500)), max_records=1000))
    assert [len(b) for b in out] == [1000, 1000, 500]


def test_batches_refuse_impossible_limits_and_records() -> None:
    with pytest.raises(ValueError):
        list(batches([], max_records=1001))
    with pytest.raises(ValueError, match="more than one upsert request may carry"):
        list(batches([(0, rec(0, dim=200_000))]))


@pytest.mark.parametrize(
    "exc, transient",
    [
        (PineconeApiException(status=429, reason="Too Many Requests"), True),
        (ServiceException(status=503, reason="Unavailable"), True),
        (PineconeApiException(status=400, reason="Bad Request"), False),
        (NotFoundException(status=404, reason="Not Found"), False),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (ValueError("bad"), False),
    ],
)
def test_transient_classification(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_urllib3_max_retry_error_is_transient() -> None:
    from urllib3.exceptions import MaxRetryError

    assert is_transient(MaxRetryError(None, "/vectors/upsert", "too many 503 error responses"))


def test_retry_backs_off_exponentially_with_jitter_then_gives_up() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=5, base=0.5, cap=3.0, sleep=sleeps.append, rng=random.Random(0))
    calls = 0

    def always_429() -> None:
        nonlocal calls
        calls += 1
        raise PineconeApiException(status=429, reason="Too Many Requests")

    with pytest.raises(PineconeApiException):
        policy.call(always_429)
    assert calls == 5 and len(sleeps) == 4 and policy.retries == 4
    caps = [min(3.0, 0.5 * 2**a) for a in range(4)]
    assert all(0 <= s <= c for s, c in zip(sleeps, caps, strict=True))
    assert len(set(sleeps)) == 4  # jittered, not a fixed schedule


def test_retry_does_not_retry_what_cannot_succeed() -> None:
    policy = RetryPolicy(attempts=5, sleep=lambda _s: None)
    calls = 0

    def bad_request() -> None:
        nonlocal calls
        calls += 1
        raise PineconeApiException(status=400, reason="Bad Request")

    with pytest.raises(PineconeApiException):
        policy.call(bad_request)
    assert calls == 1
