"""Whole-tenant operations act for the tenant, whoever may read each record inside it.

Export, import, erasure (and offboarding, tested with access lists elsewhere) move or
delete a tenant's records; reading them through a reader's view would drop the records
of a private document from an export and hide them from erasure's checks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tenant_rag.ingestion import ingest
from tenant_rag.lifecycle import erase, export_tenant, import_tenant
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.tenancy import PinnedIndex
from tenant_rag.tenancy.acl import TENANT_ADMIN

from .conftest import DIM

DOCS = [
    ("pub.md", "Everyone may read this.", None),
    ("hr.md", "Salary bands for HR only.", ["group:hr"]),
    ("board.md", "The board's private minutes.", []),
]


def _seed(index: Any) -> None:
    records = [(d, text, {} if acl is None else {"acl": acl}) for d, text, acl in DOCS]
    report = ingest(index, "acme", records, embedding=HashingTestEmbeddings(DIM), progress=False)
    assert report.documents_written == len(DOCS)


def _admin(index: Any) -> PinnedIndex:
    return PinnedIndex(index, "acme", principal=TENANT_ADMIN)


def test_export_and_import_carry_every_record_and_its_access_list(
    new_index: Any, tmp_path: Path
) -> None:
    src, dst = new_index("aclexp"), new_index("aclimp")
    _seed(src)
    ids = sorted(_admin(src).list_ids())
    assert len(ids) == len(DOCS)
    report = export_tenant(src, "acme", tmp_path / "out")
    assert report.records == len(DOCS)
    imported = import_tenant(dst, "acme", tmp_path / "out")
    assert imported.verified and imported.written == len(DOCS)
    there = _admin(dst).fetch(ids)
    assert {rid: rec.metadata.get("acl") for rid, rec in there.items()} == {
        rid: rec.metadata.get("acl") for rid, rec in _admin(src).fetch(ids).items()
    }
    # and the access lists still decide: no principal reads only the tenant-wide document
    assert sorted(PinnedIndex(dst, "acme").list_ids()) == ["pub.md#0"]


def test_erase_finds_and_verifies_records_of_private_documents(new_index: Any) -> None:
    ix = new_index("aclerase")
    _seed(ix)
    receipt = erase(ix, "acme", filter={"doc_id": {"$in": ["hr.md", "board.md"]}})
    assert receipt.verified and receipt.deleted == 2
    [row] = receipt.indexes
    gone = sorted(["hr.md#0", "board.md#0"])
    assert row.deleted_ids_sha256 == hashlib.sha256("\n".join(gone).encode()).hexdigest()
    assert sorted(_admin(ix).list_ids()) == ["pub.md#0"]
