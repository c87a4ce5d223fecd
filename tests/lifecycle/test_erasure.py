"""Provable erasure: receipts for every offboard and erase, an audit log, and physical deletion.

The canary tests are the issue's: a string written into a tenant's metadata
appears in no file under the embedded server's data dir (database, WAL,
anything) after the offboarding (which checkpoints the WAL itself).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenant_rag.connection import ensure_index
from tenant_rag.errors import TenantIsolationError
from tenant_rag.lifecycle import DeletionReceipt, erase, offboard
from tenant_rag.lifecycle.erasure import read_audit_log
from tenant_rag.local import LocalServer
from tenant_rag.tenancy import PinnedIndex

DIM = 8
CANARY = "canary-9c2e-please-forget-me"


def _seed(
    index: Any, tenant: str, n: int, *, isolation: str = "namespace", canary: bool = False
) -> None:
    PinnedIndex(index, tenant, isolation=isolation).upsert(  # type: ignore[arg-type]
        [
            (
                f"chat-{i:04d}",
                [0.1 + (i % 5) / 10] * DIM,
                {
                    "text": f"{CANARY if canary else tenant} message {i}",
                    "user_id": f"u{i % 3}",
                },
            )
            for i in range(n)
        ],
        batch_size=100,
    )


def _files_holding(root: Path, needle: str) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and needle.encode() in p.read_bytes()
    )


def _checkpoint(srv: LocalServer) -> None:
    httpx.post(
        f"{srv.url}/_local/checkpoint", headers={"Api-Key": srv.client_key}
    ).raise_for_status()


def test_offboard_receipt_says_what_was_deleted_and_how_it_was_verified(
    new_index: Any, tmp_path: Path
) -> None:
    ix = new_index("rcpt")
    _seed(ix, "acme", 150)
    _seed(ix, "globex", 10)
    log = tmp_path / "audit" / "erasures.jsonl"

    receipt = offboard("acme", ix, audit_log=log)
    assert isinstance(receipt, DeletionReceipt) and receipt.kind == "offboard"
    assert receipt.verified and receipt.deleted == 150
    [row] = receipt.indexes
    assert (row.namespace, row.records_before, row.deleted, row.remaining) == ("acme", 150, 150, 0)
    expected = hashlib.sha256("\n".join(sorted(f"chat-{i:04d}" for i in range(150))).encode())
    assert row.deleted_ids_sha256 == expected.hexdigest()
    assert row.verification == {"stats": 0, "list": 0, "probe": 0}
    assert row.storage is not None and row.storage["checkpoint"] == "complete"
    assert row.backups == []
    assert receipt.started_at <= receipt.finished_at

    [logged] = read_audit_log(log)
    assert logged == json.loads(receipt.to_json())
    assert logged["receipt_id"] == receipt.receipt_id and logged["deleted"] == 150

    again = offboard("acme", ix, audit_log=log)  # idempotent, and receipted too
    assert again.verified and again.deleted == 0 and again.indexes[0].deleted_ids_sha256 == ""
    assert [r["deleted"] for r in read_audit_log(log)] == [150, 0]
    assert PinnedIndex(ix, "globex").count() == 10


def test_erase_deletes_one_subject_and_nothing_else(new_index: Any, tmp_path: Path) -> None:
    ix = new_index("subj")
    _seed(ix, "acme", 90)
    _seed(ix, "globex", 90)  # same ids, same user ids, another tenant
    log = tmp_path / "audit.jsonl"

    receipt = erase(ix, "acme", filter={"user_id": "u1"}, audit_log=log)
    assert receipt.kind == "erase" and receipt.filter == {"user_id": "u1"}
    assert receipt.verified and receipt.deleted == 30
    [row] = receipt.indexes
    gone = sorted(f"chat-{i:04d}" for i in range(90) if i % 3 == 1)
    assert row.deleted_ids_sha256 == hashlib.sha256("\n".join(gone).encode()).hexdigest()
    assert (row.records_before, row.ids_listed) == (90, 30)
    assert row.verification == {"stats": 60, "fetch": 0, "probe": 0}

    assert PinnedIndex(ix, "acme").fetch(gone) == {}
    assert PinnedIndex(ix, "acme").count() == 60
    assert PinnedIndex(ix, "globex").count() == 90
    assert read_audit_log(log)[0]["receipt_id"] == receipt.receipt_id


def test_erase_under_metadata_isolation_stays_inside_the_tenant(new_index: Any) -> None:
    ix = new_index("subj-md")
    _seed(ix, "acme", 30, isolation="metadata")
    _seed(ix, "globex", 30, isolation="metadata")
    receipt = erase(ix, "acme", filter={"user_id": {"$in": ["u0", "u2"]}}, isolation="metadata")
    assert receipt.verified and receipt.deleted == 20
    assert PinnedIndex(ix, "acme", isolation="metadata").count() == 10
    assert PinnedIndex(ix, "globex", isolation="metadata").count() == 30
    with pytest.raises(TenantIsolationError):
        erase(ix, "acme", filter={"tenant_id": "globex"}, isolation="metadata")
    assert PinnedIndex(ix, "globex", isolation="metadata").count() == 30


@pytest.mark.parametrize("empty", [{}, None])
def test_erase_refuses_an_empty_filter(new_index: Any, empty: Any) -> None:
    ix = new_index("empty")
    _seed(ix, "acme", 5)
    with pytest.raises(ValueError, match="offboard"):
        erase(ix, "acme", filter=empty)
    assert PinnedIndex(ix, "acme").count() == 5


def test_audit_log_from_the_environment(
    new_index: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "env-audit.jsonl"
    monkeypatch.setenv("TENANT_RAG_AUDIT_LOG", str(log))
    ix = new_index("env")
    _seed(ix, "acme", 6)
    erase(ix, "acme", filter={"user_id": "u0"})
    offboard("acme", ix)
    assert [r["kind"] for r in read_audit_log(log)] == ["erase", "offboard"]


# -- physical deletion on the embedded server ----------------------------------------------


@pytest.mark.parametrize("isolation", ["namespace", "metadata"])
def test_offboarded_tenant_canary_is_in_no_file(local_server: LocalServer, isolation: str) -> None:
    pc = local_server.client()
    ix = ensure_index(pc, "canary", dimension=DIM)
    _seed(ix, "acme", 200, isolation=isolation, canary=True)
    _seed(ix, "globex", 200, isolation=isolation)
    _checkpoint(local_server)  # the canary now sits in ordinary database pages
    assert _files_holding(local_server.data_dir, CANARY)

    receipt = offboard("acme", ix, isolation=isolation)  # type: ignore[arg-type]
    assert receipt.verified and receipt.indexes[0].storage["checkpoint"] == "complete"  # type: ignore[index]
    assert _files_holding(local_server.data_dir, CANARY) == []
    assert PinnedIndex(ix, "globex", isolation=isolation).count() == 200  # type: ignore[arg-type]


def test_erased_subject_canary_is_in_no_file(local_server: LocalServer) -> None:
    pc = local_server.client()
    ix = ensure_index(pc, "canary-subject", dimension=DIM)
    PinnedIndex(ix, "acme").upsert(
        [
            (
                f"m{i}",
                [0.2] * DIM,
                {"text": f"{CANARY} {i}" if i % 2 else f"keep {i}", "user_id": f"u{i % 2}"},
            )
            for i in range(100)
        ]
    )
    _checkpoint(local_server)
    assert _files_holding(local_server.data_dir, CANARY)
    receipt = erase(ix, "acme", filter={"user_id": "u1"})
    assert receipt.verified and receipt.deleted == 50
    assert _files_holding(local_server.data_dir, CANARY) == []
    assert _files_holding(local_server.data_dir, "keep 98")


def test_backups_are_named_in_the_receipt_not_deleted(local_server: LocalServer) -> None:
    pc = local_server.client()
    ix = ensure_index(pc, "canary-backup", dimension=DIM)
    _seed(ix, "acme", 40, canary=True)
    backup = pc.create_backup(index_name="canary-backup", backup_name="nightly")

    receipt = offboard("acme", ix)
    [row] = receipt.indexes
    assert [b["backup_id"] for b in row.backups or []] == [backup.backup_id]
    assert any("backup" in note for note in receipt.notes)
    # the backup still holds the tenant, as the receipt says ...
    assert _files_holding(local_server.data_dir, CANARY) == [f"backups/{backup.backup_id}.sqlite"]
    # ... until the user deletes it
    pc.delete_backup(backup_id=backup.backup_id)
    assert _files_holding(local_server.data_dir, CANARY) == []
