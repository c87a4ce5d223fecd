"""A tenant's documents as ingestion wrote them: ids, chunk counts, sources, when written.

The index is the only state (there is no side database), so the listing is
read from it: one paginated id listing of the tenant, grouped by document
(`tenant_rag.tenancy.records`: ``{base}#{key}``), then one fetch of each
document's chunk ``#0`` (1,000 ids per request), whose metadata carries the
document id, its source and ``ingested_at``. Records of no document (ids
without ``#``) are listed one per id, without a source.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from tenant_rag.tenancy.pinned import PinnedIndex
from tenant_rag.tenancy.records import DOC_ID_KEY, doc_id_of_base, split_record_id
from tenant_rag.tenancy.scope import Isolation


@dataclass(frozen=True)
class DocumentInfo:
    """One of a tenant's documents."""

    doc_id: str
    chunks: int
    source: str | None = None
    #: when this version was written (Unix seconds); None for records written before
    #: ingestion recorded it, or by other means
    ingested_at: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ingested"] = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.ingested_at))
            if self.ingested_at is not None
            else None
        )
        return data


def list_documents(
    index: Any, tenant: str, *, isolation: Isolation = "namespace"
) -> list[DocumentInfo]:
    """The tenant's documents, sorted by id. Reads only the tenant's own records."""
    pinned = PinnedIndex(index, tenant, isolation=isolation)
    chunks: dict[str, int] = {}
    heads: list[str] = []
    loose: list[str] = []
    for rid in pinned.list_ids():
        parts = split_record_id(rid)
        if parts is None:
            loose.append(rid)
            continue
        base, key = parts
        chunks[base] = chunks.get(base, 0) + 1
        if key == "0":
            heads.append(rid)
    fetched = pinned.fetch(heads) if heads else {}
    docs = []
    for base, count in chunks.items():
        head = fetched.get(f"{base}#0")
        md = head.metadata if head is not None else {}
        when = md.get("ingested_at")
        docs.append(
            DocumentInfo(
                doc_id=str(md.get(DOC_ID_KEY) or doc_id_of_base(base)),
                chunks=count,
                source=str(md["source"]) if md.get("source") else None,
                ingested_at=int(when) if isinstance(when, int | float) else None,
            )
        )
    docs += [DocumentInfo(doc_id=rid, chunks=1) for rid in loose]
    return sorted(docs, key=lambda d: d.doc_id)
