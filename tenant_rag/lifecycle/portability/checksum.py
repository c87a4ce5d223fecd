"""The content checksum of a tenant: the same number wherever and however its records are stored.

An export, an import, a copy and a move all prove themselves the same way:
the records on both sides have the same count and the same checksum. So the
checksum must not depend on anything that legitimately differs between two
copies of a tenant:

* **isolation**: records are digested as the tenant sees them (its own ids,
  its metadata without the ``tenant_id`` field metadata isolation adds);
* **number spelling**: Pinecone stores metadata numbers as floats, so ``3``
  and ``3.0`` are digested alike, and vector values are digested as float32
  (what Pinecone stores), so ``0.1`` and ``0.10000000149011612`` are alike;
* **order**: Pinecone does not promise an order for ``list``, and a second
  copy may list in another one. Each record gets a SHA-256 digest (id, values,
  sparse values, metadata, each length-prefixed), and the checksum is the sum
  of those digests modulo 2**256: a function of the *set* of records, as
  hashing the records sorted by id would be, but computed in one streaming
  pass with constant memory. Record ids are unique within a tenant, so a
  record cannot cancel out against a copy of itself.

`record_digest` is the one definition; `Checksum` accumulates it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

#: Name and version of the checksum; recorded in every manifest.
ALGORITHM = "tenant-rag-set-sha256/1"
_MOD = 1 << 256
_LEN = struct.Struct("<Q")
_NO_SPARSE = _LEN.pack(0)
_F4 = np.dtype("<f4")


def canonical_metadata(metadata: Mapping[str, Any] | None) -> bytes:
    """Metadata as canonical JSON bytes: keys sorted, every number a float.

    Pinecone keeps metadata numbers as 64-bit floats; strings, booleans and
    lists of strings pass as they are. An empty or missing metadata is ``{}``.
    """
    md = metadata or {}
    if type(md) is not dict:
        return orjson.dumps(_floats(dict(md)), option=orjson.OPT_SORT_KEYS)
    # `_floats` of a dict, with its common values (exactly str, float, bool, None: kept;
    # exactly int: made float) done inline: metadata is usually flat, and this runs for
    # every record an import reads and reads back
    flat = {}
    for key, value in md.items():
        kind = type(value)
        if kind is int:
            value = float(value)
        elif not (kind is str or kind is float or kind is bool or value is None):
            value = _floats(value)
        flat[key if type(key) is str else str(key)] = value
    return orjson.dumps(flat, option=orjson.OPT_SORT_KEYS)


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


def record_digest(
    record_id: str,
    values: np.ndarray | Sequence[float] | None,
    sparse: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | bytes | None,
) -> bytes:
    """SHA-256 of one record in canonical form.

    ``values`` may be a float32 row (the exporter's) or any sequence of
    numbers; ``metadata`` may be given already canonical (bytes from
    `canonical_metadata`).
    """
    dense = _f32(values)
    if not sparse:  # the common case, hashed as one buffer (the same bytes as below)
        md = metadata if isinstance(metadata, bytes) else canonical_metadata(metadata)
        return _no_sparse_digest(record_id, dense, md)
    rid = record_id.encode("utf-8")
    h = hashlib.sha256()
    h.update(_LEN.pack(len(rid)))
    h.update(rid)
    h.update(_LEN.pack(dense.size))
    h.update(dense.tobytes())
    if sparse:
        indices = np.asarray(sparse.get("indices") or [], dtype="<u4")
        weights = _f32(sparse.get("values") or [])
        h.update(_LEN.pack(indices.size))
        h.update(indices.tobytes())
        h.update(weights.tobytes())
    else:
        h.update(_LEN.pack(0))
    md = metadata if isinstance(metadata, bytes) else canonical_metadata(metadata)
    h.update(_LEN.pack(len(md)))
    h.update(md)
    return h.digest()


def dense_digests(
    ids: Sequence[str],
    rows: np.ndarray | Sequence[np.ndarray],
    metadata: Sequence[Mapping[str, Any] | None],
) -> list[bytes]:
    """`record_digest` of each record of a page without sparse values, ``ids[i]`` with
    ``rows[i]`` (a row of a float32 matrix, or a 1-d float32 array) and ``metadata[i]``:
    the same bytes, for a page at a time.

    The export and the import digest every record of a tenant; here each row is hashed
    from its own buffer (no copy, no type checks per record).
    """
    if isinstance(rows, np.ndarray) and rows.ndim != 2:
        raise ValueError(f"values must be a matrix (a row a record), got {rows.ndim} dimensions")
    if not len(ids) == len(rows) == len(metadata):
        raise ValueError(f"{len(ids)} ids, {len(metadata)} metadata and {len(rows)} rows of values")
    return [
        _no_sparse_digest(record_id, row, canonical_metadata(md))
        for record_id, row, md in zip(ids, rows, metadata, strict=True)
    ]


def _no_sparse_digest(record_id: str, dense: np.ndarray, md: bytes) -> bytes:
    """The digest of a record without sparse values: the one place its byte layout is written
    (id, values, an empty sparse part, canonical metadata, each length-prefixed), hashed as one
    buffer; a float32 C-contiguous row is read in place, anything else is converted first."""
    if not (dense.dtype == _F4 and dense.flags.c_contiguous):
        dense = np.ascontiguousarray(dense, dtype=_F4)
    rid = record_id.encode("utf-8")
    pack = _LEN.pack
    return hashlib.sha256(
        b"".join(
            (pack(len(rid)), rid, pack(dense.size), dense.data.cast("B"), _NO_SPARSE)
            + (pack(len(md)), md)
        )
    ).digest()


def _f32(values: Any) -> np.ndarray:
    if values is None:
        return np.zeros(0, dtype="<f4")
    if isinstance(values, np.ndarray) and values.dtype == np.dtype("<f4"):
        return values
    return np.asarray(values, dtype="<f4")


@dataclass
class Checksum:
    """Count and set checksum of records, accumulated one record at a time."""

    count: int = 0
    _sum: int = 0

    def add(self, digest: bytes) -> None:
        self.count += 1
        self._sum = (self._sum + int.from_bytes(digest, "big")) % _MOD

    def add_all(self, digests: Sequence[bytes]) -> None:
        """``add`` each of ``digests`` (one reduction modulo 2**256 for all of them)."""
        self.count += len(digests)
        self._sum = (self._sum + sum(int.from_bytes(d, "big") for d in digests)) % _MOD

    def add_record(
        self,
        record_id: str,
        values: Any,
        sparse: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | bytes | None,
    ) -> bytes:
        """Digest one record, add it, and return the digest."""
        digest = record_digest(record_id, values, sparse, metadata)
        self.add(digest)
        return digest

    @property
    def hexdigest(self) -> str:
        """The checksum as 64 hex digits (what manifests and reports carry)."""
        return f"{self._sum:064x}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Checksum):
            return NotImplemented
        return (self.count, self._sum) == (other.count, other._sum)

    def __hash__(self) -> int:
        return hash((self.count, self._sum))

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": ALGORITHM, "records": self.count, "value": self.hexdigest}


__all__ = ["ALGORITHM", "Checksum", "canonical_metadata", "dense_digests", "record_digest"]
