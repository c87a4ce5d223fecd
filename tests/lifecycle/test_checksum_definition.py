"""The content checksum stays the one every manifest records (`tenant-rag-set-sha256/1`).

`record_digest` and `canonical_metadata` have fast paths (one buffer hashed,
flat metadata converted inline); these tests hold them to the definition as
the module's docs state it, written out plainly here, so an export made
before any change still imports after it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenant_rag.lifecycle.portability.checksum import (
    Checksum,
    canonical_metadata,
    dense_digests,
    record_digest,
)

_LEN = struct.Struct("<Q")


def _floats(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_floats(v) for v in value]
    return value


def _reference_metadata(metadata: Mapping[str, Any] | None) -> bytes:
    return orjson.dumps(_floats(dict(metadata or {})), option=orjson.OPT_SORT_KEYS)


def _reference_digest(rid: str, values: Any, sparse: Any, metadata: Any) -> bytes:
    h = hashlib.sha256()
    raw = rid.encode("utf-8")
    h.update(_LEN.pack(len(raw)) + raw)
    dense = np.asarray(values if values is not None else [], dtype="<f4")
    h.update(_LEN.pack(dense.size) + dense.tobytes())
    if sparse:
        indices = np.asarray(sparse["indices"], dtype="<u4")
        h.update(_LEN.pack(indices.size) + indices.tobytes())
        h.update(np.asarray(sparse["values"], dtype="<f4").tobytes())
    else:
        h.update(_LEN.pack(0))
    md = _reference_metadata(metadata)
    h.update(_LEN.pack(len(md)) + md)
    return h.digest()


class _Float(float):
    pass


class _Int(int):
    pass


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=8),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-1000, 1000).map(_Int),
    st.floats(-1e6, 1e6).map(_Float),
)
_metadata = st.dictionaries(
    st.one_of(st.text(max_size=6)),
    st.one_of(
        _scalars,
        st.lists(st.text(max_size=4), max_size=3),
        st.tuples(st.integers(0, 9), st.text(max_size=3)),
        st.dictionaries(st.text(max_size=3), _scalars, max_size=2),
    ),
    max_size=5,
)


@given(_metadata)
def test_canonical_metadata_is_the_definition(metadata: dict[str, Any]) -> None:
    assert canonical_metadata(metadata) == _reference_metadata(metadata)


@given(
    st.text(max_size=12),
    st.lists(st.floats(width=32, allow_nan=False), max_size=8),
    st.one_of(
        st.none(),
        st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4, unique=True).map(
            lambda ix: {"indices": ix, "values": [0.5] * len(ix)}
        ),
    ),
    st.one_of(st.none(), _metadata),
    st.booleans(),
)
def test_record_digest_is_the_definition(
    rid: str, values: list[float], sparse: Any, metadata: Any, as_row: bool
) -> None:
    given_values: Any = np.asarray(values, dtype=np.float32) if as_row else values
    want = _reference_digest(rid, values, sparse, metadata)
    assert record_digest(rid, given_values, sparse, metadata) == want
    assert record_digest(rid, given_values, sparse, canonical_metadata(metadata)) == want


@given(
    st.integers(0, 6).flatmap(
        lambda dim: st.lists(
            st.tuples(
                st.text(max_size=12),
                st.lists(st.floats(width=32, allow_nan=False), min_size=dim, max_size=dim),
                st.one_of(st.none(), _metadata),
            ),
            max_size=6,
        ).map(lambda rows: (dim, rows))
    ),
    st.booleans(),
)
def test_dense_digests_are_the_definition(page: tuple[int, list[Any]], strided: bool) -> None:
    """A page's digests at once (the export's) are each record's, row by row."""
    dim, rows = page
    matrix = np.asarray([r[1] for r in rows], dtype=np.float32).reshape(len(rows), dim)
    if strided:  # a view with gaps between rows: digested as its values all the same
        wide = np.zeros((len(rows), 2 * dim), dtype=np.float32)
        wide[:, ::2] = matrix
        matrix = wide[:, ::2]
    got = dense_digests([r[0] for r in rows], matrix, [r[2] for r in rows])
    assert got == [_reference_digest(rid, values, None, md) for rid, values, md in rows]


def test_dense_digests_refuse_a_page_that_does_not_line_up() -> None:
    with pytest.raises(ValueError, match="2 ids, 2 metadata and 3 rows"):
        dense_digests(["a", "b"], np.zeros((3, 4), dtype=np.float32), [None, None])


def test_digests_of_known_records_never_change() -> None:
    """Digests computed before the fast paths existed (exports made then still import)."""
    row = np.array([0.1, -2.5, 3.0], dtype=np.float32)
    md = {"text": "é ✓", "chunk": 3, "flag": True, "tags": ["a", "b"]}
    assert (
        record_digest("doc-1.md#0", row, None, md).hex()
        == "1d8bdd9b4227c53efb08232640362e135607b1adca3cfaf7fda5c3f55f54bcab"
    )
    sparse = {"indices": [3, 7], "values": [0.5, 0.25]}
    assert (
        record_digest("x", [1, 2], sparse, None).hex()
        == "91379255d82357705ad1520a2f3d05b9194cc24146629ef05fb471983e160e60"
    )


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=20), st.integers(0, 5))
def test_add_all_is_add_of_each(digests: list[bytes], start: int) -> None:
    one, many = Checksum(), Checksum()
    for d in digests[:start]:
        one.add(d)
        many.add(d)
    for d in digests[start:]:
        one.add(d)
    many.add_all(digests[start:])
    assert one == many and one.hexdigest == many.hexdigest and many.count == len(digests)
