"""`ReadBack` keeps ``fetches`` read-back requests in flight, never more, and still counts every
record exactly once, in the order given, and surfaces a failed fetch."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tenant_rag.lifecycle.portability.checksum import Checksum
from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint, digest_of
from tenant_rag.lifecycle.portability.readback import ReadBack

from .test_portability import seed


class Counting:
    """An SDK index handle that counts the fetches running at once (each takes 30 ms more)."""

    def __init__(self, inner: Any, *, fail_at: int | None = None) -> None:
        self._inner = inner
        self._tenant_rag_index_name = inner._tenant_rag_index_name
        self.fail_at = fail_at
        self.calls = self.running = self.most = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def fetch(self, **kw: Any) -> Any:
        with self._lock:
            self.calls += 1
            call = self.calls
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.03)
            if call == self.fail_at:
                raise RuntimeError("the destination refused fetch number 3")
            return self._inner.fetch(**kw)
        finally:
            with self._lock:
                self.running -= 1


def _written(index: Any, n: int) -> tuple[list[str], list[bytes], Checksum]:
    recs = seed(index, "acme", n)
    ids = [r["id"] for r in recs]
    found = TenantEndpoint(index, "acme").fetch(ids)
    digests = {rec.id: digest_of(rec) for rec in found}
    expected = Checksum()
    for rid in ids:
        expected.add(digests[rid])
    return ids, [digests[i] for i in ids], expected


@pytest.mark.parametrize("fetches", [1, 2, 3])
def test_every_record_counted_once_with_at_most_fetches_in_flight(
    new_index: Any, fetches: int
) -> None:
    index = new_index("rbf")
    ids, digests, expected = _written(index, 60)
    counting = Counting(index)
    endpoint = TenantEndpoint(counting, "acme", page_size=3)
    readback = ReadBack(endpoint, settle=1, fetches=fetches)
    for start in range(0, len(ids), 6):  # row groups of 6: two fetches each
        readback.submit(ids[start : start + 6], digests[start : start + 6])
    result = readback.finish()

    assert result.complete and result.lagged == 0
    assert result.found == expected
    assert counting.calls == 20
    assert counting.most <= fetches  # never more in flight than asked
    assert counting.most >= min(fetches, 2)  # and the writer's row groups do overlap


def test_a_record_that_differs_stays_pending_and_is_named(new_index: Any) -> None:
    index = new_index("rbf")
    ids, digests, _ = _written(index, 24)
    digests[17] = b"\1" * 32  # not what the destination holds
    readback = ReadBack(TenantEndpoint(Counting(index), "acme"), settle=0.2, fetches=2)
    for start in range(0, len(ids), 4):
        readback.submit(ids[start : start + 4], digests[start : start + 4])
    result = readback.finish()

    assert not result.complete
    assert result.missing_ids == [ids[17]] and result.found.count == 23


@pytest.mark.parametrize("fetches", [1, 2])
def test_a_failed_fetch_is_raised_to_the_writer(new_index: Any, fetches: int) -> None:
    index = new_index("rbf")
    ids, digests, _ = _written(index, 30)
    readback = ReadBack(
        TenantEndpoint(Counting(index, fail_at=3), "acme"), settle=1, fetches=fetches
    )
    with pytest.raises(RuntimeError, match="fetch number 3"):
        for start in range(0, len(ids), 5):
            readback.submit(ids[start : start + 5], digests[start : start + 5])
        readback.finish()


def test_one_fetch_in_flight_is_made_on_the_worker_itself(new_index: Any) -> None:
    """With one fetch in flight no pool thread runs it (a pool thread would only run it while
    the worker waits, and keep a malloc arena of its own holding freed answers)."""
    index = new_index("rbf")
    ids, digests, expected = _written(index, 12)
    threads: list[str] = []

    class Named(Counting):
        def fetch(self, **kw: Any) -> Any:
            threads.append(threading.current_thread().name)
            return super().fetch(**kw)

    readback = ReadBack(TenantEndpoint(Named(index), "acme", page_size=3), settle=1, fetches=1)
    for start in range(0, len(ids), 6):
        readback.submit(ids[start : start + 6], digests[start : start + 6])
    result = readback.finish()

    assert result.complete and result.found == expected
    assert len(threads) == 4 and set(threads) == {"tenant-rag-readback"}


def test_over_grpc_a_row_group_is_one_fetch_whatever_its_url_would_take(
    new_index: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gRPC fetch carries no URL: a row group of long ids is one fetch (up to
    ``page_size``), where over REST its ~8 KB of URL would make it several."""
    from tenant_rag.ingestion.grpc_fetch import GrpcFetcher

    index = new_index("rbf")
    long_ids = [f"{'x' * 300}-{i}" for i in range(40)]  # 12 KB of ids: two GETs over REST
    endpoint = TenantEndpoint(index, "acme", page_size=30)
    endpoint.upsert([{"id": i, "values": [0.5] * 8, "metadata": {"n": 1}} for i in long_ids])
    digests = [digest_of(r) for r in endpoint.fetch(long_ids)]
    assert len(list(endpoint.pages_of(long_ids))) == 2  # what REST would need
    asked: list[int] = []
    real = GrpcFetcher.fetch_float32

    def fetch(self: GrpcFetcher, **kw: Any) -> Any:
        asked.append(len(kw["ids"]))
        return real(self, **kw)

    monkeypatch.setattr(GrpcFetcher, "fetch_float32", fetch)
    assert endpoint.float32_fetch_url_bytes() is None  # the embedded server serves gRPC
    readback = ReadBack(endpoint, settle=1)
    readback.submit(long_ids[:20], digests[:20])
    readback.submit(long_ids[20:], digests[20:])
    result = readback.finish()

    assert result.complete and result.found.count == 40
    assert asked == [20, 20]  # one fetch a row group (each would be two GETs over REST)
