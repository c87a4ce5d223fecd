"""Read-back verification on a worker thread, and a bounded prefetch: the import's pipeline.

An import proves itself by fetching every record it wrote back from the
destination and comparing it (checksum digest) with the export's. Done as a
separate pass after the writes, that read-back costs about what the writes
did. `ReadBack` does it on a worker thread instead, one written row group at
a time, while later row groups are being written: the destination's reads
overlap the client's work on the next row group, and the writer never waits
for it except at the end.

**Lag.** Pinecone serverless is eventually consistent: a write becomes
readable after a delay (seconds, usually), and so does its count in
``describe_namespace``. The embedded server reads its own writes. A record
that is missing or different when it is first read back is therefore not an
error yet: it is kept *pending* and read again with exponential backoff until
it matches, for at most ``settle`` seconds counted from the end of the writes
(or from the moment too many records are pending, see below). Only a record
still missing or different after that fails the verification, and the error
names it. Nothing is weakened: a record counts as verified only when the
destination returned it equal to the export's.

**Fetches in flight.** Each read-back fetch costs the destination its
answer (reading and encoding the records) and the client its parsing (values
read as float32 without a Python float per value: packed floats over the
embedded server's gRPC port, JSON over REST elsewhere; see
`tenant_rag.ingestion.grpc_fetch` and docs/portability.md) and digests. Up to
``fetches`` requests are kept in flight on a small thread pool, each parsed
and digested on its thread, so the destination may answer the next while the
client parses this one; results are taken in order. The default is one whole
page at a time (`FETCHES_IN_FLIGHT`): the import's upserts in flight keep the
destination busy meanwhile, and fewer, larger requests cost both sides less.
That one fetch is made on the worker itself, with no pool thread: a thread that
only ran it while the worker waited would add nothing but a malloc arena of
its own, holding freed answers (docs/portability.md, "Fifth round").

**Memory** stays bounded: the queue holds at most ``depth`` row groups' ids
and digests (never values), a fetch keeps only the digests of its records
once parsed, at most ``fetches`` answers are held at once, and when more
than ``pending_limit`` records are pending the worker settles them (backoff,
same rule) before it takes more work, so the writer waits rather than the
pending set growing with the tenant.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from tenant_rag.lifecycle.portability.checksum import Checksum
from tenant_rag.lifecycle.portability.endpoint import FETCH_URL_BYTES, TenantEndpoint, digests_of

T = TypeVar("T")

#: Seconds a record may stay unreadable (or stale) in the destination before verification fails.
SETTLE_SECONDS = 60.0
#: Pending (not yet readable) records that make the worker settle before taking more work.
PENDING_LIMIT = 20_000
#: Ids per read-back fetch over REST, in URL bytes: a whole page, one fetch per row group
#: written. Over gRPC (`TenantEndpoint.float32_fetch_url_bytes` is None) a fetch is not
#: limited by a URL: a row group (up to `PAGE_SIZE` ids) is one fetch, 0.7 MB of answer for
#: 363 records of 384-d values and ~300 bytes of metadata, against 2.9 MB of JSON over REST.
#: (Row groups already queued joined into fetches of up to 1,000 ids: 0.1 s less CPU per
#: 40,000 records, but 0.1x one page more memory above idle: not kept.)
#: Half pages, two in flight, were used while answers were parsed into Python floats (orjson
#: peaks at about 40 MiB a page). Parsed as float32 (`PinnedIndex.fetch(float32=True)`) an
#: answer costs less; on 40,000 records, memory above idle was 1.48x to 1.60x one page with
#: half pages two in flight, 1.75x to 1.85x with whole pages two in flight, and 1.56x to
#: 1.61x with whole pages one in flight (1.71x once simdjson's buffers were kept per thread;
#: 1.68x to 1.81x for 100,000 records), which makes half as many requests (about 1.5 ms of
#: CPU each on either side).
READBACK_URL_BYTES = FETCH_URL_BYTES
#: Written row groups (their ids and digests, never values) that may wait for the read-back:
#: enough that the writer does not wait for a read-back answer that happens to be slow (about
#: 40 KB of Python objects each)
ROW_GROUPS_QUEUED = 8
#: Read-back fetch requests in flight at once (each parsed and digested on its own thread):
#: one, since answers became cheap to parse (see `READBACK_URL_BYTES`); the upserts in flight
#: keep the destination busy while the client parses it.
FETCHES_IN_FLIGHT = 1
#: How many ids of the records still missing an error message names.
NAMED_IDS = 20
_FIRST_DELAY = 0.05
#: a written row group queued for reading back: its ids and the export's digests
_Item = tuple[list[str], list[bytes]]
_MAX_DELAY = 2.0
_POLL = 0.1


@dataclass
class ReadBackResult:
    """What the read-back found: the verified records' checksum, and what never matched."""

    found: Checksum
    #: ids still missing or different when the settle time ran out (at most `NAMED_IDS`)
    missing_ids: list[str] = field(default_factory=list)
    missing_count: int = 0
    #: records that were not readable (or equal) at their first read and matched later
    lagged: int = 0
    #: read-back rounds made for lagging records
    retries: int = 0
    #: more than `PENDING_LIMIT` records stayed missing mid-stream: later ones were not read
    stopped_early: bool = False

    @property
    def complete(self) -> bool:
        return self.missing_count == 0


class ReadBack:
    """Fetches written records back on a worker thread and checks each against its digest.

    ``submit(ids, digests)`` after each write; ``finish()`` once every write
    is done, which waits (up to ``settle`` seconds for lagging records) and
    returns a `ReadBackResult`. An error on the worker (a fetch that failed
    after its retries) is raised by the next ``submit`` or by ``finish``.
    """

    def __init__(
        self,
        dest: TenantEndpoint,
        *,
        settle: float = SETTLE_SECONDS,
        depth: int = ROW_GROUPS_QUEUED,
        pending_limit: int = PENDING_LIMIT,
        fetches: int = FETCHES_IN_FLIGHT,
    ) -> None:
        if fetches < 1:
            raise ValueError(f"fetches must be at least 1, got {fetches}.")
        self.dest = dest
        self.settle = settle
        self.pending_limit = pending_limit
        self.fetches = fetches
        # one fetch in flight is made on the worker itself: a pool thread would only run
        # it while the worker waits, and each thread that allocates answers keeps a malloc
        # arena of its own (freed answers held there), which the import's memory counts
        self._pool = (
            ThreadPoolExecutor(max_workers=fetches, thread_name_prefix="tenant-rag-readback-fetch")
            if fetches > 1
            else None
        )
        #: id bytes per fetch: a whole GET's worth, or (over gRPC) a whole page of ids
        self._url_bytes = READBACK_URL_BYTES if dest.float32_fetch_url_bytes() is not None else None
        self.result = ReadBackResult(Checksum())
        self._pending: dict[str, bytes] = {}
        self._queue: queue.Queue[_Item | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        #: set when records stayed missing past the settle time mid-stream: no more reads
        self.gave_up = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tenant-rag-readback", daemon=True)
        self._thread.start()

    # -- the writer's side ---------------------------------------------------------------

    def submit(self, ids: Sequence[str], digests: Sequence[bytes]) -> None:
        """Queue written records (their ids and the export's digests) for reading back."""
        item = (list(ids), list(digests))
        while not self.gave_up:
            self._raise_error()
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def finish(self) -> ReadBackResult:
        """Wait for every submitted record to be read back (lag: up to ``settle`` s); the result."""
        self.submit([], [])  # raises a worker error first, if any
        while not self.gave_up:
            try:
                self._queue.put(None, timeout=_POLL)
                break
            except queue.Full:
                self._raise_error()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.result

    def abort(self) -> None:
        """Stop the worker without waiting for its queue (the import failed)."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._thread.is_alive() and not self._stop.is_set() and not self.gave_up:
            raise RuntimeError("the read-back worker stopped unexpectedly")

    # -- the worker ----------------------------------------------------------------------

    def _run(self) -> None:
        #: fetches sent, oldest first: (the page's ids and expected digests, its answer)
        ahead: deque[tuple[dict[str, bytes], Future[dict[str, bytes]]]] = deque()
        try:
            while not self._stop.is_set():
                if ahead and (len(ahead) >= self.fetches or self._queue.empty()):
                    wanted, answer = ahead.popleft()
                    self._compare(wanted, answer.result(), first=True)
                    if len(self._pending) > self.pending_limit:
                        self._settle()  # wait for the destination rather than hold more ids
                        if self._pending:
                            self.gave_up = self.result.stopped_early = True
                            return  # the fetches still in flight are not counted
                    continue
                try:
                    item = self._queue.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if item is None:
                    while ahead:
                        wanted, answer = ahead.popleft()
                        self._compare(wanted, answer.result(), first=True)
                    self._settle()
                    return
                ids, digests = item
                expected = dict(zip(ids, digests, strict=True))
                for page in self.dest.pages_of(expected, url_bytes_max=self._url_bytes):
                    wanted = {rid: expected[rid] for rid in page}
                    ahead.append((wanted, self._fetch(page)))
        except BaseException as exc:  # noqa: BLE001 - handed to the writer's thread
            self._error = exc
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)

    def _fetch(self, page: list[str]) -> Future[dict[str, bytes]]:
        """The digests of a page's records as the destination returns them: fetched on the
        pool when several fetches are in flight, else here and now."""
        if self._pool is not None:
            return self._pool.submit(self._digests, page)
        answer: Future[dict[str, bytes]] = Future()
        try:
            answer.set_result(self._digests(page))
        except BaseException as exc:  # noqa: BLE001 - raised by ``result()``, in its turn
            answer.set_exception(exc)
        return answer

    def _digests(self, page: list[str]) -> dict[str, bytes]:
        """Fetch a page of ids; the digest of each record the destination returned."""
        records = self.dest.fetch(page, float32=True)
        return dict(zip([rec.id for rec in records], digests_of(records), strict=True))

    def _compare(self, wanted: dict[str, bytes], there: dict[str, bytes], *, first: bool) -> None:
        """Count the records returned equal; keep the others pending (or still pending)."""
        for rid, digest in wanted.items():
            if there.get(rid) == digest:
                self.result.found.add(digest)
                if not first:
                    del self._pending[rid]
                    self.result.lagged += 1
            elif first:
                self._pending[rid] = digest

    def _check(self, expected: Iterable[tuple[str, bytes]]) -> None:
        """Read pending records again, one page at a time: count the ones now equal, keep the
        others pending (the settle loop's rounds, which wait between them anyway)."""
        wanted = dict(expected)
        for page in self.dest.pages_of(wanted, url_bytes_max=self._url_bytes):
            self._compare({rid: wanted[rid] for rid in page}, self._digests(page), first=False)

    def _settle(self) -> None:
        """Read pending records again with backoff until they all match or ``settle`` s pass."""
        deadline = time.monotonic() + self.settle
        delay = _FIRST_DELAY
        while self._pending and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(delay, left))
            delay = min(delay * 2, _MAX_DELAY)
            self.result.retries += 1
            self._check(list(self._pending.items()))
        self.result.missing_count = len(self._pending)
        self.result.missing_ids = sorted(self._pending)[:NAMED_IDS]


def prefetch(items: Iterable[T], *, depth: int = 1) -> Iterator[T]:
    """``items``, produced on a worker thread up to ``depth`` ahead of the consumer.

    So the production of the next item (reading and decoding a row group, or
    listing and fetching a page) overlaps the consumer's work on this one. At
    most ``depth`` items exist besides the one the consumer holds: the producer
    starts an item only when fewer are waiting. An exception while producing is
    raised at the consumer in order; leaving the loop early stops the producer.
    """
    done = object()
    q: queue.Queue[object] = queue.Queue()
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def produce() -> None:
        end: object = done
        try:
            iterator = iter(items)
            while True:
                while not room.acquire(timeout=_POLL):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                q.put(item)
        except BaseException as exc:  # noqa: BLE001 - re-raised at the consumer
            end = _Failed(exc)
        q.put(end)

    worker = threading.Thread(target=produce, name="tenant-rag-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            got = q.get()
            if got is done:
                return
            if isinstance(got, _Failed):
                raise got.exc
            room.release()  # the producer may start the next item while this one is used
            yield got  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=30)


@dataclass
class _Failed:
    exc: BaseException


__all__ = [
    "FETCHES_IN_FLIGHT",
    "NAMED_IDS",
    "PENDING_LIMIT",
    "ROW_GROUPS_QUEUED",
    "SETTLE_SECONDS",
    "ReadBack",
    "ReadBackResult",
    "prefetch",
]
