"""Whole-tenant operations act for the tenant, whoever may read each record inside it.

Export, import, erasure (and offboarding, tested with access lists elsewhere) move or
delete a tenant's records; reading them through a reader's view would drop the records
of a private document from an export and hide them from erasure's checks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.errors import AclPolicyMismatchError
from tenant_rag.ingestion import ingest
from tenant_rag.lifecycle import (
    copy_tenant,
    erase,
    export_tenant,
    import_tenant,
    migrate_isolation,
    move_tenant,
    reembed_tenant,
    set_acl_policy,
)
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.tenancy import PinnedIndex
from tenant_rag.tenancy.acl import TENANT_ADMIN, Principal

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


# -- the ACL policy travels with the records -------------------------------------------------
#
# A document without an access list follows its index's policy: in a "private" index only
# tenant admins read it, in a "tenant" index everyone in the tenant does. Moving records
# between indexes whose policies differ would silently widen (or narrow) who reads them.

TRANSFERS = ["copy", "move", "reembed", "import", "migrate"]


def _private_source(pc: Any, new_index: Any) -> Any:
    src = new_index("aclpriv")
    set_acl_policy(pc, src._tenant_rag_index_name, "private")
    _seed(src)
    # the document without an access list is an admins-only document here
    assert list(PinnedIndex(src, "acme").list_ids()) == []
    return src


def _transfer(operation: str, src: Any, dst: Any, tmp_path: Path, **kwargs: Any) -> Any:
    if operation == "copy":
        return copy_tenant(src, dst, "acme", **kwargs)
    if operation == "move":
        return move_tenant(src, dst, "acme", **kwargs)
    if operation == "reembed":
        return reembed_tenant(src, dst, "acme", embedding=HashingTestEmbeddings(DIM), **kwargs)
    if operation == "migrate":
        # every tenant of a shared namespace into namespaces of another index
        return migrate_isolation(src, dst_index=dst, **kwargs)
    out = tmp_path / "export"
    if not out.exists():
        export_tenant(src, "acme", out)
    return import_tenant(dst, "acme", out, **kwargs)


def _source_for(operation: str, pc: Any, new_index: Any) -> Any:
    if operation != "migrate":
        return _private_source(pc, new_index)
    src = new_index("aclprivm")
    set_acl_policy(pc, src._tenant_rag_index_name, "private")
    records = [(d, text, {} if acl is None else {"acl": acl}) for d, text, acl in DOCS]
    ingest(
        src,
        "acme",
        records,
        embedding=HashingTestEmbeddings(DIM),
        isolation="metadata",
        progress=False,
    )
    return src


@pytest.mark.parametrize("operation", TRANSFERS)
def test_records_of_a_private_index_are_not_exposed_by_a_transfer_to_a_tenant_wide_one(
    operation: str, pc: Any, new_index: Any, tmp_path: Path
) -> None:
    src = _source_for(operation, pc, new_index)
    dst = new_index("acltenant")  # the default policy: "tenant"
    with pytest.raises(AclPolicyMismatchError) as err:
        _transfer(operation, src, dst, tmp_path)
    message = str(err.value)
    assert "'private'" in message and "'tenant'" in message
    assert "set_acl_policy" in message and "acl_policy=" in message
    # nothing was written, so nothing is readable by anyone, and the source is whole
    assert list(_admin(dst).list_ids()) == []
    assert list(PinnedIndex(dst, "acme").list_ids()) == []
    assert list(PinnedIndex(dst, "acme", principal=Principal("u1")).list_ids()) == []


@pytest.mark.parametrize("operation", TRANSFERS)
def test_naming_the_destination_policy_lets_the_transfer_run(
    operation: str, pc: Any, new_index: Any, tmp_path: Path
) -> None:
    src = _source_for(operation, pc, new_index)
    dst = new_index("acltenant")
    _transfer(operation, src, dst, tmp_path, acl_policy="tenant")
    # the user chose it: the document without an access list now follows "tenant"
    assert list(PinnedIndex(dst, "acme").list_ids()) == ["pub.md#0"]


@pytest.mark.parametrize("operation", ["copy", "import"])
def test_a_named_policy_that_is_not_the_destinations_is_refused(
    operation: str, pc: Any, new_index: Any, tmp_path: Path
) -> None:
    src = _private_source(pc, new_index)
    dst = new_index("acltenant")
    with pytest.raises(AclPolicyMismatchError, match="set_acl_policy"):
        _transfer(operation, src, dst, tmp_path, acl_policy="private")
    assert list(_admin(dst).list_ids()) == []


def test_transfers_between_indexes_of_one_policy_need_no_naming(
    pc: Any, new_index: Any, tmp_path: Path
) -> None:
    src = _private_source(pc, new_index)
    dst = new_index("aclpriv2")
    set_acl_policy(pc, dst._tenant_rag_index_name, "private")
    report = copy_tenant(src, dst, "acme")
    assert report.verified
    assert list(PinnedIndex(dst, "acme").list_ids()) == []  # still admins-only
    assert sorted(_admin(dst).list_ids()) == sorted(_admin(src).list_ids())


def test_the_export_manifest_records_the_policy(pc: Any, new_index: Any, tmp_path: Path) -> None:
    src = _private_source(pc, new_index)
    report = export_tenant(src, "acme", tmp_path / "out")
    assert report.manifest.source["acl_policy"] == "private"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["source"]["acl_policy"] == "private"


def test_an_export_without_a_recorded_policy_needs_one_named_for_a_tenant_wide_index(
    pc: Any, new_index: Any, tmp_path: Path
) -> None:
    """An export written before the policy was recorded could come from a private index."""
    src, dst = new_index("aclold"), new_index("acltenant")
    _seed(src)
    out = tmp_path / "old"
    export_tenant(src, "acme", out)
    path = out / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["source"]["acl_policy"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(AclPolicyMismatchError, match="does not say"):
        import_tenant(dst, "acme", out)
    assert list(_admin(dst).list_ids()) == []
    assert import_tenant(dst, "acme", out, acl_policy="tenant").verified
