"""The per-document locks that order an upload's write and the routes changing a document."""

from __future__ import annotations

import threading

import pytest

from tenant_rag.chat.doclocks import DocumentBusy, DocumentLocks, lock_keys


def test_an_item_of_a_json_file_shares_the_files_lock() -> None:
    assert lock_keys("support.jsonl:ticket-101") == {"support.jsonl:ticket-101", "support.jsonl"}
    assert lock_keys("notes.md") == {"notes.md"}
    assert lock_keys("a:b.md") == {"a:b.md"}  # a colon alone does not make an item
    locks = DocumentLocks()
    with locks.hold("acme", ["support.jsonl"]):
        with (
            pytest.raises(DocumentBusy) as busy,
            locks.hold("acme", ["support.jsonl:ticket-101"], timeout=0.05),
        ):
            pass
        assert busy.value.names == ["support.jsonl"]
        with locks.hold("globex", ["support.jsonl"], timeout=0):  # another tenant's document
            pass
        with locks.hold("acme", ["other.md"], timeout=0):
            pass


def test_a_waiting_holder_gets_the_lock_when_it_is_released() -> None:
    locks = DocumentLocks()
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def job() -> None:
        with locks.hold("acme", ["a.md", "b.md"]):
            inside.set()
            release.wait(10)
            order.append("job")

    worker = threading.Thread(target=job)
    worker.start()
    assert inside.wait(10)
    waiter = threading.Thread(target=lambda: _then(locks, order))
    waiter.start()
    release.set()
    worker.join(10)
    waiter.join(10)
    assert order == ["job", "route"]
    with locks.hold("acme", ["a.md", "b.md"], timeout=0):  # all released
        pass


def _then(locks: DocumentLocks, order: list[str]) -> None:
    with locks.hold("acme", ["b.md"], timeout=10):
        order.append("route")
