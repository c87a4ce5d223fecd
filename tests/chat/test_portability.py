"""Admin routes for a tenant's data (export download, subject erasure) and per-request routing.

The routing table decides which index serves a tenant: after a re-embedding
into a new index with another model, the backend answers from the new index,
and a rollback sends it back, with no restart.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tenant_rag.chat import create_chat_app
from tenant_rag.connection import ensure_index
from tenant_rag.lifecycle import reembed_tenant
from tenant_rag.lifecycle.erasure import read_audit_log
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.tenancy import PinnedIndex
from tenant_rag.tenancy.routing import RoutingTable

from .conftest import (
    ACME_KEY,
    ADMIN_KEY,
    GLOBEX_KEY,
    Backend,
    KeyRing,
    parse_sse,
    sources_of,
)


def test_admin_downloads_a_tenant_export(seeded: Backend, tmp_path: Path) -> None:
    resp = seeded.client.get("/tenants/globex/export", headers=seeded.as_(ADMIN_KEY))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/zip"
    assert "globex-export.zip" in resp.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(resp.content))
    names = sorted(archive.namelist())
    assert names == ["globex/part-00000.parquet", "manifest.json"]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["tenant"] == "globex" and manifest["record_count"] == 2
    archive.extractall(tmp_path)
    ids = pq.read_table(tmp_path / "globex").column("id").to_pylist()
    assert sorted(ids) == ["handbook.md#0", "secret.md#0"]


def test_export_and_erase_need_an_admin_key(seeded: Backend) -> None:
    for key, status in ((ACME_KEY, 403), (None, 401), ("not-a-key-at-all", 401)):
        assert (
            seeded.client.get("/tenants/globex/export", headers=seeded.as_(key)).status_code
            == status
        )
        resp = seeded.client.post(
            "/tenants/globex/erase",
            json={"filter": {"doc_id": "secret.md"}},
            headers=seeded.as_(key),
        )
        assert resp.status_code == status
    assert seeded.docs(GLOBEX_KEY) == {"handbook.md": 1, "secret.md": 1}


def test_admin_erases_a_subject_with_a_receipt(
    shared_local_server: LocalServer, keyring: KeyRing, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    emb = HashingTestEmbeddings(64)
    index = ensure_index(shared_local_server.client(), "chat-erase-audit", dimension=64)
    app = create_chat_app(
        keys=keyring, embedding=emb, index=index, index_name="chat-erase-audit", audit_log=str(log)
    )
    with TestClient(app) as client:
        up = client.post(
            "/documents",
            files=[
                ("files", ("a.md", b"alpha text", "text/plain")),
                ("files", ("b.md", b"beta", "text/plain")),
            ],
            headers={"Authorization": f"Bearer {GLOBEX_KEY}"},
        )
        assert _finished(client, up, GLOBEX_KEY)
        resp = client.post(
            "/tenants/globex/erase",
            json={"filter": {"doc_id": "a.md"}},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert resp.status_code == 200, resp.text
        receipt = resp.json()["receipt"]
        assert receipt["kind"] == "erase" and receipt["verified"] and receipt["deleted"] == 1
        off = client.delete("/tenants/globex", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert off.json()["result"]["kind"] == "offboard"
    assert [r["kind"] for r in read_audit_log(log)] == ["erase", "offboard"]


@pytest.mark.parametrize(
    "body",
    [{}, {"filter": {}}, {"filter": {"doc_id": "a"}, "tenant": "acme"}, {"filter": "doc_id"}],
)
def test_erase_refuses_bad_bodies(seeded: Backend, body: Any) -> None:
    resp = seeded.client.post("/tenants/globex/erase", json=body, headers=seeded.as_(ADMIN_KEY))
    assert resp.status_code == 422
    assert seeded.docs(GLOBEX_KEY) == {"handbook.md": 1, "secret.md": 1}


def test_a_tenant_reembedded_into_a_new_index_is_served_from_it(
    shared_local_server: LocalServer, keyring: KeyRing, tmp_path: Path
) -> None:
    pc = shared_local_server.client()
    old_emb, new_emb = HashingTestEmbeddings(64), HashingTestEmbeddings(96)
    old = ensure_index(pc, "chat-route-v1", dimension=64)
    new = ensure_index(pc, "chat-route-v2", dimension=96)
    routes = RoutingTable(tmp_path / "routes.json")
    app = create_chat_app(
        keys=keyring, embedding=old_emb, index=old, index_name="chat-route-v1", routes=routes
    )
    app.state.service.open_index = lambda name: (new, new_emb)
    with TestClient(app) as client:

        def ask(key: str) -> list[dict[str, Any]]:
            r = client.post(
                "/chat",
                json={"question": "vacation days"},
                headers={"Authorization": f"Bearer {key}"},
            )
            return sources_of(parse_sse(r.text))

        up = client.post(
            "/documents",
            files=[("files", ("h.md", b"Acme gives 25 vacation days.", "text/plain"))],
            headers={"Authorization": f"Bearer {ACME_KEY}"},
        )
        assert _finished(client, up, ACME_KEY)
        assert [s["id"] for s in ask(ACME_KEY)] == ["h.md#0"]

        report = reembed_tenant(old, new, "acme", embedding=new_emb, routes=routes)
        assert report.verified and report.routed and report.records == 1
        PinnedIndex(old, "acme").update("h.md#0", set_metadata={"text": "stale copy"})
        # served from the new index now: its text, not the old index's stale one
        [hit] = ask(ACME_KEY)
        assert hit["text"] == "Acme gives 25 vacation days."
        # uploads follow the route too
        up = client.post(
            "/documents",
            files=[("files", ("n.md", b"new after switch", "text/plain"))],
            headers={"Authorization": f"Bearer {ACME_KEY}"},
        )
        assert _finished(client, up, ACME_KEY)
        assert PinnedIndex(new, "acme").count() == 2 and PinnedIndex(old, "acme").count() == 1

        routes.rollback("acme")
        [hit] = ask(ACME_KEY)
        assert hit["text"] == "stale copy"
        assert ask(GLOBEX_KEY) == []  # other tenants never routed anywhere


def _finished(client: TestClient, accepted: Any, key: str) -> bool:
    """Wait for the background job of an accepted upload (202); True once it succeeded."""
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job"]
    deadline = time.monotonic() + 60
    while job["status"] not in ("succeeded", "partial", "failed"):
        assert time.monotonic() < deadline, f"upload job still {job['status']}"
        time.sleep(0.02)
        job = client.get(f"/jobs/{job['id']}", headers={"Authorization": f"Bearer {key}"}).json()
    assert job["status"] == "succeeded", job
    return True
