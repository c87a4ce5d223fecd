"""Waiting, with backoff, for an eventually consistent index to show what was written (or deleted).

Pinecone serverless makes a write readable (by fetch, query and counts) after
a delay; the embedded server reads its own writes. A verification that reads
right after writing asks again with exponential backoff, for at most
``settle`` seconds, before it calls a difference a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: First wait between two reads, and the longest.
FIRST_DELAY = 0.05
MAX_DELAY = 2.0


def until(done: Callable[[], bool], settle: float, *, max_delay: float = MAX_DELAY) -> bool:
    """Call ``done`` until it returns True or ``settle`` seconds pass; whether it did.

    ``done`` is called at once, then again after waits of 0.05 s doubling up to
    ``max_delay``, and once more at the deadline.
    """
    deadline = time.monotonic() + max(0.0, settle)
    delay = FIRST_DELAY
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(delay, left))
        delay = min(delay * 2, max_delay)
    return True
