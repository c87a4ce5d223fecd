"""The pieces under the approximate index's query path: sharing a query's shard scans with
the helper thread (``engine/sharing.py``) and backing faiss codes with huge pages
(``engine/hugepages.py``). The end-to-end behaviour through the SDK is in test_ann.py."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tenant_rag.local.engine import hugepages
from tenant_rag.local.engine.sharing import Helper


def test_every_item_is_scanned_once_and_each_thread_finishes_its_own() -> None:
    helper = Helper("test-helper")
    for n in (1, 2, 4, 9):
        seen: list[tuple[int, str]] = []

        def scan(i: int, seen: list[tuple[int, str]] = seen) -> int:
            seen.append((i, threading.current_thread().name))
            time.sleep(0.002)  # long enough for the helper to take some
            return i

        results = helper.share(range(n), scan, lambda items: sorted(items))
        assert sorted(i for i, _ in seen) == list(range(n))
        assert sorted(i for part in results for i in part) == list(range(n))
        assert 1 <= len(results) <= 2  # one finish per thread that scanned something
        by_thread = {name for _, name in seen}
        assert by_thread <= {threading.current_thread().name, "test-helper"}


def test_the_helper_takes_a_share_when_it_is_free() -> None:
    helper = Helper("test-helper-share")
    names: set[str] = set()
    for _ in range(20):
        helper.share(
            range(4),
            lambda i: (names.add(threading.current_thread().name), time.sleep(0.005))[1],
            lambda items: len(items),
        )
    assert "test-helper-share" in names


def test_a_busy_helper_does_not_hold_up_the_query_thread() -> None:
    """When the helper is busy elsewhere, the query thread does every item itself and
    returns without waiting; the helper later finds the job claimed and skips it."""
    helper = Helper("test-helper-busy")
    gate = threading.Event()
    outer = threading.Thread(
        target=lambda: helper.share(range(2), lambda i: gate.wait(5), lambda items: items)
    )
    outer.start()
    time.sleep(0.1)  # the outer thread blocks on item 0, the helper on item 1
    t = time.perf_counter()
    results = helper.share(range(3), lambda i: i, lambda items: sorted(items))
    assert time.perf_counter() - t < 1.0
    assert results == [[0, 1, 2]]
    gate.set()
    outer.join(5)
    assert not outer.is_alive()
    # and it still serves later jobs
    assert sorted(i for r in helper.share(range(4), lambda i: i, list) for i in r) == [0, 1, 2, 3]


def test_an_error_in_either_thread_reaches_the_caller() -> None:
    helper = Helper("test-helper-error")

    def scan(i: int) -> int:
        time.sleep(0.002)
        if i == 3:
            raise ValueError("shard 3 failed")
        return i

    for _ in range(5):
        with pytest.raises(ValueError, match="shard 3 failed"):
            helper.share(range(6), scan, list)


def test_collapsing_faiss_codes_keeps_every_answer() -> None:
    """Huge pages are an optimisation only: the codes, and so every search answer, are the
    same after ``collapse_faiss_codes``, whether or not this kernel can collapse."""
    faiss = pytest.importorskip("faiss")
    rng = np.random.default_rng(3)
    data = rng.standard_normal((120_000, 96)).astype(np.float32)  # 2.9 MB of codes
    index = faiss.index_factory(96, "PQ48x4fs", faiss.METRIC_INNER_PRODUCT)
    index.train(data[:5000])
    index.add(data)
    queries = rng.standard_normal((5, 96)).astype(np.float32)
    before = index.search(queries, 20)
    codes = faiss.rev_swig_ptr(index.codes.get(), index.codes.nbytes()).copy()
    assert isinstance(hugepages.collapse_faiss_codes(index), bool)
    after = index.search(queries, 20)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(
        codes, faiss.rev_swig_ptr(index.codes.get(), index.codes.nbytes())
    )


def test_collapse_refuses_ranges_without_a_whole_huge_page() -> None:
    buf = np.zeros(1 << 20, dtype=np.uint8)  # 1 MiB: no whole 2 MiB page inside
    assert hugepages.collapse(buf.ctypes.data, buf.nbytes) is False
    assert hugepages.collapse(buf.ctypes.data, 0) is False
