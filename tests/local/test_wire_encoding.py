"""The REST answers that carry values are written byte for byte as before `engine.wire`.

`wire.json_values` (a float32 row written by orjson as a float64 array) must give
the bytes of ``orjson.dumps(vec.tolist())``, and `wire.load_metadata` the values of
``json.loads``, for any input; the answers of fetch, fetch_by_metadata and query
with values must be the very bytes the previous encoder wrote (``tolist`` and
``json.loads``), which the last test rebuilds by putting those two back.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tenant_rag.local import LocalServer
from tenant_rag.local.engine import index as engine_index
from tenant_rag.local.engine import matrix as engine_matrix
from tenant_rag.local.engine.wire import json_values, load_metadata

finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(arrays(np.float32, st.integers(0, 48), elements=finite_f32))
@example(np.array([0.1, -0.0, 0.0, 1e-45, 3.4028235e38, -1.1754944e-38, 1.0, 1e16], np.float32))
def test_values_are_the_bytes_of_the_float_list(vec: np.ndarray) -> None:
    assert orjson.dumps(json_values(vec)) == orjson.dumps(vec.tolist())
    # as stored: little-endian bytes read back with frombuffer, inside an answer
    stored = np.frombuffer(vec.astype("<f4").tobytes(), dtype="<f4")
    assert orjson.dumps({"values": json_values(stored)}) == orjson.dumps(
        {"values": stored.tolist()}
    )


def test_values_of_a_million_random_bit_patterns() -> None:
    """Every exponent and mantissa shape, subnormals included (all 2**32 were checked once)."""
    bits = np.random.default_rng(13).integers(0, 2**32, size=1_000_000, dtype=np.uint64)
    vec = bits.astype(np.uint32).view(np.float32)
    vec = vec[np.isfinite(vec)]
    assert orjson.dumps(json_values(vec)) == orjson.dumps(vec.tolist())


_plain_value = st.one_of(
    st.text(),
    st.integers(),  # unbounded: beyond 64 bits too (json.loads keeps them, orjson cannot)
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e-05, 1.5e-07, 1e16, 1e22, -0.0, 5e-324, 2.0**63, 2.0**64, 1.0, 9.2e18]),
    st.booleans(),
    st.lists(st.text(), max_size=4),
)
plain_metadata = st.dictionaries(st.text(max_size=12), _plain_value, max_size=6)
# what this server never stores, but a stored text could hold: the stdlib's fallbacks
odd_metadata = st.dictionaries(
    st.text(max_size=6),
    st.one_of(
        _plain_value,
        st.floats(),  # NaN and infinities, written by json.dumps as NaN / Infinity
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
        st.lists(st.one_of(st.integers(), st.floats(), st.none()), max_size=3),
        st.none(),
    ),
    max_size=5,
)


def _old(text: str) -> bytes | type[BaseException]:
    """What the answer held before: orjson writing ``json.loads`` of the stored text."""
    try:
        return orjson.dumps({"metadata": json.loads(text)})
    except (TypeError, ValueError) as exc:
        return type(exc)


def _new(text: str) -> bytes | type[BaseException]:
    try:
        return orjson.dumps({"metadata": load_metadata(text)})
    except (TypeError, ValueError) as exc:
        return type(exc)


def _spellings(md: dict[str, Any]) -> list[str]:
    """The engine's spelling of stored metadata, and others a stored text could have."""
    return [
        json.dumps(md, separators=(",", ":"), ensure_ascii=False),  # what upsert stores
        json.dumps(md),
        json.dumps(md, ensure_ascii=True, indent=1),
    ]


@settings(max_examples=400, deadline=None)
@given(plain_metadata)
@example({"n": 10**20, "m": -(2**63) - 1, "u": 2**64 - 1, "f": 1e-05, "s": '\x1f\x7f\u2028é"\\'})
@example({"big": 123456789012345678901234567890})
def test_metadata_answers_as_json_loads_did(md: dict[str, Any]) -> None:
    for text in _spellings(md):
        assert _new(text) == _old(text), text


@settings(max_examples=300, deadline=None)
@given(odd_metadata)
@example({"x": math.nan, "y": [None, 1.5], "z": {"a": 10**30}})
def test_metadata_outside_what_is_stored_answers_as_before(md: dict[str, Any]) -> None:
    for text in _spellings(md):
        assert _new(text) == _old(text), text


@pytest.mark.parametrize(
    "text",
    [
        '{"s":"\\ud800"}',  # a lone surrogate: orjson refuses, json.loads reads it
        '{"a":1,"a":2}',
        '{"n":1e400}',
        '{"n":-Infinity}',
        '{"n":184467440737095516160}',
        '{"n":18446744073709551615,"m":-9223372036854775808}',
        '{"f":0.1000000000000000055511151231257827021181583404541015625}',
    ],
)
def test_metadata_texts_at_the_parsers_edges(text: str) -> None:
    assert _new(text) == _old(text)


def _tricky_metadata(i: int) -> dict[str, Any]:
    shapes: list[dict[str, Any]] = [
        {"text": "plain words, commas, and: colons", "chunk": i},
        {"f": 1e-05, "g": 1.5e-07, "h": 1e16, "k": 0.1, "z": -0.0, "one": 1.0},
        {"u": 'é ñ 中文 \u2028 \x1f tab\t quote" back\\', "tags": ["a", "b", "ü"]},
        {"big": 9223372036854775807, "neg": -9223372036854775808, "b": True},
        {"big_float": 1.8446744073709552e19, "tiny": 5e-324},
    ]
    return shapes[i % len(shapes)]


def test_rest_answers_are_the_bytes_of_the_previous_encoder(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fetch, fetch_by_metadata and query with values, through HTTP: the same body as
    when values went out as ``tolist()`` and metadata through ``json.loads``."""
    headers = {"Api-Key": local_server.client_key, "X-Pinecone-API-Version": "2025-10"}
    http = httpx.Client(base_url=local_server.url, headers=headers)
    spec = {"serverless": {"cloud": "aws", "region": "us-east-1"}}
    dim = 24
    r = http.post(
        "/indexes", json={"name": "wire", "dimension": dim, "metric": "dotproduct", "spec": spec}
    )
    assert r.status_code < 300, r.text
    rng = np.random.default_rng(5)
    rows = rng.standard_normal((40, dim)).astype(np.float32)
    rows[0, :4] = [1e-45, -3.0e18, 0.1, 1.0]
    rows[1] *= 1e-30
    vectors = [
        {"id": f"r{i}", "values": orjson.Fragment(orjson.dumps(rows[i], option=orjson.OPT_SERIALIZE_NUMPY)),
         "metadata": {**_tricky_metadata(i), "grp": "g"}}
        for i in range(len(rows))
    ]  # fmt: skip
    vectors[7]["sparseValues"] = {"indices": [1, 5], "values": [0.5, 0.25]}
    r = http.post(
        "/_index/wire/vectors/upsert",
        content=orjson.dumps({"namespace": "ns", "vectors": vectors}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    ids = [f"r{i}" for i in range(len(rows))] + ["missing"]
    query = {"namespace": "ns", "vector": rows[3].tolist(), "topK": 12,
             "includeValues": True, "includeMetadata": True}  # fmt: skip
    by_metadata = {"namespace": "ns", "filter": {"grp": {"$eq": "g"}}, "limit": 25}

    def answers() -> list[bytes]:
        fetched = http.get("/_index/wire/vectors/fetch", params={"namespace": "ns", "ids": ids})
        found = http.post("/_index/wire/vectors/fetch_by_metadata", json=by_metadata)
        matched = http.post("/_index/wire/query", json=query)
        for resp in (fetched, found, matched):
            assert resp.status_code == 200, resp.text
        return [fetched.content, found.content, matched.content]

    new = answers()
    assert len(orjson.loads(new[0])["vectors"]) == len(rows)
    monkeypatch.setattr(engine_index, "json_values", lambda vec: vec.tolist())
    monkeypatch.setattr(engine_index, "load_metadata", json.loads)
    monkeypatch.setattr(engine_matrix, "load_metadata", json.loads)
    old = answers()
    assert new == old
    http.close()
