"""Per-document locks of one chat backend: an upload's write and a change of the same document.

An upload job checks that its user may replace the names it uploads, then
writes them; a route that changes a document's access list or deletes it
checks, then writes. Pinecone has no conditional writes, so two of these on
one document, interleaved, would let the later write silently undo the
other: an access list an admin just set overwritten by the upload's own, a
deleted document written back. Each takes the document's lock from its check
to the end of its write. A job waits for the lock (a route holds it briefly);
a route does not wait for a job's write, which may take minutes: it answers
409 ``document_busy`` and the caller retries once the job is done.

The lock of a ``.json``/``.jsonl`` item (``support.jsonl:ticket-101``) is
its file's too, as an upload of the file writes all of its items. The locks
live in this process: they order the backend's own jobs and routes, which is
where uploads and changes arrive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class DocumentBusy(Exception):
    """Another operation is writing one of these documents; ``names`` says which."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def lock_keys(doc_id: str) -> set[str]:
    """The lock names of a document: itself and, for a file's item, the file."""
    keys = {doc_id}
    head, sep, _ = doc_id.partition(":")
    if sep and head.lower().endswith((".json", ".jsonl")):
        keys.add(head)
    return keys


class DocumentLocks:
    """Locks on ``(tenant, document)`` names, taken all at once (so never in a deadlock)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held: set[tuple[str, str]] = set()

    @contextmanager
    def hold(
        self, tenant: str, doc_ids: Iterable[str], *, timeout: float | None = None
    ) -> Iterator[None]:
        """Hold the locks of ``doc_ids`` in ``tenant``; `DocumentBusy` after ``timeout`` s."""
        keys = {(tenant, k) for d in doc_ids for k in lock_keys(d)}
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while busy := keys & self._held:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise DocumentBusy(sorted(name for _, name in busy))
                self._cond.wait(left)
            self._held |= keys
        try:
            yield
        finally:
            with self._cond:
                self._held -= keys
                self._cond.notify_all()


__all__ = ["DocumentBusy", "DocumentLocks", "lock_keys"]
