"""Fetch answers of the gRPC data plane, encoded as bytes straight from the stored float32 rows.

A ``FetchResponse`` built as protobuf messages costs a Python float per value
(``vec.values.extend(row.tolist())``) and the runtime's copy of each into the
message, for about the same work again when it is serialized. Yet the wire
form of a ``Vector``'s dense values, a packed ``repeated float`` (field 2), is
exactly the stored row: its little-endian float32 bytes behind a tag and a
length. So `fetch_response` writes the answer's bytes itself, and the service
hands them to gRPC through a response serializer that passes bytes as they are
(`grpc_service._Router`).

What is written is what ``SerializeToString`` of the message the old code built
would parse to, field for field, in every API version the server speaks (the
fields of a fetch answer are the same in all of them; later versions only add
fields this server leaves unset):

* ``FetchResponse``/``FetchByMetadataResponse``: ``vectors`` (1, a map entry per
  record: key 1, ``Vector`` 2), ``namespace`` (2, omitted when empty, as proto3
  does), ``usage`` (3, always present, ``read_units`` set, even to 0) and, for
  ``FetchByMetadataResponse``, ``pagination`` (4) when there is a next page;
* ``Vector``: ``id`` (1, omitted when empty), ``values`` (2, packed, omitted when
  there are none), ``metadata`` (3, a ``Struct`` built and serialized by the
  protobuf runtime exactly as before, present only when the record has some)
  and ``sparse_values`` (4, serialized by the runtime, present only when the
  record has some).

Field order and map order are not part of a message's meaning; the tests
compare parsed messages (``tests/local/test_grpc_encode.py``, hypothesis).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from google.protobuf import struct_pb2

_VEC_ENTRY = b"\x0a"  # FetchResponse.vectors (1), length-delimited
_KEY = b"\x0a"  # map entry key (1)
_VALUE = b"\x12"  # map entry value (2)
_ID = b"\x0a"  # Vector.id (1)
_VALUES = b"\x12"  # Vector.values (2), packed
_METADATA = b"\x1a"  # Vector.metadata (3)
_SPARSE = b"\x22"  # Vector.sparse_values (4)
_NAMESPACE = b"\x12"  # FetchResponse.namespace (2)
_USAGE = b"\x1a"  # FetchResponse.usage (3)
_READ_UNITS = b"\x08"  # Usage.read_units (1), varint
_PAGINATION = b"\x22"  # FetchByMetadataResponse.pagination (4)
_NEXT = b"\x0a"  # Pagination.next (1)

#: varints of the lengths small enough to look up (most lengths in an answer)
_SMALL = [bytes([n]) if n < 0x80 else bytes([(n & 0x7F) | 0x80, n >> 7]) for n in range(1 << 14)]


def varint(n: int) -> bytes:
    """``n`` (>= 0) as a protobuf base-128 varint."""
    if n < 1 << 14:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def struct_bytes(metadata: Mapping[str, Any]) -> bytes:
    """Metadata as the bytes of the ``google.protobuf.Struct`` ``Struct.update`` builds."""
    msg = struct_pb2.Struct()
    msg.update(metadata)
    return msg.SerializeToString()


def vector_bytes(
    rid: str,
    values: np.ndarray | None,
    sparse: tuple[np.ndarray, np.ndarray] | None,
    metadata: Mapping[str, Any] | None,
    sparse_message: Any,
) -> bytes:
    """One ``Vector``: ``values`` a float32 row, ``sparse`` (indices, values) arrays or None.

    ``sparse_message`` is the caller's version's ``SparseValues`` class.
    """
    rid_bytes = rid.encode("utf-8")
    parts = [_ID, varint(len(rid_bytes)), rid_bytes] if rid_bytes else []
    if values is not None and values.size:
        raw = values.astype("<f4", copy=False).tobytes()
        parts += (_VALUES, varint(len(raw)), raw)
    if metadata:
        parts.append(_field(_METADATA, struct_bytes(metadata)))
    if sparse is not None:
        sv = sparse_message(indices=sparse[0].tolist(), values=sparse[1].tolist())
        parts.append(_field(_SPARSE, sv.SerializeToString()))
    return b"".join(parts)


def fetch_response(
    records: Mapping[str, tuple[np.ndarray | None, tuple[np.ndarray, np.ndarray] | None, Any]],
    namespace: str,
    read_units: int,
    sparse_message: Any,
    *,
    next_token: str | None = None,
) -> bytes:
    """A ``FetchResponse`` (or ``FetchByMetadataResponse`` with ``next_token``) as bytes.

    ``records``: id -> (float32 row or None, sparse (indices, values) or None, metadata
    dict or None), in the order the answer lists them.
    """
    parts: list[bytes] = []
    for rid, (values, sparse, metadata) in records.items():
        key = rid.encode("utf-8")
        vec = vector_bytes(rid, values, sparse, metadata, sparse_message)
        entry = b"".join(
            ([_KEY, varint(len(key)), key] if key else []) + [_VALUE, varint(len(vec)), vec]
        )
        parts += (_VEC_ENTRY, varint(len(entry)), entry)
    if namespace:
        parts.append(_field(_NAMESPACE, namespace.encode("utf-8")))
    parts.append(_field(_USAGE, _READ_UNITS + varint(read_units)))
    if next_token is not None:
        token = next_token.encode("utf-8")
        parts.append(_field(_PAGINATION, _field(_NEXT, token) if token else b""))
    return b"".join(parts)


__all__ = ["fetch_response", "struct_bytes", "varint", "vector_bytes"]
