"""Admin-only ``DELETE /tenants/{id}``: offboards, verifies, is idempotent."""

from __future__ import annotations

from .conftest import ACME_KEY, ADMIN_KEY, GLOBEX_KEY, Backend, parse_sse, sources_of


def test_offboard_deletes_the_tenant_and_verifies(seeded: Backend) -> None:
    resp = seeded.client.delete("/tenants/globex", headers=seeded.as_(ADMIN_KEY))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["tenant"] == "globex"
    assert body["result"]["verified"] is True
    assert body["result"]["deleted"] == 2
    assert seeded.docs(GLOBEX_KEY) == {}
    assert sources_of(parse_sse(seeded.chat(GLOBEX_KEY, "launch code?").text)) == []
    assert seeded.docs(ACME_KEY) == {"handbook.md": 1}


def test_offboard_is_idempotent(seeded: Backend) -> None:
    first = seeded.client.delete("/tenants/globex", headers=seeded.as_(ADMIN_KEY))
    second = seeded.client.delete("/tenants/globex", headers=seeded.as_(ADMIN_KEY))
    assert first.status_code == second.status_code == 200
    assert second.json()["result"]["deleted"] == 0
    assert second.json()["result"]["verified"] is True


def test_offboard_of_unknown_tenant_succeeds_with_nothing_deleted(backend: Backend) -> None:
    resp = backend.client.delete("/tenants/never-existed", headers=backend.as_(ADMIN_KEY))
    assert resp.status_code == 200, resp.text
    assert resp.json()["result"]["deleted"] == 0


def test_offboarded_tenant_can_upload_again(seeded: Backend) -> None:
    """The key still maps to the tenant; offboarding removes data, not the key."""
    seeded.client.delete("/tenants/acme", headers=seeded.as_(ADMIN_KEY))
    assert seeded.upload(ACME_KEY, ("new.md", "fresh start")).status_code == 200
    assert seeded.docs(ACME_KEY) == {"new.md": 1}


def test_healthz_needs_no_key(backend: Backend) -> None:
    resp = backend.client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "index": backend.index_name}


def test_page_is_served_with_a_strict_csp(backend: Backend) -> None:
    resp = backend.client.get("/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "<title>tenant_rag chat</title>" in resp.text
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "unsafe-inline" not in csp


def test_admin_lists_tenants_with_data_and_keys(seeded: Backend) -> None:
    resp = seeded.client.get("/tenants", headers=seeded.as_(ADMIN_KEY))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "index": seeded.index_name,
        "tenants": [
            {"tenant": "acme", "records": 1, "has_key": True},
            {"tenant": "globex", "records": 2, "has_key": True},
        ],
    }
    seeded.client.delete("/tenants/globex", headers=seeded.as_(ADMIN_KEY))
    rows = seeded.client.get("/tenants", headers=seeded.as_(ADMIN_KEY)).json()["tenants"]
    assert rows[1] == {"tenant": "globex", "records": 0, "has_key": True}


def test_tenant_data_without_a_key_is_listed(seeded: Backend) -> None:
    """Data of a tenant whose key was removed still shows, so it can be offboarded."""
    from tenant_rag.ingestion import ingest

    ingest(
        seeded.index,
        "initech",
        [("memo", "TPS reports.", {})],
        embedding=seeded.embedding,
        progress=False,
    )
    rows = seeded.client.get("/tenants", headers=seeded.as_(ADMIN_KEY)).json()["tenants"]
    assert {"tenant": "initech", "records": 1, "has_key": False} in rows


def test_tenant_list_is_admin_only(seeded: Backend) -> None:
    for key, status in ((ACME_KEY, 403), (None, 401)):
        resp = seeded.client.get("/tenants", headers=seeded.as_(key))
        assert resp.status_code == status
        assert "globex" not in resp.text
