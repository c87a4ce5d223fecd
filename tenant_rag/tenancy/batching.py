"""Upsert batches sized by bytes and by count, within Pinecone's request limits: the one batcher.

Pinecone refuses an upsert over 2 MB or over 1,000 records. LangChain's
store batches by count only, so large chunks with their text in metadata
overflow the byte limit; here every record's serialised size is estimated
from above (values as the longest float JSON can print, sparse values
likewise, plus the metadata as the SDK sends it: ASCII JSON, where ``é``
takes six bytes) and a batch is closed before it would cross ``max_bytes``
(`UPSERT_BATCH_BYTES`: 2 MB less headroom for the request envelope).
Ingestion and both stores batch with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tenant_rag.tenancy.float32 import float32_row
from tenant_rag.tenancy.limits import (
    MAX_METADATA_BYTES,
    MAX_REQUEST_BYTES,
    MAX_UPSERT_RECORDS,
    UPSERT_BATCH_BYTES,
)

#: Upper bound on one float in the SDK's JSON (``-1.2345678901234567e-05, ``).
_FLOAT_JSON_BYTES = 26
#: Upper bound on one value of a float32 row (`tenant_rag.tenancy.pinned.float32_row`) as the
#: lean transport writes it: the shortest form that reads back as the same float32 has at most
#: nine digits, so at most 17 characters (``-0.000001234567891``'s form: sign, ``0.``, five
#: zeros, nine digits; orjson writes exponents only outside that range) and a comma.
_FLOAT32_JSON_BYTES = 18
#: Upper bound on one sparse index (a uint32 and its separator).
_INDEX_JSON_BYTES = 12
_RECORD_OVERHEAD = 96
_SPARSE_OVERHEAD = 48

#: Who a record belongs to (ingestion: its document), handed back with each batch.
OwnerT = TypeVar("OwnerT")


def record_bytes(record: Mapping[str, Any]) -> int:
    """An upper bound on the record's size in an upsert request body.

    ``record`` is an upsert dict (``id``, ``values``, optional ``metadata`` and
    ``sparse_values``). The id counts twice: the tenancy layer may prefix it.
    """
    md = record.get("metadata") or {}
    values = record.get("values")  # a list, or a float32 row (which has no truth value)
    per_value = _FLOAT32_JSON_BYTES if float32_row(values) is not None else _FLOAT_JSON_BYTES
    size = (
        _RECORD_OVERHEAD
        + 2 * len(record["id"])
        + per_value * (len(values) if values is not None else 0)
        + (len(json.dumps(md, default=str)) if md else 0)
    )
    sparse = record.get("sparse_values")
    if sparse:
        size += (
            _SPARSE_OVERHEAD
            + _INDEX_JSON_BYTES * len(sparse["indices"])
            + _FLOAT_JSON_BYTES * len(sparse["values"])
        )
    return size


@dataclass
class Batch(Generic[OwnerT]):
    """Records for one upsert request and the owners they belong to, in input order."""

    records: list[dict[str, Any]] = field(default_factory=list)
    owners: list[OwnerT] = field(default_factory=list)
    nbytes: int = 0

    def __len__(self) -> int:
        return len(self.records)


def batches(
    items: Iterable[tuple[OwnerT, dict[str, Any]]],
    *,
    max_records: int = MAX_UPSERT_RECORDS,
    max_bytes: int = UPSERT_BATCH_BYTES,
) -> Iterator[Batch[OwnerT]]:
    """Pack ``(owner, record)`` pairs into batches within both limits, in order.

    A single record larger than ``max_bytes`` cannot be sent at all; it
    raises `ValueError` (ingestion and the stores check metadata size per
    record first, so this only happens with absurd dimensions).
    """
    if not 1 <= max_records <= MAX_UPSERT_RECORDS:
        raise ValueError(f"max_records must be 1..{MAX_UPSERT_RECORDS}, got {max_records}.")
    if not 0 < max_bytes <= MAX_REQUEST_BYTES:
        raise ValueError(f"max_bytes must be 1..{MAX_REQUEST_BYTES}, got {max_bytes}.")
    current: Batch[OwnerT] = Batch()
    for owner, record in items:
        size = record_bytes(record)
        if size > max_bytes:
            raise ValueError(
                f"record {record['id']!r} needs about {size:,} bytes, more than one upsert "
                f"request may carry (Pinecone's limit is 2 MB per request; batches stay under "
                f"{max_bytes:,} bytes). Shorten its text or metadata: Pinecone allows "
                f"{MAX_METADATA_BYTES // 1024} KB of metadata per record."
            )
        if current.records and (len(current) >= max_records or current.nbytes + size > max_bytes):
            yield current
            current = Batch()
        current.records.append(record)
        current.owners.append(owner)
        current.nbytes += size
    if current.records:
        yield current


def record_batches(
    records: Iterable[dict[str, Any]],
    *,
    max_records: int = MAX_UPSERT_RECORDS,
    max_bytes: int = UPSERT_BATCH_BYTES,
) -> list[list[dict[str, Any]]]:
    """`batches` for records without owners: the upsert requests, in order."""
    return [
        b.records
        for b in batches(((None, r) for r in records), max_records=max_records, max_bytes=max_bytes)
    ]
