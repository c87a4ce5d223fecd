"""Fuzzing the gRPC data plane with generated messages, for every API generation it serves.

For each version's ``VectorService`` (2025-04: SDK 7.x; 2025-10: 8.x and 9.x; 2026-04; 2026-07:
10.x) and each of its RPCs, hypothesis builds request messages from the generated message
classes' descriptors: any subset of fields set, random strings (NUL, non-ASCII, 513
characters), random numbers (NaN, infinities, extremes), random Structs for filters and
metadata, random enums. The bytes then go as they are, or with an id or namespace turned into
invalid UTF-8, or with bytes flipped or cut, or as pure noise. Every call must either
succeed with a response that parses as that version's response message, or fail with a
status that blames the request (``INVALID_ARGUMENT``, ``NOT_FOUND``, ...); ``INTERNAL``,
``UNKNOWN``, ``UNAVAILABLE``, ``DATA_LOSS`` and timeouts are the gRPC 500s and fail the test.
Oversized messages are tried separately.

Bounded and seeded (``TENANT_RAG_FUZZ_EXAMPLES``, ``TENANT_RAG_FUZZ_SEED``), like the REST fuzzing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tenant_rag.local import LocalServer, start
from tenant_rag.local.api import grpc_versions
from tenant_rag.local.engine.limits import MAX_REQUEST_BYTES
from tests.reliability._figures import Tally

TALLY = Tally("fuzz_grpc")
KEY = "grpc-fuzz-key"
INDEX = "grpc-fuzz-7f3a"
EXAMPLES = int(os.environ.get("TENANT_RAG_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("TENANT_RAG_FUZZ_SEED", "20261130"))

#: Statuses that say the request was wrong (or not served): fine answers to a fuzzed call.
BLAMES_REQUEST = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNIMPLEMENTED,
}

MARK = "\x01MARK\x01"  # 6 bytes in UTF-8, swapped for 6 bytes that are not UTF-8
NOT_UTF8 = b"\xff\xfeMA\xc3\x28"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A keyed server with gRPC and one protected 1-d dotproduct index holding two records."""
    srv = start(tmp_path_factory.mktemp("grpc-fuzz") / "data", api_key=KEY, grpc=True)
    pc = srv.client()
    pc.create_index(
        name=INDEX,
        dimension=1,
        metric="dotproduct",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
        deletion_protection="enabled",
        timeout=-1,
    )
    pc.Index(name=INDEX).upsert(
        vectors=[("a", [1.0], {"genre": "drama"}), ("b", [-1.0], {"genre": "comedy"})]
    )
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def channel(server: LocalServer) -> Iterator[grpc.Channel]:
    assert server.grpc_target is not None
    options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
    with grpc.insecure_channel(server.grpc_target, options=options) as ch:
        yield ch


# -- message generation from descriptors -------------------------------------------------

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
_strings = st.one_of(
    _text,
    st.sampled_from(["", "a", "b", "__default__", "ns", "x\x00y", "é", "a" * 513, MARK]),
)
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**53), 2**53),
    _strings,
    st.sampled_from(["$eq", "$in", "$and", "$or", "$gt", "$exists", "genre", "drama"]),
)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(_text, st.sampled_from(["$and", "$or", "$in", "$eq", "genre", "year"])),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t in _INT_RANGES:
        lo, hi = _INT_RANGES[t]
        return st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, 0, 1, 10_001]))
    if t == FieldDescriptor.TYPE_DOUBLE:
        return st.floats(allow_nan=True, allow_infinity=True)
    if t == FieldDescriptor.TYPE_FLOAT:
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == FieldDescriptor.TYPE_STRING:
        return _strings
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=24)
    if t == FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-5, 50))
    raise AssertionError(f"unhandled field type {t} of {field.full_name}")


def _fill(draw: Any, msg: Any, desc: Descriptor, depth: int) -> None:
    for field in desc.fields:
        if not draw(st.booleans()):
            continue
        target = getattr(msg, field.name)
        sub = field.message_type
        if sub is not None and sub.full_name == "google.protobuf.Struct":
            value = draw(st.dictionaries(_text, _json, max_size=4))
            (target.add() if field.label == FieldDescriptor.LABEL_REPEATED else target).update(
                value
            )
        elif sub is not None and sub.GetOptions().map_entry:
            key_field, value_field = sub.fields_by_name["key"], sub.fields_by_name["value"]
            for key in draw(st.lists(_scalar(key_field), max_size=3)):
                if value_field.message_type is not None:
                    if depth < 3:
                        _fill(draw, target[key], value_field.message_type, depth + 1)
                else:
                    target[key] = draw(_scalar(value_field))
        elif sub is not None and field.label == FieldDescriptor.LABEL_REPEATED:
            for _ in range(draw(st.integers(0, 3)) if depth < 3 else 0):
                _fill(draw, target.add(), sub, depth + 1)
        elif sub is not None:
            if depth < 3:
                target.SetInParent()
                _fill(draw, target, sub, depth + 1)
        elif field.label == FieldDescriptor.LABEL_REPEATED:
            target.extend(draw(st.lists(_scalar(field), max_size=6)))
        else:
            setattr(msg, field.name, draw(_scalar(field)))


@st.composite
def request_bytes(draw: Any, cls: Any) -> bytes:
    """A generated ``cls`` message, serialized, then maybe damaged."""
    msg = cls()
    _fill(draw, msg, cls.DESCRIPTOR, 0)
    raw = msg.SerializeToString()
    how = draw(st.sampled_from(["as is", "as is", "not utf-8", "flipped", "cut", "noise"]))
    if how == "not utf-8":
        raw = raw.replace(MARK.encode(), NOT_UTF8)
    elif how == "flipped" and raw:
        pos = draw(st.integers(0, len(raw) - 1))
        raw = raw[:pos] + bytes([raw[pos] ^ draw(st.integers(1, 255))]) + raw[pos + 1 :]
    elif how == "cut" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif how == "noise":
        raw = draw(st.binary(max_size=64))
    return raw


# -- the calls --------------------------------------------------------------------------

CASES = [
    (version.name, name)
    for version in grpc_versions.VERSIONS.values()
    for name in sorted(version.methods)
]


def _call(
    channel: grpc.Channel, version: str, method: str, payload: bytes, key: str = KEY
) -> tuple[bytes | None, grpc.RpcError | None]:
    call = channel.unary_unary(f"/{grpc_versions.SERVICE}/{method}")
    metadata = [
        ("api-key", key),
        ("service-name", INDEX),
        (grpc_versions.VERSION_KEY, version),
    ]
    try:
        return call(payload, metadata=metadata, timeout=30), None
    except grpc.RpcError as err:
        return None, err


@pytest.mark.parametrize(("version", "method"), CASES)
def test_generated_messages_never_get_a_server_error(
    channel: grpc.Channel, version: str, method: str
) -> None:
    v = grpc_versions.VERSIONS[version]
    desc = v.methods[method]
    request_cls = v.message(desc.input_type.name)
    response_cls = v.message(desc.output_type.name)

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(payload=request_bytes(request_cls))
    def run(payload: bytes) -> None:
        answer, err = _call(channel, version, method, payload)
        TALLY.add(f"calls_{version}")
        TALLY.add("ok" if err is None else f"status_{err.code().name}")
        if err is None:
            assert answer is not None
            response_cls.FromString(answer)  # the answer is that version's message
            return
        assert err.code() in BLAMES_REQUEST, (
            f"{version} {method}: {err.code()} {err.details()!r} for {payload!r}"
        )

    run()


@pytest.mark.parametrize("version", sorted(grpc_versions.VERSIONS))
def test_oversized_messages_are_refused(channel: grpc.Channel, version: str) -> None:
    """Over 2 MB: INVALID_ARGUMENT naming the limit; over the transport's 8 MB: RESOURCE_EXHAUSTED."""
    v = grpc_versions.VERSIONS[version]
    upsert = v.message("UpsertRequest")
    for size, want in (
        (MAX_REQUEST_BYTES + 100_000, grpc.StatusCode.INVALID_ARGUMENT),
        (4 * MAX_REQUEST_BYTES + 100_000, grpc.StatusCode.RESOURCE_EXHAUSTED),
    ):
        msg = upsert(namespace="big")
        per_record = 20_000
        for i in range(size // per_record + 1):
            msg.vectors.add(id=f"r{i}", values=[1.0]).metadata.update({"pad": "x" * per_record})
        _, err = _call(channel, version, "Upsert", msg.SerializeToString())
        assert err is not None and err.code() == want, (size, err)
        if want == grpc.StatusCode.INVALID_ARGUMENT:
            assert f"the limit is {MAX_REQUEST_BYTES}" in str(err.details())


def test_a_wrong_key_is_refused_even_for_bytes_that_do_not_parse(channel: grpc.Channel) -> None:
    for payload in (b"\xff\xff\xff", b""):
        _, err = _call(channel, "2025-10", "Query", payload, key="wrong")
        assert err is not None and err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_write_figures() -> None:
    """Last in the module: the calls made and their statuses (printed; written to
    benchmarks/results/reliability_fuzz_grpc.json with TENANT_RAG_WRITE_FIGURES=1)."""
    TALLY.extra.update(examples_per_rpc=EXAMPLES, seed=SEED)
    TALLY.write(f"TENANT_RAG_FUZZ_EXAMPLES={EXAMPLES} pytest tests/fuzz/test_grpc_fuzz.py")
    assert sum(v for k, v in TALLY.counts.items() if k.startswith("calls_")) > 0
