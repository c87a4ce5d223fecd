"""The gRPC read path of float32 fetches (`grpc_fetch`): what the full messages say, faster.

`decode_fetch` reads a record's values from a view whose ``values`` field is
``repeated bytes``. For any answer, however a valid encoder lays out the packed
floats (one record, split into several, unpacked, or both), it must give what
parsing the answer with the full ``repeated float`` message gives (Pinecone's own
2025-04 ``FetchResponse`` included); `struct_dict` must give json_format's dict.
Then the path itself: the lean REST handle finds the embedded server's gRPC port,
reads the same records as over REST, falls back to REST when the server serves no
gRPC or a gRPC call fails, and speaks TLS to a TLS server.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

import numpy as np
import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tenant_rag.connection import ensure_index
from tenant_rag.ingestion import grpc_fetch
from tenant_rag.ingestion._grpc_gen import fetch_view_pb2 as pb
from tenant_rag.ingestion.grpc_fetch import GrpcFetcher, decode_fetch, struct_dict
from tenant_rag.ingestion.sdk import lean_handle
from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint, digest_of
from tenant_rag.local import LocalServer, start
from tenant_rag.local.api._grpc_gen import db_data_2025_04_pb2 as pinecone_2025_04

finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
_json_scalar = st.one_of(
    st.text(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none()
)
_json_value = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
metadata = st.one_of(st.none(), st.dictionaries(st.text(max_size=10), _json_value, max_size=5))
#: how a record's dense values are laid out: one packed record, several, unpacked, or both
LAYOUTS = ("packed", "split", "unpacked", "mixed")


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _values(values: np.ndarray, layout: str) -> bytes:
    """Field 2 of a Vector in one of the layouts a valid protobuf encoder may use."""
    raw = values.astype("<f4").tobytes()
    if layout == "packed":
        return _ld(2, raw) if raw else b""
    if layout == "split":  # a packed field may come as several records: concatenated
        cut = len(raw) // 8 * 4
        return _ld(2, raw[:cut]) + _ld(2, raw[cut:])
    unpacked = b"".join(b"\x15" + struct.pack("<f", v) for v in values.tolist())  # 2, fixed32
    if layout == "unpacked":
        return unpacked
    half = len(raw) // 8 * 4
    return _ld(2, raw[:half]) + b"".join(
        b"\x15" + struct.pack("<f", v) for v in values[half // 4 :].tolist()
    )


def encode_answer(records: dict[str, tuple[np.ndarray, Any, str]], namespace: str) -> bytes:
    parts = []
    for rid, (values, md, layout) in records.items():
        vec = _ld(1, rid.encode()) + _values(values, layout)
        if md is not None:
            msg = struct_pb2.Struct()
            msg.update(md)
            vec += _ld(3, msg.SerializeToString())
        parts.append(_ld(1, _ld(1, rid.encode()) + _ld(2, vec)))
    if namespace:
        parts.append(_ld(2, namespace.encode()))
    parts.append(_ld(3, b"\x08\x07"))
    return b"".join(parts)


answer_records = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.tuples(
        arrays(np.float32, st.integers(0, 16), elements=finite_f32),
        metadata,
        st.sampled_from(LAYOUTS),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(answer_records, st.text(max_size=8))
@example({"a": (np.array([-0.0, 1e-45, 3.4028235e38], np.float32), {"n": 3.0}, "split")}, "")
@example({"a": (np.array([0.5, 2.0], np.float32), None, "mixed")}, "ns")
def test_decode_gives_what_the_full_message_gives(
    records: dict[str, tuple[np.ndarray, Any, str]], namespace: str
) -> None:
    data = encode_answer(records, namespace)
    full = pinecone_2025_04.FetchResponse.FromString(data)  # Pinecone's own message
    for dimension in (None, 3):
        got = decode_fetch(data, dimension)
        assert got.namespace == full.namespace == namespace
        assert got.usage == {"read_units": 7}
        assert set(got.vectors) == set(full.vectors) == set(records)
        for rid, vec in full.vectors.items():
            mine = got.vectors[rid]
            assert mine["values"].dtype == np.dtype("<f4")
            expected = np.asarray(vec.values, dtype="<f4")
            assert mine["values"].tobytes() == expected.tobytes()  # -0.0 included
            assert expected.tobytes() == records[rid][0].astype("<f4").tobytes()
            md = json_format.MessageToDict(vec.metadata) if vec.HasField("metadata") else None
            assert mine["metadata"] == md
            assert mine["id"] == rid and mine["sparse_values"] is None


def test_the_view_alone_cannot_read_split_or_unpacked_values() -> None:
    """What the fallback is for: the view reads these layouts wrong (so decode must not)."""
    values = np.arange(1, 9, dtype=np.float32)
    for layout in ("split", "unpacked", "mixed"):
        data = encode_answer({"a": (values, None, layout)}, "")
        view = pb.RawFetchResponse.FromString(data).vectors["a"].values
        assert len(view) != 1 or len(view[0]) != values.nbytes
        assert decode_fetch(data, 8).vectors["a"]["values"].tolist() == values.tolist()


def test_a_packed_payload_of_another_dimension_is_read_from_the_full_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = np.arange(4, dtype=np.float32)
    data = encode_answer({"a": (values, None, "packed")}, "")
    parsed: list[bytes] = []
    full_parse = pb.FullFetchResponse.FromString

    def counting(raw: bytes) -> Any:
        parsed.append(raw)
        return full_parse(raw)

    monkeypatch.setattr(pb.FullFetchResponse, "FromString", counting)
    assert decode_fetch(data, 4).vectors["a"]["values"].tolist() == [0, 1, 2, 3]
    assert parsed == []  # 4 x 4 bytes: read from the view
    assert decode_fetch(data, 8).vectors["a"]["values"].tolist() == [0, 1, 2, 3]
    assert parsed == [data]  # not 4 x 8 bytes: the full message was parsed


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _json_value, max_size=6))
@example({"i": 3, "big": 1e300, "neg": -0.0, "l": [1, "a", None, True, {"x": []}], "z": None})
def test_struct_dict_is_json_formats_dict(md: dict[str, Any]) -> None:
    msg = struct_pb2.Struct()
    msg.update(md)
    assert struct_dict(msg) == json_format.MessageToDict(msg)


# -- the path, against the embedded server -----------------------------------------------


def _seed(index: Any) -> None:
    index.upsert(
        vectors=[
            {"id": f"r{i}", "values": [i + 0.1, -0.0, 1e-45, 1.0], "metadata": {"n": i, "t": "x"}}
            for i in range(30)
        ],
        namespace="acme",
    )


def test_lean_handle_reads_float32_over_grpc_equal_to_rest(
    shared_local_server: LocalServer,
) -> None:
    index = ensure_index(shared_local_server.client(), "grpc-fetch-equal", dimension=4)
    _seed(index)
    lean = lean_handle(index)
    assert lean.fetches_float32_over_grpc()
    ids = [f"r{i}" for i in range(30)] + ["missing"]
    over_grpc = lean.fetch_float32(ids=ids, namespace="acme")
    raw = lean._transport.request_raw(
        "GET", "/vectors/fetch", query=[("namespace", "acme")] + [("ids", i) for i in ids]
    )
    from tenant_rag.ingestion.sdk import fetch_reply_float32

    over_rest = fetch_reply_float32(raw)
    assert set(over_grpc.vectors) == set(over_rest.vectors) == set(ids[:-1])
    assert over_grpc.usage == over_rest.usage
    endpoint = TenantEndpoint(index, "acme")
    for rid, vec in over_rest.vectors.items():
        mine = over_grpc.vectors[rid]
        assert mine["values"].tobytes() == vec["values"].tobytes()
        assert mine["metadata"] == vec["metadata"]  # 3.0 == 3
    # through PinnedIndex, as the read-back reads: the same digests
    assert endpoint.float32_fetch_url_bytes() is None  # whole pages: no URL to fill
    digests = sorted(digest_of(r) for r in endpoint.fetch(ids, float32=True))
    rest_digests = sorted(digest_of(r) for r in endpoint.fetch(ids))
    assert digests == rest_digests and len(digests) == 30


def test_rest_when_the_server_serves_no_grpc(tmp_path: Any) -> None:
    with start(tmp_path / "data") as srv:
        index = ensure_index(srv.client(), "no-grpc", dimension=4)
        _seed(index)
        lean = lean_handle(index)
        assert not lean.fetches_float32_over_grpc()
        assert TenantEndpoint(index, "acme").float32_fetch_url_bytes() == 8000
        got = lean.fetch_float32(ids=["r1", "r2"], namespace="acme")
        assert got.vectors["r1"]["values"].dtype == np.float32
        assert got.vectors["r1"]["metadata"] == {"n": 1, "t": "x"}


def test_a_failing_grpc_call_switches_the_handle_to_rest(
    shared_local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    index = ensure_index(shared_local_server.client(), "grpc-fetch-fallback", dimension=4)
    _seed(index)
    lean = lean_handle(index)
    good = lean._grpc_fetcher()
    assert isinstance(good, GrpcFetcher)
    lean._grpc = GrpcFetcher("127.0.0.1:1", api_key="the-key")  # nothing listens: UNAVAILABLE
    with caplog.at_level(logging.WARNING, logger="tenant_rag.ingestion.sdk"):
        got = lean.fetch_float32(ids=["r3"], namespace="acme")
    assert got.vectors["r3"]["values"].tolist()[0] == pytest.approx(3.1)
    assert lean._grpc is None and not lean.fetches_float32_over_grpc()
    assert "fetching over REST from now on" in caplog.text
    assert "the-key" not in caplog.text


def test_tls_server_is_read_over_tls(tmp_path: Any) -> None:
    with start(tmp_path / "data", grpc=True, tls=True) as srv:
        index = ensure_index(srv.client(), "grpc-tls", dimension=4)
        _seed(index)
        lean = lean_handle(index)
        assert lean.fetches_float32_over_grpc()
        fetcher = lean._grpc_fetcher()
        got = lean.fetch_float32(ids=["r5"], namespace="acme")
        assert lean._grpc is fetcher  # no fallback happened
        assert got.vectors["r5"]["values"][0] == np.float32(5.1)


def test_only_embedded_hosts_are_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    class Transport:
        api_key = "k"
        ca_file = None

        def __init__(self, host: str) -> None:
            self.host = host
            self.asked: list[str] = []

        def get_raw(self, url: str) -> bytes:
            self.asked.append(url)
            raise RuntimeError("404")

    cloud = Transport("https://my-index-abc123.svc.aped-4627-b74a.pinecone.io")
    assert grpc_fetch.local_grpc_fetcher(cloud) is None  # type: ignore[arg-type]
    assert cloud.asked == []
    local = Transport("http://127.0.0.1:5080/_index/my-index")
    assert grpc_fetch.local_grpc_fetcher(local) is None  # type: ignore[arg-type]
    assert local.asked == ["http://127.0.0.1:5080/_local/grpc/my-index"]


# -- the view itself -----------------------------------------------------------------------

_VIEW_OF = {  # the view's message -> Pinecone's
    "FetchRequest": "FetchRequest",
    "RawFetchResponse": "FetchResponse",
    "FullFetchResponse": "FetchResponse",
    "RawVector": "Vector",
    "FullVector": "Vector",
    "SparseValues": "SparseValues",
    "Usage": "Usage",
}


def test_the_view_has_pinecones_field_numbers_and_types_in_every_version() -> None:
    """Only RawVector.values differs (bytes for packed floats); nothing is left out that
    Pinecone's Fetch answer carries, so a view parse leaves no unknown field."""
    from google.protobuf.descriptor import FieldDescriptor

    from tenant_rag.local.api.grpc_versions import VERSIONS

    for version in VERSIONS.values():
        for mine, theirs in _VIEW_OF.items():
            ours = {f.number: f for f in getattr(pb, mine).DESCRIPTOR.fields}
            real = {f.number: f for f in version.message(theirs).DESCRIPTOR.fields}
            if theirs == "Usage":  # later versions add egress_bytes, which fetch never sets
                real = {n: f for n, f in real.items() if f.name == "read_units"}
            assert ours.keys() == real.keys(), (version.name, mine)
            for number, field in ours.items():
                assert field.name == real[number].name
                assert field.label == real[number].label
                if mine == "RawVector" and field.name == "values":
                    assert field.type == FieldDescriptor.TYPE_BYTES
                    assert real[number].type == FieldDescriptor.TYPE_FLOAT
                    continue
                assert field.type == real[number].type, (version.name, mine, field.name)


def test_the_committed_view_is_what_make_grpc_gen_makes(tmp_path: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, str(root / "scripts" / "gen_grpc.py"), "--out", str(tmp_path / "v"),
         "--view-out", str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    committed = root / "tenant_rag" / "ingestion" / "_grpc_gen"
    for name in ("fetch_view_pb2.py", "fetch_view_pb2.pyi"):
        assert (tmp_path / name).read_text() == (committed / name).read_text(), name


def test_an_answer_that_does_not_parse_switches_the_handle_to_rest(
    shared_local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.protobuf.message import DecodeError

    index = ensure_index(shared_local_server.client(), "grpc-fetch-undecodable", dimension=4)
    _seed(index)
    lean = lean_handle(index)
    assert lean.fetches_float32_over_grpc()

    def undecodable(data: bytes, dimension: int | None) -> Any:
        raise DecodeError("truncated message")

    monkeypatch.setattr(grpc_fetch, "decode_fetch", undecodable)
    got = lean.fetch_float32(ids=["r7"], namespace="acme")
    assert got.vectors["r7"]["values"][0] == np.float32(7.1)
    assert not lean.fetches_float32_over_grpc()
