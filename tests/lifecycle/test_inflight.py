"""`InFlight`: at most N upsert requests unanswered, units acknowledged in order, failures waited for.

The import journals a row group as written only when `InFlight` acknowledges
it, so these are the properties its ``kill -9`` safety rests on: a unit is
acknowledged only after every batch of it and of every unit before it was
answered, however the answers are ordered; a failed batch fails the import;
and `abort` returns only after the requests already sent are answered, so
nothing lands after the import's rollback.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tenant_rag.lifecycle.portability.inflight import InFlight


class Server:
    """A fake upsert: answers after a delay chosen per batch; records what is in flight."""

    def __init__(self, delays: dict[str, float], fail: str | None = None) -> None:
        self.delays = delays
        self.fail = fail
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0
        self.answered: list[str] = []

    def send(self, batch: list[dict[str, Any]]) -> int:
        name = batch[0]["id"]
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(self.delays.get(name, 0.0))
        with self.lock:
            self.active -= 1
            self.answered.append(name)
        if name == self.fail:
            raise RuntimeError(f"refused {name}")
        return len(batch)


def batch(name: str, n: int = 1) -> list[dict[str, Any]]:
    return [{"id": name}] * n


def test_units_are_acknowledged_in_order_only_after_all_their_batches() -> None:
    # unit 0's second batch answers last: units 1 and 2 must wait for it
    server = Server({"a2": 0.3, "b1": 0.0, "c1": 0.0})
    flight: InFlight[str] = InFlight(server.send, in_flight=2)
    acked: list[tuple[str, int]] = []
    acked += flight.submit("u0", [batch("a1", 2), batch("a2", 3)])
    acked += flight.submit("u1", [batch("b1")])
    acked += flight.submit("u2", [batch("c1", 4)])
    if "a2" not in server.answered:
        assert acked == []  # nothing is acknowledged before unit 0's slow batch is answered
    acked += flight.drain()
    flight.close()
    assert acked == [("u0", 5), ("u1", 1), ("u2", 4)]
    assert server.most_active <= 2


def test_an_empty_unit_keeps_its_place() -> None:
    server = Server({"a1": 0.2})
    flight: InFlight[str] = InFlight(server.send, in_flight=2)
    acked = flight.submit("u0", [batch("a1")]) + flight.submit("skipped", [])
    acked += flight.drain()
    flight.close()
    assert acked == [("u0", 1), ("skipped", 0)]


def test_a_failed_batch_fails_and_abort_waits_for_what_was_sent() -> None:
    server = Server({"a1": 0.1, "b1": 0.5}, fail="a1")
    flight: InFlight[str] = InFlight(server.send, in_flight=2)
    assert flight.submit("u0", [batch("a1")]) == []
    assert flight.submit("u1", [batch("b1")]) == []
    with pytest.raises(RuntimeError, match="refused a1"):
        flight.submit("u2", [batch("c1")])  # a third unanswered batch: waits for a1, which failed
    assert "b1" not in server.answered  # still in flight when the failure surfaced
    flight.abort()
    assert "b1" in server.answered and server.active == 0  # abort waited for its answer
