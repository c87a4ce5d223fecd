"""Fetch answers encoded as bytes (`grpc_encode`) parse to the messages the server used to build.

The gRPC Fetch and FetchByMetadata answers are written from the stored float32 rows
instead of being built as protobuf messages (`_fill_fetched`, kept as the reference
definition). For any records (ids, values with extremes and -0.0, sparse values,
metadata of every JSON type), namespace, read units and pagination token, the bytes
must parse, with the message classes of every API version the server speaks, to a
message equal to the one `_fill_fetched` builds; values are also compared bit for bit
(``-0.0 == 0.0`` for message equality). Map order may differ, so parsed messages are
compared, not bytes. The last tests go through a running server: what a client of
each version receives equals the reference built from the engine's own answer.
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tenant_rag.local import LocalServer
from tenant_rag.local.api import grpc_encode, grpc_versions
from tenant_rag.local.api.grpc_service import _fill_fetched

from .helpers import make_index

VERSIONS = list(grpc_versions.VERSIONS.values())
finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
EXTREMES = np.array(
    [0.1, -0.0, 0.0, 1e-45, -1e-45, 3.4028235e38, -3.4028235e38, 1.1754944e-38, 1.0], np.float32
)

_json_scalar = st.one_of(
    st.text(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**53), 2**53),
    st.booleans(),
    st.none(),
)
_json_value = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
metadata = st.one_of(st.none(), st.dictionaries(st.text(max_size=10), _json_value, max_size=5))
sparse = st.one_of(
    st.none(),
    st.integers(0, 6).flatmap(
        lambda n: st.tuples(
            arrays(np.uint32, n, elements=st.integers(0, 2**32 - 1)),
            arrays(np.float32, n, elements=finite_f32),
        )
    ),
)
record = st.tuples(
    st.one_of(arrays(np.float32, st.integers(0, 24), elements=finite_f32), st.just(EXTREMES)),
    sparse,
    metadata,
)
records = st.dictionaries(st.text(min_size=1, max_size=20), record, max_size=8)


def reference(
    v: grpc_versions.GrpcVersion,
    name: str,
    recs: dict[str, Any],
    namespace: str,
    read_units: int,
    token: str | None,
) -> Any:
    """The message the server built before `grpc_encode`, from the engine's list form."""
    vectors = {}
    for rid, (values, sp, md) in recs.items():
        rec: dict[str, Any] = {"id": rid, "values": values.tolist()}
        if sp is not None:
            rec["sparseValues"] = {"indices": sp[0].tolist(), "values": sp[1].tolist()}
        if md:
            rec["metadata"] = md
        vectors[rid] = rec
    out = v.message(name)(namespace=namespace)
    _fill_fetched(out, {"vectors": vectors, "usage": {"readUnits": read_units}})
    if token is not None:
        out.pagination.next = token
    return out


def assert_same(parsed: Any, expected: Any, recs: dict[str, Any]) -> None:
    assert parsed == expected
    for rid, (values, sp, _) in recs.items():
        got = np.asarray(parsed.vectors[rid].values, dtype="<f4")
        assert got.tobytes() == values.astype("<f4").tobytes()  # -0.0 stays -0.0
        if sp is not None:
            got_sp = np.asarray(parsed.vectors[rid].sparse_values.values, dtype="<f4")
            assert got_sp.tobytes() == sp[1].astype("<f4").tobytes()


@settings(max_examples=200, deadline=None)
@given(records, st.text(max_size=12), st.integers(0, 2**32 - 1), st.one_of(st.none(), st.text()))
@example({"a": (EXTREMES, None, {"n": 3, "f": -0.0, "s": "x", "b": True, "z": None})}, "", 0, None)
@example({"é#1": (np.zeros(0, np.float32), None, {"l": ["a", 1, None, {"k": []}]})}, "ns", 5, "")
def test_bytes_parse_to_the_message_the_server_built(
    recs: dict[str, Any], namespace: str, read_units: int, token: str | None
) -> None:
    for v in VERSIONS:
        fetch = grpc_encode.fetch_response(recs, namespace, read_units, v.message("SparseValues"))
        expected = reference(v, "FetchResponse", recs, namespace, read_units, None)
        assert_same(v.message("FetchResponse").FromString(fetch), expected, recs)
        if "FetchByMetadata" in v.methods:
            by_md = grpc_encode.fetch_response(
                recs, namespace, read_units, v.message("SparseValues"), next_token=token
            )
            expected = reference(v, "FetchByMetadataResponse", recs, namespace, read_units, token)
            assert_same(v.message("FetchByMetadataResponse").FromString(by_md), expected, recs)


@pytest.mark.parametrize("n", [0, 1, 127, 128, 16383, 16384, 2**21, 2**32 - 1, 2**63])
def test_varint_as_protobuf_writes_it(n: int) -> None:
    if n < 2**32:  # Usage.read_units is a uint32: protobuf's own varint
        usage = grpc_versions.DEFAULT.message("Usage")(read_units=n)
        assert usage.SerializeToString() == b"\x08" + grpc_encode.varint(n)
    decoded, shift = 0, 0
    for byte in grpc_encode.varint(n):
        decoded |= (byte & 0x7F) << shift
        shift += 7
    assert decoded == n


# -- through a running server ------------------------------------------------------------


def _call(target: str, method: str, request: Any, response_cls: Any, version: str) -> Any:
    channel = grpc.insecure_channel(target)
    try:
        fn = channel.unary_unary(
            f"/VectorService/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_cls.FromString,
        )
        return fn(request, metadata=[("x-pinecone-api-version", version)])
    finally:
        channel.close()


def _seed(local_server: LocalServer, name: str) -> None:
    make_index(local_server.client(), name, dimension=4)
    ix = local_server.engine.vector_index(name)
    ix.upsert(
        "ns",
        [
            {"id": "a", "values": [0.1, -0.0, 3.4028235e38, 1e-45], "metadata": {"k": "v", "n": 3}},
            {"id": "b", "values": [1, 2, 3, 4], "metadata": {"l": ["x", "y"], "t": True}},
            {"id": "c", "values": [0.5, 0.25, -1, 7]},
        ],
    )


def test_fetch_answers_of_the_server_equal_the_reference(local_server: LocalServer) -> None:
    name = "grpc-encode"
    _seed(local_server, name)
    ix = local_server.engine.vector_index(name)
    target = f"127.0.0.1:{local_server._grpc.index_port(name)}"  # type: ignore[union-attr]
    for v in VERSIONS:
        res = ix.fetch("ns", ["a", "b", "c", "missing"])
        expected = v.message("FetchResponse")(namespace="ns")
        _fill_fetched(expected, res)
        got = _call(
            target,
            "Fetch",
            v.message("FetchRequest")(ids=["a", "b", "c", "missing"], namespace="ns"),
            v.message("FetchResponse"),
            v.name,
        )
        assert got == expected
        assert list(got.vectors["a"].values)[1] == 0.0
        assert np.signbit(np.float32(got.vectors["a"].values[1]))


def test_fetch_by_metadata_pages_and_token_equal_the_reference(local_server: LocalServer) -> None:
    from google.protobuf import json_format

    name = "grpc-encode-md"
    _seed(local_server, name)
    ix = local_server.engine.vector_index(name)
    target = f"127.0.0.1:{local_server._grpc.index_port(name)}"  # type: ignore[union-attr]
    flt = {"n": {"$exists": False}}
    for v in VERSIONS:
        if "FetchByMetadata" not in v.methods:
            continue
        token = None
        seen: list[str] = []
        while True:
            res = ix.fetch_by_metadata("ns", flt, 1, token)
            expected = v.message("FetchByMetadataResponse")(namespace="ns")
            _fill_fetched(expected, res)
            if "pagination" in res:
                expected.pagination.next = res["pagination"]["next"]
            request = v.message("FetchByMetadataRequest")(namespace="ns", limit=1)
            json_format.ParseDict(flt, request.filter)
            if token is not None:
                request.pagination_token = token
            got = _call(
                target, "FetchByMetadata", request, v.message("FetchByMetadataResponse"), v.name
            )
            assert got == expected
            seen += list(got.vectors)
            if not got.HasField("pagination"):
                break
            token = got.pagination.next
        assert seen == ["b", "c"]
