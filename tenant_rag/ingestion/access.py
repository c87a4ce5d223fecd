"""Changing who may read a document, without re-embedding it.

`set_acl` rewrites the ``acl`` metadata of a document's records by metadata
update only (no vectors move, nothing is embedded again); `document_acl`
reads it back. The records are found by the one document id scheme of
`tenant_rag.tenancy.records`, so ``page`` never touches ``page#faq``.
"""

from __future__ import annotations

from typing import Any

from tenant_rag.tenancy.acl import ACL_FIELD, TENANT_ADMIN
from tenant_rag.tenancy.pinned import PinnedIndex
from tenant_rag.tenancy.retry import RetryPolicy
from tenant_rag.tenancy.scope import Isolation


def set_acl(
    index: Any,
    tenant: str,
    doc_id: str,
    acl: list[str] | None,
    *,
    isolation: Isolation = "namespace",
    retry: RetryPolicy | None = None,
    workers: int = 8,
) -> int:
    """Give document ``doc_id`` of ``tenant`` the access list ``acl``; return its record count.

    ``acl`` is a list of ``"user:<id>"``, ``"group:<id>"`` and ``"tenant"``
    entries, ``[]`` (tenant admins only) or ``None`` (follow the index's
    policy); anything else raises `InvalidAclError` before any write. Each
    record is updated by metadata (``workers`` at a time, each retried on
    429/5xx), chunk ``#0`` last, and the next query sees the new list. A
    document the tenant does not hold returns 0.
    """
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError("doc_id must be a non-empty string.")
    pinned = PinnedIndex(
        index, tenant, isolation=isolation, retry=retry or RetryPolicy(), principal=TENANT_ADMIN
    )
    return pinned.set_document_acl(doc_id, acl, workers=workers)


def document_acl(
    index: Any, tenant: str, doc_id: str, *, isolation: Isolation = "namespace"
) -> tuple[bool, list[str] | None]:
    """``(exists, acl)`` of a document, as its first record carries it (admin read).

    ``acl`` is ``None`` when the document follows the index policy.
    """
    pinned = PinnedIndex(index, tenant, isolation=isolation, principal=TENANT_ADMIN)
    ids = pinned.document_ids(doc_id)
    if not ids:
        return False, None
    rec = pinned.fetch(ids[:1]).get(ids[0])
    if rec is None:
        return False, None
    value = rec.metadata.get(ACL_FIELD)
    return True, list(value) if isinstance(value, list) else None


__all__ = ["document_acl", "set_acl"]
