"""``GET /_local/indexes/{index}/namespaces/{namespace}/search``: which path answers a
namespace's queries now, read over HTTP as an operator or a benchmark reads it.

Why it is tested: benchmarks and tests wait on this route instead of on latencies (a
latency guess once timed queries against a half-built index), so each state it reports
must be the state the engine is in: the build is held on the builder thread to see
"building" for certain, and a fresh server over the same data must not load a namespace
just to describe it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tenant_rag.local import LocalServer, start
from tenant_rag.local.engine import ann
from tenant_rag.local.engine.settings import ANN_MIN_ROWS_ENV

from .helpers import make_index

DIM = 8
THRESHOLD = 600
BIG = 1300  # past 4 x RERANK rows, under which a ready index is not asked (exact)


@pytest.fixture(autouse=True)
def _small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ANN_MIN_ROWS_ENV, str(THRESHOLD))


def _state(srv: LocalServer, index: str, ns: str, key: str | None = None) -> httpx.Response:
    return httpx.get(
        f"{srv.url}/_local/indexes/{index}/namespaces/{ns}/search",
        headers={"Api-Key": key if key is not None else srv.client_key},
    )


def _fill(index: Any, ns: str, n: int) -> None:
    data = np.random.default_rng(7).standard_normal((n, DIM)).astype(np.float32)
    for lo in range(0, n, 300):
        index.upsert(
            vectors=[(f"r{i}", data[i].tolist()) for i in range(lo, min(lo + 300, n))],
            namespace=ns,
        )


def _query(index: Any, ns: str) -> None:
    index.query(vector=[0.5] * DIM, top_k=3, namespace=ns)


def test_states_from_exact_through_building_to_approximate(local_server: LocalServer) -> None:
    index = make_index(local_server.client(), "states", dimension=DIM)
    _fill(index, "small", THRESHOLD - 1)
    _fill(index, "big", BIG)
    _query(index, "small")
    small = _state(local_server, "states", "small").json()
    assert small["search"] == "exact"
    assert small["records"] == THRESHOLD - 1
    assert small["approximate_from_records"] == THRESHOLD
    assert small["ann"] is None

    release = threading.Event()
    ann._submit(release.wait)  # the one builder thread is busy until released
    try:
        _query(index, "big")  # loads the namespace and queues its build behind ours
        building = _state(local_server, "states", "big").json()
        assert building["search"] == "building"
        assert building["ann"]["state"] == "building"
        assert building["records"] == BIG
    finally:
        release.set()
    deadline = time.monotonic() + 60
    while (now := _state(local_server, "states", "big").json())["search"] != "approximate":
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    assert now["ann"]["indexed"] == BIG
    assert now["approximate_up_to_top_k"] == BIG // 16
    before = now["ann"]["ann"]
    _query(index, "big")
    after = _state(local_server, "states", "big").json()["ann"]
    assert after["ann"] == before + 1  # the counter the state names moved


def test_a_fresh_server_describes_without_loading(tmp_path: Path) -> None:
    srv = start(tmp_path / "data")
    try:
        _fill(make_index(srv.client(), "cold", dimension=DIM), "t", 50)
    finally:
        srv.stop()
    srv = start(tmp_path / "data")
    try:
        assert _state(srv, "cold", "t").json() == {
            "index": "cold",
            "ann": None,
            "search": "not loaded",
            "namespace": "t",
            "records": 50,
            "approximate_from_records": THRESHOLD,
            "approximate_up_to_top_k": None,
        }
        assert _state(srv, "cold", "t").json()["search"] == "not loaded"  # asking loads nothing
        _query(srv.client().Index(host=srv.client().describe_index("cold").host), "t")
        assert _state(srv, "cold", "t").json()["search"] == "exact"
    finally:
        srv.stop()


def test_switched_off_says_exact_and_no_threshold(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ANN_MIN_ROWS_ENV, "0")
    index = make_index(local_server.client(), "off", dimension=DIM)
    _fill(index, "big", THRESHOLD + 10)
    _query(index, "big")
    state = _state(local_server, "off", "big").json()
    assert (state["search"], state["approximate_from_records"], state["ann"]) == (
        "exact",
        None,
        None,
    )


def test_errors_name_what_to_fix(local_server: LocalServer) -> None:
    make_index(local_server.client(), "errs", dimension=DIM)
    missing = _state(local_server, "nope", "t")
    assert missing.status_code == 404 and "nope" in missing.text
    unknown_ns = _state(local_server, "errs", "never-written").json()
    assert (unknown_ns["search"], unknown_ns["records"]) == ("not loaded", 0)


def test_behind_the_api_key(tmp_path: Path) -> None:
    with start(tmp_path, api_key="right-key") as srv:
        make_index(srv.client(), "keyed", dimension=DIM)
        assert _state(srv, "keyed", "t", key="wrong").status_code == 401
        assert _state(srv, "keyed", "t").json()["search"] == "not loaded"


def test_the_reported_limits_are_the_query_paths(local_server: LocalServer) -> None:
    """What the route reports is what a query does: a ready index under 4 x RERANK rows is
    not asked (exact), and past ``approximate_up_to_top_k`` a query is answered exactly."""
    index = make_index(local_server.client(), "limits", dimension=DIM)
    _fill(index, "mid", 1000)  # past the threshold (600), under 4 x 300
    _fill(index, "big", BIG)
    for ns in ("mid", "big"):
        _query(index, ns)
    deadline = time.monotonic() + 60
    while any(
        (_state(local_server, "limits", ns).json()["ann"] or {}).get("state") != "ready"
        for ns in ("mid", "big")
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    def answered_approximately(ns: str, top_k: int) -> bool:
        before = _state(local_server, "limits", ns).json()["ann"]["ann"]
        index.query(vector=[0.5] * DIM, top_k=top_k, namespace=ns)
        return bool(_state(local_server, "limits", ns).json()["ann"]["ann"] == before + 1)

    mid = _state(local_server, "limits", "mid").json()
    assert (mid["search"], mid["approximate_up_to_top_k"]) == ("exact", None)
    assert not answered_approximately("mid", 3)
    big = _state(local_server, "limits", "big").json()
    assert (big["search"], big["approximate_up_to_top_k"]) == ("approximate", BIG // 16)
    assert answered_approximately("big", BIG // 16)
    assert not answered_approximately("big", BIG // 16 + 1)
