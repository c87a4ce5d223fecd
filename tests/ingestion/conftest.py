"""Fixtures for ingestion tests: a fresh index on the shared embedded server, test embeddings,
an upsert counter fed by usage events, and a fault-injecting wrapper around the SDK index."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pinecone.exceptions import PineconeApiException, ServiceException

from tenant_rag.connection import ensure_index
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.tenancy import usage
from tenant_rag.tenancy.retry import RetryPolicy

DIM = 64


@pytest.fixture
def index(shared_local_server: LocalServer) -> Any:
    """A new, empty 64-d index on the shared embedded server (real SDK, REST)."""
    return ensure_index(shared_local_server.client(), f"ing-{uuid.uuid4().hex[:12]}", dimension=DIM)


@pytest.fixture
def emb() -> HashingTestEmbeddings:
    return HashingTestEmbeddings(dimension=DIM)


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """Retries without sleeping, so fault-injection tests stay fast."""
    return RetryPolicy(attempts=12, base=0.0, sleep=lambda _s: None, rng=random.Random(7))


@dataclass
class WriteCounter:
    """Upserted and deleted record counts per tenant, from the usage events PinnedIndex emits."""

    upserted: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    def __call__(self, event: usage.UsageEvent) -> None:
        if event.operation == "upsert":
            self.upserted[event.tenant] = self.upserted.get(event.tenant, 0) + event.records
        elif event.operation == "delete":
            self.deleted[event.tenant] = self.deleted.get(event.tenant, 0) + event.records

    def reset(self) -> None:
        self.upserted.clear()
        self.deleted.clear()


@pytest.fixture
def writes() -> Iterator[WriteCounter]:
    counter = WriteCounter()
    remove = usage.add_listener(counter)
    try:
        yield counter
    finally:
        remove()


def stored(index: Any, namespace: str) -> dict[str, dict[str, Any]]:
    """Every record of a namespace, read with the raw SDK: id -> {metadata, values}."""
    ids = [rid for page in index.list(namespace=namespace) for rid in page]
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        resp = index.fetch(ids=ids[start : start + 500], namespace=namespace)
        for rid, vec in resp.vectors.items():
            # ingested_at is when a version was written (wall clock), not part of its content
            md = {k: v for k, v in (vec.metadata or {}).items() if k != "ingested_at"}
            out[rid] = {"metadata": md, "values": list(vec.values)}
    return out


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def paragraphs(word: str, n: int) -> str:
    """Text that the default splitter (chunk_size=200 in tests) cuts into about ``n`` chunks."""
    return "\n\n".join(f"{word} paragraph {i}. " + " ".join([word] * 25) for i in range(n))


class Crash(BaseException):
    """Stands for the process dying: nothing in ingest catches it, so no clean-up runs."""


class FlakyIndex:
    """Wraps an SDK Index; calls of ``ops`` fail with the SDK's 429/503 exceptions at ``rate``.

    ``after_rate`` makes some upserts/deletes take effect and then fail (a lost
    response), the case where only idempotent retries avoid duplicates.
    ``fail_when(op, kwargs)`` returning an exception (or exception type) makes
    that call raise it, for targeted failures.
    """

    def __init__(
        self,
        inner: Any,
        *,
        rate: float = 0.0,
        after_rate: float = 0.0,
        ops: tuple[str, ...] = ("upsert", "delete", "fetch", "list"),
        seed: int = 1,
        fail_when: Any = None,
    ) -> None:
        self._inner = inner
        self._rate = rate
        self._after = after_rate
        self._ops = ops
        self._rng = random.Random(seed)
        self._fail_when = fail_when
        self.injected = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._ops or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._fail_when is not None:
                exc = self._fail_when(name, kwargs)
                if exc is not None:
                    raise exc
            roll = self._rng.random()
            if roll < self._rate:
                self.injected += 1
                raise self._transient()
            result = attr(*args, **kwargs)
            if name in ("upsert", "delete") and self._rng.random() < self._after:
                self.injected += 1
                raise self._transient()
            return result

        return call

    def _transient(self) -> Exception:
        if self._rng.random() < 0.5:
            return PineconeApiException(status=429, reason="Too Many Requests")
        return ServiceException(status=503, reason="Service Unavailable")
