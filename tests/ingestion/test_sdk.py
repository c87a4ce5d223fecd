"""The lean REST path (`tenant_rag.ingestion.sdk`): same records, same exceptions as the SDK's own.

The fast upsert bypasses the SDK's model layer, so these tests hold it to the
SDK's behaviour on the wire (what is stored) and in failure (which exception
class, which status), against the embedded server with the real SDK.
"""

from __future__ import annotations

import http.server
import json
import math
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pinecone.exceptions import ForbiddenException, PineconeApiException

from tenant_rag.connection import ensure_index
from tenant_rag.ingestion.sdk import (
    LeanRestIndex,
    UpsertResult,
    _fetch_result,
    fetch_reply_float32,
    lean_handle,
)
from tenant_rag.local import LocalServer, start
from tenant_rag.local.faults import FaultConfig
from tenant_rag.tenancy.pinned import PinnedIndex

from .conftest import DIM, stored


def _records(n: int, *, tag: str = "a") -> list[dict[str, Any]]:
    return [
        {
            "id": f"doc-{i}.md#{i % 3}",
            "values": [math.sin(i + k) / 3 for k in range(DIM)],
            "metadata": {"doc_id": f"doc-{i}.md", "chunk": i % 3, "tag": tag, "text": 'é ✓ "q"'},
        }
        for i in range(n)
    ]


def _dotproduct_index_with(server: LocalServer, recs: list[dict[str, Any]]) -> Any:
    """A fresh dotproduct index (sparse values need it) holding ``recs`` and one sparse record
    ``sp#0``, all in namespace ``f``."""
    name = f"dot-{uuid.uuid4().hex[:10]}"
    index = ensure_index(server.client(), name, dimension=DIM, metric="dotproduct")
    index.upsert(vectors=recs, namespace="f")
    sparse = {"indices": [3], "values": [1.5]}
    index.upsert(
        vectors=[{"id": "sp#0", "values": [0.2] * DIM, "sparse_values": sparse}], namespace="f"
    )
    return index


def test_fast_path_stores_exactly_what_the_sdk_path_stores(index: Any) -> None:
    lean = lean_handle(index)
    assert isinstance(lean, LeanRestIndex) and lean._transport is not None
    recs = _records(40)
    result = lean.upsert(vectors=recs, namespace="fast")
    assert isinstance(result, UpsertResult) and result.upserted_count == 40
    index.upsert(vectors=recs, namespace="sdk")  # the SDK's own path, type checks on
    fast, sdk = stored(index, "fast"), stored(index, "sdk")
    assert fast == sdk and len(fast) == 40
    one = fast["doc-7.md#1"]
    assert one["metadata"] == {"doc_id": "doc-7.md", "chunk": 1, "tag": "a", "text": 'é ✓ "q"'}
    assert one["values"] == pytest.approx([math.sin(7 + k) / 3 for k in range(DIM)], rel=1e-6)


def test_other_shapes_fall_back_to_the_sdk_path(index: Any) -> None:
    lean = lean_handle(index)
    tuples = [(f"t{i}", [0.5] * DIM, {"k": i}) for i in range(5)]
    resp = lean.upsert(vectors=tuples, namespace="fb")  # tuples: the SDK builds them
    assert not isinstance(resp, UpsertResult) and resp.upserted_count == 5
    resp = lean.upsert(vectors=_records(7), namespace="fb", batch_size=3, show_progress=False)
    assert not isinstance(resp, UpsertResult) and resp.upserted_count == 7
    assert len(stored(index, "fb")) == 12


def test_pinned_upsert_through_the_fast_path_stays_in_the_tenant(index: Any) -> None:
    pinned = PinnedIndex(lean_handle(index), "acme")
    assert pinned.upsert(_records(5)) == 5
    assert set(stored(index, "acme")) == {r["id"] for r in _records(5)}
    assert stored(index, "") == {}


def test_a_rejected_upsert_raises_what_the_sdk_raises(index: Any) -> None:
    bad = [{"id": "x#0", "values": [0.1] * (DIM + 1)}]  # wrong dimension: HTTP 400
    with pytest.raises(PineconeApiException) as sdk_err:
        index.upsert(vectors=bad, namespace="n")
    with pytest.raises(PineconeApiException) as fast_err:
        lean_handle(index).upsert(vectors=bad, namespace="n")
    assert type(fast_err.value) is type(sdk_err.value)
    assert fast_err.value.status == sdk_err.value.status == 400
    assert isinstance(fast_err.value.body, str) and "dimension" in fast_err.value.body


def test_a_wrong_key_and_a_rate_limit_raise_what_the_sdk_raises(tmp_path: Path) -> None:
    srv = start(tmp_path / "keyed", api_key="right-key")
    try:
        index = ensure_index(srv.client(), "keyed", dimension=DIM)
        from pinecone import Pinecone

        wrong = Pinecone(api_key="wrong-key", host=srv.url).Index(host=index._config.host)
        # an index's data plane answers a wrong key 403 "Wrong API key", as Pinecone's does
        with pytest.raises(ForbiddenException):
            wrong.upsert(vectors=_records(1), namespace="n")
        with pytest.raises(ForbiddenException):
            lean_handle(wrong).upsert(vectors=_records(1), namespace="n")
        assert lean_handle(index).upsert(vectors=_records(2), namespace="n").upserted_count == 2
    finally:
        srv.stop()

    flaky = start(tmp_path / "flaky", faults=FaultConfig(rate=1.0, kinds=("429",), seed=1))
    try:
        index = ensure_index(flaky.client(), f"f{uuid.uuid4().hex[:8]}", dimension=DIM)
        with pytest.raises(PineconeApiException) as sdk_err:
            index.upsert(vectors=_records(1), namespace="n")
        with pytest.raises(PineconeApiException) as fast_err:
            lean_handle(index).upsert(vectors=_records(1), namespace="n")
        assert type(fast_err.value) is type(sdk_err.value)
        assert fast_err.value.status == sdk_err.value.status == 429
    finally:
        flaky.stop()


def test_values_orjson_cannot_encode_fall_back_to_the_sdk(index: Any) -> None:
    odd = [{"id": "big#0", "values": [0.0] * DIM, "metadata": {"n": 2**70}}]  # > 64-bit int
    with pytest.raises(PineconeApiException):  # the SDK sends it; the server refuses it
        lean_handle(index).upsert(vectors=odd, namespace="n")


def test_fast_fetch_returns_what_the_sdk_fetch_returns(shared_local_server: LocalServer) -> None:
    recs = _records(30)
    index = _dotproduct_index_with(shared_local_server, recs)
    odd = "a b/c&d=e?f+g%20#1"  # every character a query string must escape
    index.upsert(vectors=[{"id": odd, "values": [0.3] * DIM}], namespace="f")
    ids = [r["id"] for r in recs[:12]] + ["sp#0", odd, "absent#0"]
    lean = lean_handle(index)
    fast = lean.fetch(ids=ids, namespace="f")
    sdk = index.fetch(ids=ids, namespace="f")
    assert fast.namespace == sdk.namespace == "f"
    assert set(fast.vectors) == set(sdk.vectors) == {*ids[:14]}
    for rid, vec in sdk.vectors.items():
        got = fast.vectors[rid]
        assert got["id"] == vec.id and got["values"] == pytest.approx(list(vec.values))
        assert (got["metadata"] or None) == (dict(vec.metadata) if vec.metadata else None)
    assert fast.vectors["sp#0"]["sparse_values"] == {"indices": [3], "values": [1.5]}
    assert fast.usage["read_units"] == sdk.usage.read_units


def test_pinned_fetch_through_the_fast_path_checks_ownership(index: Any) -> None:
    PinnedIndex(index, "acme").upsert(_records(3))
    pinned = PinnedIndex(lean_handle(index), "acme", isolation="namespace")
    got = pinned.fetch(["doc-1.md#1", "doc-2.md#2", "nope#0"])
    assert set(got) == {"doc-1.md#1", "doc-2.md#2"}
    assert got["doc-1.md#1"].metadata["tag"] == "a" and len(got["doc-1.md#1"].values) == DIM
    assert PinnedIndex(lean_handle(index), "other").fetch(["doc-1.md#1"]) == {}


def test_a_failed_fetch_raises_what_the_sdk_raises(index: Any) -> None:
    too_many = [f"id{i}" for i in range(1001)]  # over Pinecone's 1,000-id limit: HTTP 400
    with pytest.raises(PineconeApiException) as sdk_err:
        index.fetch(ids=too_many, namespace="n")
    with pytest.raises(PineconeApiException) as fast_err:
        lean_handle(index).fetch(ids=too_many, namespace="n")
    assert type(fast_err.value) is type(sdk_err.value)
    assert fast_err.value.status == sdk_err.value.status
    assert lean_handle(index).fetch(ids=["x"], namespace="n").vectors == {}


class _Capture(http.server.BaseHTTPRequestHandler):
    """Records each request (method, path, headers, body) and answers like Pinecone."""

    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, dict(self.headers), body))
        if self.path.startswith("/vectors/upsert"):
            reply = {"upsertedCount": len(json.loads(body)["vectors"])}
        else:
            reply = {"vectors": {}, "namespace": "n", "usage": {"readUnits": 1}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


def test_on_the_wire_the_fast_path_sends_what_the_sdk_sends() -> None:
    """The cloud path at the HTTP level: a loopback capture stands for Pinecone's index host.

    Same method, path, query, API key, API version, user agent and content type,
    and the same JSON document in the body, for upsert and fetch.
    """
    from pinecone import Pinecone

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"http://127.0.0.1:{server.server_address[1]}"
        sdk = Pinecone(api_key="pc-secret-key").Index(host=host)
        lean = lean_handle(sdk)
        recs = _records(3)
        _Capture.seen.clear()
        sdk.upsert(vectors=recs, namespace="acme")
        lean.upsert(vectors=recs, namespace="acme")
        sdk.fetch(ids=["a b#0", "c&d#1"], namespace="acme")
        lean.fetch(ids=["a b#0", "c&d#1"], namespace="acme")
    finally:
        server.shutdown()
    (sm, sp, sh, sb), (lm, lp, lh, lb), (fm, fp, fh, _), (gm, gp, gh, _) = _Capture.seen
    assert (sm, sp) == (lm, lp) == ("POST", "/vectors/upsert")
    assert json.loads(sb) == json.loads(lb) == {"vectors": recs, "namespace": "acme"}
    assert (fm, fp) == (gm, gp) and fp.startswith("/vectors/fetch?")
    keys = ("Api-Key", "X-Pinecone-Api-Version", "User-Agent", "Content-Type", "Accept")
    for sdk_headers, lean_headers in ((sh, lh), (fh, gh)):
        want = {k.lower(): v for k, v in sdk_headers.items() if k.title() in keys}
        got = {k.lower(): v for k, v in lean_headers.items() if k.title() in keys}
        assert got == want and want["api-key"] == "pc-secret-key"


def test_fetch_float32_returns_what_fetch_returns_as_float32(
    shared_local_server: LocalServer,
) -> None:
    """The read-back's fetch (simdjson, a buffer of doubles a record) against the orjson one."""
    recs = _records(25)
    recs[3]["values"] = [0.0] * DIM  # zeros: the server may spell them as integers
    recs[4]["values"] = [1e-40, -3.4028234663852886e38] + [2.0**-149] * (DIM - 2)  # extremes
    index = _dotproduct_index_with(shared_local_server, recs)
    ids = [r["id"] for r in recs] + ["sp#0", "absent#0"]
    lean = lean_handle(index)
    plain = lean.fetch(ids=ids, namespace="f")
    fast = lean.fetch_float32(ids=ids, namespace="f")
    assert set(fast.vectors) == set(plain.vectors) == set(ids[:-1])
    assert fast.namespace == plain.namespace and fast.usage == plain.usage
    for rid, vec in plain.vectors.items():
        got = fast.vectors[rid]
        assert got["values"].dtype == np.float32
        assert got["values"].tobytes() == np.asarray(vec["values"], dtype=np.float32).tobytes()
        assert {k: v for k, v in got.items() if k != "values"} == {
            k: v for k, v in vec.items() if k != "values"
        }
    pinned = PinnedIndex(lean, "acme")
    PinnedIndex(index, "acme").upsert(recs[:3])
    got32 = pinned.fetch([r["id"] for r in recs[:3]], float32=True)
    got = pinned.fetch([r["id"] for r in recs[:3]])
    assert {k: (r.metadata, list(r.values)) for k, r in got32.items()} == {
        k: (r.metadata, r.values) for k, r in got.items()
    }
    assert PinnedIndex(lean, "other").fetch([recs[0]["id"]], float32=True) == {}


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=12),
            st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), max_size=6),
            st.dictionaries(
                st.text(max_size=6),
                st.one_of(
                    st.text(max_size=8),
                    st.booleans(),
                    st.integers(-(2**53), 2**53),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.lists(st.text(max_size=4), max_size=3),
                ),
                max_size=4,
            ),
        ),
        max_size=6,
        unique_by=lambda t: t[0],
    )
)
def test_fetch_reply_float32_parses_as_orjson_does(
    recs: list[tuple[str, list[float], dict[str, Any]]],
) -> None:
    """Any answer, spelled as orjson or as the stdlib writes it: the same records as orjson reads."""
    reply = {
        "vectors": {
            rid: {"id": rid, "values": [float(np.float32(v)) for v in values], "metadata": md}
            for rid, values, md in recs
        },
        "namespace": "n",
        "usage": {"readUnits": 1},
    }
    for raw in (orjson.dumps(reply), json.dumps(reply, ensure_ascii=True).encode()):
        got = fetch_reply_float32(raw)
        want = _fetch_result(orjson.loads(raw))
        assert set(got.vectors) == set(want.vectors) and got.usage == want.usage
        for rid, vec in want.vectors.items():
            mine = got.vectors[rid]
            assert mine["values"].tobytes() == np.asarray(vec["values"], np.float32).tobytes()
            assert mine["metadata"] == vec["metadata"] and mine["id"] == vec["id"]


def test_fetch_reply_float32_reads_odd_answers_as_the_orjson_path_does() -> None:
    """Values simdjson cannot read as doubles, and answers that are not objects: as orjson."""
    for raw in (
        b'{"vectors":{"a":{"id":"a","values":[1,2.5,true]}},"namespace":"n"}',
        b'{"vectors":{"a":{"id":"a","values":[1,2.5,-0.0,18446744073709551615]}}}',
        b'{"vectors":{"a":{"id":"a"}},"usage":{"read_units":3}}',
        b"[1, 2]",
        b"",
    ):
        got = fetch_reply_float32(raw)
        reply = orjson.loads(raw) if raw else {}
        want = _fetch_result(reply if isinstance(reply, dict) else {})
        assert set(got.vectors) == set(want.vectors) and got.usage == want.usage
        for rid, vec in want.vectors.items():
            mine = got.vectors[rid]["values"]
            assert mine.dtype == np.float32
            assert mine.tobytes() == np.asarray(vec["values"], np.float32).tobytes()
    with pytest.raises(orjson.JSONDecodeError):
        fetch_reply_float32(b'{"vectors":')
