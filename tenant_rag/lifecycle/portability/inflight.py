"""Upserts with a bounded number of requests in flight, acknowledged in the order given.

Sent one at a time, an upsert leaves the client idle while the server parses
and stores it, and the server idle while the client encodes the next one. With
two requests in flight the two overlap: the embedded server on one core, the
client on the other; against Pinecone, where every request spends tens of
milliseconds on the network, parallel upserts are what Pinecone recommends for
bulk writes.

Each unit of work (an import's row group) is split into upsert batches that
worker threads send; a unit is *acknowledged* only when every batch of it and
of every unit before it has been answered, so a journal that records
acknowledged units never records a row group with a batch still unanswered
(a rerun after ``kill -9`` rewrites at most what was in flight, and rewriting
is idempotent: same ids, same bodies). A batch that fails (after the retries
of the `PinnedIndex` that sends it) fails the unit; `abort` then waits for the
requests already sent, so nothing lands after the caller has rolled back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Generic, TypeVar

K = TypeVar("K")

#: Upsert requests an import keeps in flight.
UPSERTS_IN_FLIGHT = 2


class InFlight(Generic[K]):
    """Sends units' batches with ``send`` on ``in_flight`` threads; acknowledges units in order.

    ``submit(key, batches)`` returns the units acknowledged meanwhile, as
    ``(key, records written)`` in submission order; it blocks while more than
    ``in_flight`` batches are unanswered, so at most that many request bodies
    (and the units they belong to) are held. ``drain()`` waits for the rest.
    """

    def __init__(
        self, send: Callable[[list[dict[str, Any]]], int], *, in_flight: int = UPSERTS_IN_FLIGHT
    ) -> None:
        if in_flight < 1:
            raise ValueError(f"in_flight must be at least 1, got {in_flight}.")
        self._send = send
        self._limit = in_flight
        self._pool = ThreadPoolExecutor(
            max_workers=in_flight, thread_name_prefix="tenant-rag-upsert"
        )
        self._units: deque[tuple[K, list[Future[int]]]] = deque()

    def submit(self, key: K, batches: Sequence[list[dict[str, Any]]]) -> list[tuple[K, int]]:
        """Send ``batches`` as unit ``key``; return the units acknowledged so far, in order."""
        futures = [self._pool.submit(self._send, batch) for batch in batches]
        self._units.append((key, futures))
        while True:
            unanswered = [f for _, fs in self._units for f in fs if not f.done()]
            if len(unanswered) <= self._limit:
                break
            wait(unanswered[:1])
        return self._acknowledge(everything=False)

    def drain(self) -> list[tuple[K, int]]:
        """Wait for every batch sent; return the remaining units, in order."""
        return self._acknowledge(everything=True)

    def abort(self) -> None:
        """Send nothing more and wait for the requests already sent (the caller failed)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._units.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _acknowledge(self, *, everything: bool) -> list[tuple[K, int]]:
        done: list[tuple[K, int]] = []
        for _, futures in self._units:  # a failed batch fails now, not when its turn comes
            for f in futures:
                if f.done() and f.exception() is not None:
                    raise f.exception()  # type: ignore[misc]
        while self._units:
            key, futures = self._units[0]
            if not everything and not all(f.done() for f in futures):
                break
            written = sum(f.result() for f in futures)  # raises a batch's error, in order
            self._units.popleft()
            done.append((key, written))
        return done


__all__ = ["UPSERTS_IN_FLIGHT", "InFlight"]
