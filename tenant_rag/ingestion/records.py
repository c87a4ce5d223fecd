"""Record ids and metadata: the stable naming scheme that makes re-ingestion idempotent.

A document ``doc_id`` is stored as records ``{base}#{n}`` where ``n`` is the chunk
number and ``base`` is ``doc_id`` itself for the usual printable-ASCII ids. Pinecone
ids must be ASCII, so other characters (and ``%``, to keep the mapping
one-to-one) are percent-encoded in ``base``; the metadata keeps the original
``doc_id``.

Prefix exactness: the records of ``doc1`` are exactly the ids that start with
``doc1#`` and continue with digits only. The ``#`` keeps ``doc10#0`` out of
``doc1``'s listing, and the digits-only rule keeps ``a#b#0`` (document ``a#b``)
out of document ``a``'s, so document ids may contain ``#`` too.
"""

from __future__ import annotations

import hashlib
import json
import math
import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from tenant_rag.errors import IngestError

#: Pinecone's metadata limit per record.
MAX_METADATA_BYTES = 40 * 1024
#: Kept free below the limit for what the tenancy layer adds (``tenant_id`` under metadata isolation).
METADATA_HEADROOM = 512
MAX_ID_LENGTH = 512
#: Metadata keys ingestion owns; a document's own metadata cannot override them.
RESERVED_KEYS = ("doc_id", "chunk", "source", "content_hash", "text", "ingested_at")
_SAFE = "".join(c for c in string.printable if c not in "%\t\n\r\x0b\x0c")


def record_base(doc_id: str) -> str:
    """The id stem of a document's records (``doc_id`` unless it needs escaping)."""
    return quote(doc_id, safe=_SAFE)


def record_id(doc_id: str, chunk: int) -> str:
    return f"{record_base(doc_id)}#{chunk}"


def doc_prefix(doc_id: str) -> str:
    """The list prefix of a document's records. Filter the results with `chunk_of`."""
    return f"{record_base(doc_id)}#"


def chunk_of(rid: str, prefix: str) -> int | None:
    """The chunk number when ``rid`` is one of the records under ``prefix``, else None."""
    if not rid.startswith(prefix):
        return None
    rest = rid[len(prefix) :]
    return int(rest) if rest.isdigit() and rest.isascii() else None


def split_record_id(rid: str) -> tuple[str, int] | None:
    """``(base, chunk)`` of a record id written by ingestion; None for foreign ids."""
    base, sep, rest = rid.rpartition("#")
    if not sep or not base or not (rest.isdigit() and rest.isascii()):
        return None
    return base, int(rest)


def content_hash(text: str, metadata: Mapping[str, Any], fingerprint: str) -> str:
    """Hash of the whole document: its text, its own metadata and the chunking/embedding config."""
    h = hashlib.sha256()
    h.update(fingerprint.encode())
    h.update(b"\x00")
    h.update(json.dumps(metadata, sort_keys=True, default=str, ensure_ascii=False).encode())
    h.update(b"\x00")
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def clean_metadata(md: Mapping[str, Any]) -> dict[str, Any]:
    """A document's metadata in the shapes Pinecone stores.

    Strings, finite numbers, booleans and lists of strings are kept; ``None``
    is dropped (Pinecone has no null); nested objects become JSON strings;
    other lists become lists of strings. Reserved keys are dropped: ingestion
    writes them itself.
    """
    out: dict[str, Any] = {}
    for key, value in md.items():
        key = str(key)
        if key in RESERVED_KEYS or value is None:
            continue
        if isinstance(value, bool | str):
            out[key] = value
        elif isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                continue
            out[key] = value
        elif isinstance(value, list | tuple | set | frozenset):
            out[key] = [v if isinstance(v, str) else json.dumps(v, default=str) for v in value]
        elif isinstance(value, dict):
            out[key] = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
        else:
            out[key] = str(value)
    return out


def metadata_size(md: Mapping[str, Any]) -> int:
    """Bytes of metadata as Pinecone counts them (compact UTF-8 JSON)."""
    return len(json.dumps(md, separators=(",", ":"), ensure_ascii=False).encode())


def chunk_metadata(
    doc_id: str, chunk: int, source: str, digest: str, text: str, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """One chunk's metadata; raises `IngestError` naming the document when it cannot fit 40 KB."""
    md = {**extra, "doc_id": doc_id, "chunk": chunk, "source": source, "content_hash": digest}
    md["text"] = text
    size = metadata_size(md)
    if size > MAX_METADATA_BYTES - METADATA_HEADROOM:
        text_bytes = len(text.encode())
        raise IngestError(
            f"document {doc_id!r}: chunk {chunk} needs {size:,} bytes of metadata "
            f"({text_bytes:,} of them its text), over Pinecone's 40 KB per record "
            f"(less {METADATA_HEADROOM} bytes kept free). Use a smaller chunk_size or trim "
            "the document's metadata."
        )
    return md


def check_doc_id(doc_id: str) -> None:
    """Refuse document ids whose record ids Pinecone would reject (too long)."""
    longest = record_id(doc_id, 99_999)
    if len(longest) > MAX_ID_LENGTH:
        raise IngestError(
            f"document {doc_id[:80]!r}…: its record ids would exceed Pinecone's "
            f"{MAX_ID_LENGTH}-character id limit; give it a shorter id."
        )
