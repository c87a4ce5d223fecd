"""Chunk metadata and content hashes: what makes re-ingestion idempotent.

Record ids follow the one scheme of `tenant_rag.tenancy.records`
(``{base}#{n}``, ``base`` = ``doc_id`` percent-encoded where Pinecone needs it);
this module owns what each chunk carries: the document's cleaned metadata,
``doc_id``, ``chunk``, ``source``, the content hash and the text.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from tenant_rag.errors import IngestError
from tenant_rag.tenancy.acl import ACL_FIELD, stored_acl
from tenant_rag.tenancy.limits import MAX_ID_LENGTH, MAX_METADATA_BYTES
from tenant_rag.tenancy.records import DOC_ID_KEY, record_id

#: Kept free below the limit for what the tenancy layer adds (``tenant_id`` under metadata isolation).
METADATA_HEADROOM = 512
#: Metadata keys ingestion owns; a document's own metadata cannot override them.
RESERVED_KEYS = (
    DOC_ID_KEY,
    "chunk",
    "source",
    "origin",
    "content_hash",
    "text",
    "ingested_at",
    ACL_FIELD,
)
#: Metadata key naming where a document came from (a file's absolute path, ``upload``, a
#: Document's ``source``): a document is only replaced silently by one from the same origin.
ORIGIN_KEY = "origin"


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
    doc_id: str,
    chunk: int,
    source: str,
    digest: str,
    text: str,
    extra: Mapping[str, Any],
    origin: str | None = None,
    acl: list[str] | None = None,
) -> dict[str, Any]:
    """One chunk's metadata; raises `IngestError` naming the document when it cannot fit 40 KB.

    ``acl`` (normalized; ``None`` for none) is stored in its stored form
    (`tenant_rag.tenancy.acl`); it is not part of the content hash, so a new
    access list alone never re-embeds a document.
    """
    md = {**extra, "doc_id": doc_id, "chunk": chunk, "source": source, "content_hash": digest}
    if origin is not None:
        md[ORIGIN_KEY] = origin
    if acl is not None:
        md[ACL_FIELD] = stored_acl(acl)
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
