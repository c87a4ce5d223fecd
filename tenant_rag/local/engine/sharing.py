"""Share one query's independent work items between its own thread and one helper thread.

Why (docs/design.md, "Sharding"): a 1,000,000-row namespace is 4 shards whose scans release
the GIL, so two threads finish a query in about half the time. The earlier split was fixed
(first half on the query thread, second half on a pool thread, joined with a ``Future``):
when the pool thread was slow to wake, busy with another query, or its core was taken by
another process, the query waited for it with its own half long done. Here both threads take
the next item from one queue until it is empty, so whichever thread is running does the work:

* the hand-off is one queue put and, at the end, at most one lock wait (no ``Future``, no
  ``Condition``);
* if the helper has not started by the time the query thread has taken every item, the
  query thread *claims* the job (a non-blocking lock) and returns without waiting; the
  helper later finds the job claimed and skips it;
* if the helper has started, the query waits only for the item it is running.

Items must be independent and safe to run on either thread; results come back in no
particular order (callers sort them). An exception in an item is raised in the query thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from queue import SimpleQueue
from typing import Any, Generic, TypeVar

S = TypeVar("S")
T = TypeVar("T")


class _Job(Generic[S, T]):
    __slots__ = ("claim", "done", "errors", "finish", "items", "results", "scan")

    def __init__(
        self, items: Sequence[int], scan: Callable[[int], S], finish: Callable[[list[S]], T]
    ) -> None:
        self.items: deque[int] = deque(items)
        self.scan = scan
        self.finish = finish
        self.results: list[T] = []
        self.errors: list[BaseException] = []
        self.claim = threading.Lock()  # whoever holds it runs the helper's share
        self.done = threading.Lock()  # released when the helper's share is finished
        self.done.acquire()

    def work(self) -> None:
        """Take items one at a time (``popleft`` is atomic) and scan them; then ``finish``
        this thread's scans in one call (one re-scoring per thread, not per item)."""
        mine: list[S] = []
        while True:
            try:
                item = self.items.popleft()
            except IndexError:
                break
            mine.append(self.scan(item))
        if mine:
            self.results.append(self.finish(mine))


class Helper:
    """One persistent daemon thread that helps query threads (started on first use)."""

    def __init__(self, name: str, on_start: Callable[[], None] | None = None) -> None:
        self.name = name
        self.on_start = on_start
        self._jobs: SimpleQueue[_Job[Any, Any]] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                    thread.start()
                    self._thread = thread

    def _loop(self) -> None:
        if self.on_start is not None:
            self.on_start()
        while True:
            job = self._jobs.get()
            if not job.claim.acquire(blocking=False):
                continue  # the query thread finished everything and claimed the job
            try:
                job.work()
            except BaseException as exc:  # handed to the query thread
                job.errors.append(exc)
            finally:
                job.done.release()

    def share(
        self, items: Sequence[int], scan: Callable[[int], S], finish: Callable[[list[S]], T]
    ) -> list[T]:
        """``scan`` every item, one at a time, on whichever of this thread and the helper is
        free; each thread then ``finish``es its own scans. The list of ``finish`` results
        (one or two), in no particular order."""
        self._ensure()
        job: _Job[S, T] = _Job(items, scan, finish)
        self._jobs.put(job)
        try:
            job.work()
        finally:
            if not job.claim.acquire(blocking=False):
                job.done.acquire()  # the helper is on it: wait for its last item
            # else: the helper never started on it, and now never will
        if job.errors:
            raise job.errors[0]
        return job.results
