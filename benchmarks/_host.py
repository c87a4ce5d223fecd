"""What the host gives a run right now: its memory read bandwidth, measured in-process.

Why: a 1,000,000-row approximate query streams 80 MB of fast-scan codes through both cores,
more than the 32 MB L3 cache holds, so its time follows the host's memory bandwidth, and on
this shared machine that bandwidth moves from one minute to the next (docs/scale.md, eighth
pass: 22.6-23.4 GB/s over two threads at one time of day, while earlier passes' scans implied
about 35). A benchmark records it beside its latency, so runs from different windows can be
read side by side.
"""

from __future__ import annotations

import threading
import time

import numpy as np


def memory_read_gbs(threads: int = 2, mb: int = 80, reps: int = 30) -> float:
    """GB/s read by ``threads`` threads at once, each summing its own ``mb`` MB array
    ``reps`` times (numpy releases the GIL while it reduces). ``mb`` well above the L3 cache,
    so the sums read main memory: on this machine 80 MB sums at 18.5 GB/s on one thread
    where 4 MB (L3-resident) sums at 37.5 GB/s."""
    arrays = [np.ones(mb * 2**20 // 8, dtype=np.float64) for _ in range(threads)]
    for a in arrays:
        a.sum()  # fault the pages in before timing
    start = threading.Barrier(threads + 1)

    def read(a: np.ndarray) -> None:
        start.wait()
        for _ in range(reps):
            a.sum()

    workers = [threading.Thread(target=read, args=(a,)) for a in arrays]
    for w in workers:
        w.start()
    start.wait()
    t = time.perf_counter()
    for w in workers:
        w.join()
    return threads * reps * mb / 1024 / (time.perf_counter() - t)
