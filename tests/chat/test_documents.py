"""``/documents``: upload, list, delete, idempotency, and the doc1/doc10 case."""

from __future__ import annotations

import json

from .conftest import ACME_KEY, GLOBEX_KEY, Backend


def test_upload_several_files_returns_the_report(backend: Backend) -> None:
    resp = backend.upload(
        ACME_KEY,
        ("a.md", "# A\n\nAlpha document about apples."),
        ("b.txt", "Beta document about bananas."),
        ("c.html", "<html><body><p>Gamma document about grapes.</p></body></html>"),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["tenant"] == "acme"
    assert body["documents"] == ["a.md", "b.txt", "c.html"]
    assert isinstance(body["report"], dict)
    assert backend.docs(ACME_KEY) == {"a.md": 1, "b.txt": 1, "c.html": 1}
    assert backend.docs(GLOBEX_KEY) == {}


def test_long_document_has_several_chunks(backend: Backend) -> None:
    text = "\n\n".join(f"Paragraph {i}: " + "words " * 60 for i in range(40))
    assert backend.upload(ACME_KEY, ("long.md", text)).status_code == 200
    assert backend.docs(ACME_KEY)["long.md"] > 1


def test_reupload_is_idempotent_and_replaces(backend: Backend) -> None:
    assert backend.upload(ACME_KEY, ("a.md", "Version one about apples.")).status_code == 200
    first = backend.docs(ACME_KEY)
    assert backend.upload(ACME_KEY, ("a.md", "Version one about apples.")).status_code == 200
    assert backend.docs(ACME_KEY) == first
    assert backend.upload(ACME_KEY, ("a.md", "Version two about pears.")).status_code == 200
    assert backend.docs(ACME_KEY) == first
    sources = backend.client.post(
        "/chat", json={"question": "pears?"}, headers=backend.as_(ACME_KEY)
    ).text
    assert "Version two about pears" in sources
    assert "Version one" not in sources


def test_delete_removes_exactly_one_document(backend: Backend) -> None:
    """Deleting doc1.md leaves doc10.md (the prefix trap)."""
    assert backend.upload(ACME_KEY, ("doc1.md", "one"), ("doc10.md", "ten")).status_code == 200
    resp = backend.client.delete("/documents/doc1.md", headers=backend.as_(ACME_KEY))
    assert resp.status_code == 200, resp.text
    assert resp.json()["doc_id"] == "doc1.md"
    assert backend.docs(ACME_KEY) == {"doc10.md": 1}
    again = backend.client.delete("/documents/doc1.md", headers=backend.as_(ACME_KEY))
    assert again.status_code == 404


def test_unsafe_upload_names_are_sanitised(backend: Backend) -> None:
    resp = backend.upload(ACME_KEY, ("../../etc/passwd.txt", "not really"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["documents"] == ["passwd.txt"]
    assert backend.docs(ACME_KEY) == {"passwd.txt": 1}


def test_jsonl_items_are_documents_and_the_file_name_deletes_them_all(backend: Backend) -> None:
    lines = "\n".join(
        json.dumps({"id": i, "text": f"Ticket {i} about printers."}) for i in ("t1", "t2")
    )
    assert (
        backend.upload(ACME_KEY, ("support.jsonl", lines), ("keep.md", "keep")).status_code == 200
    )
    assert backend.docs(ACME_KEY) == {"keep.md": 1, "support.jsonl:t1": 1, "support.jsonl:t2": 1}
    resp = backend.client.delete("/documents/support.jsonl", headers=backend.as_(ACME_KEY))
    assert resp.status_code == 200, resp.text
    assert resp.json()["items"] == ["support.jsonl:t1", "support.jsonl:t2"]
    assert backend.docs(ACME_KEY) == {"keep.md": 1}


def test_an_upload_never_silently_replaces_a_document_from_elsewhere(backend: Backend) -> None:
    """Issue 12: company.md ingested from a folder is not replaced by an upload of that name."""
    from tenant_rag.ingestion import ingest

    ingest(
        backend.index,
        "acme",
        [("company.md", "Acme was founded in 1999.", {"source": "/srv/docs/company.md"})],
        embedding=backend.embedding,
        progress=False,
    )
    resp = backend.upload(ACME_KEY, ("company.md", "Acme sells anvils."))
    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "document_conflict"
    assert "/srv/docs/company.md" in resp.json()["detail"]
    again = backend.client.post(
        "/documents?replace=true",
        files=[("files", ("company.md", b"Acme sells anvils.", "text/plain"))],
        headers=backend.as_(ACME_KEY),
    )
    assert again.status_code == 202, again.text
    assert backend.wait(ACME_KEY, again.json()["job"]["id"])["status"] == "succeeded"
    assert backend.upload(ACME_KEY, ("company.md", "Acme sells rockets.")).status_code == 200
