"""Upsert batches sized by bytes and by count, within Pinecone's request limits.

Pinecone refuses an upsert over 2 MB or over 1,000 records. LangChain's
store batches by count only, so large chunks with their text in metadata
overflow the byte limit; here every record's serialised size is estimated
from above (values as the longest float JSON can print, plus the metadata
as the SDK sends it: ASCII JSON, where ``é`` takes six bytes) and a batch is closed before it would cross
``max_bytes`` (2 MB less headroom for the request envelope).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_REQUEST_BYTES = 2 * 1024 * 1024
#: What a batch may use: the 2 MB limit less room for the JSON envelope, namespace and estimates.
DEFAULT_MAX_BATCH_BYTES = MAX_REQUEST_BYTES - 256 * 1024
MAX_BATCH_RECORDS = 1000
#: Upper bound on one float in the SDK's JSON (``-1.2345678901234567e-05, ``).
_FLOAT_JSON_BYTES = 26
_RECORD_OVERHEAD = 96


def record_bytes(record: dict[str, Any]) -> int:
    """An upper bound on the record's size in an upsert request body."""
    md = record.get("metadata") or {}
    return (
        _RECORD_OVERHEAD
        + 2 * len(record["id"])  # the id, and again if the tenancy layer prefixes it
        + _FLOAT_JSON_BYTES * len(record["values"])
        + (len(json.dumps(md)) if md else 0)
    )


@dataclass
class Batch:
    """Records for one upsert request and the document keys they belong to."""

    records: list[dict[str, Any]] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    nbytes: int = 0

    def __len__(self) -> int:
        return len(self.records)


def batches(
    items: Iterable[tuple[int, dict[str, Any]]],
    *,
    max_records: int = MAX_BATCH_RECORDS,
    max_bytes: int = DEFAULT_MAX_BATCH_BYTES,
) -> Iterator[Batch]:
    """Pack ``(owner, record)`` pairs into batches within both limits, in order.

    A single record larger than ``max_bytes`` cannot be sent at all; it
    raises `ValueError` (ingestion checks metadata size per chunk first, so
    this only happens with absurd dimensions).
    """
    if not 1 <= max_records <= MAX_BATCH_RECORDS:
        raise ValueError(f"max_records must be 1..{MAX_BATCH_RECORDS}, got {max_records}.")
    if not 0 < max_bytes <= MAX_REQUEST_BYTES:
        raise ValueError(f"max_bytes must be 1..{MAX_REQUEST_BYTES}, got {max_bytes}.")
    current = Batch()
    for owner, record in items:
        size = record_bytes(record)
        if size > max_bytes:
            raise ValueError(
                f"record {record['id']!r} needs about {size:,} bytes, over the "
                f"{max_bytes:,}-byte request budget."
            )
        if current.records and (len(current) >= max_records or current.nbytes + size > max_bytes):
            yield current
            current = Batch()
        current.records.append(record)
        current.owners.append(owner)
        current.nbytes += size
    if current.records:
        yield current
