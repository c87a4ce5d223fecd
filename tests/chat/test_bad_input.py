"""Bad input gets a 4xx with a clear JSON message, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tenant_rag.chat import ChatLimits, KeyRing
from tenant_rag.local import LocalServer

from .conftest import ACME_KEY, ADMIN_KEY, WRONG_KEY, Backend, make_backend

TENANT_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/me", {}),
    ("GET", "/documents", {}),
    ("POST", "/documents", {"files": [("files", ("a.md", b"hello there", "text/plain"))]}),
    ("DELETE", "/documents/a.md", {}),
    ("PUT", "/documents/a.md/acl", {"json": {"acl": ["tenant"]}}),
    ("POST", "/chat", {"json": {"question": "hello?"}}),
    ("GET", "/jobs", {}),
    ("GET", "/jobs/0123abcd", {}),
    ("GET", "/jobs/0123abcd/events", {}),
]
ALL_ROUTES = [
    *TENANT_ROUTES,
    ("DELETE", "/tenants/acme", {}),
    ("GET", "/tenants", {}),
    ("GET", "/tenants/acme/export", {}),
    ("POST", "/tenants/acme/erase", {"json": {"filter": {"doc_id": "a.md"}}}),
]


def assert_error(resp: Any, status: int, code: str, *words: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    for word in words:
        assert word in body["detail"], body


@pytest.mark.parametrize(("method", "path", "kwargs"), ALL_ROUTES)
def test_no_key_is_401(backend: Backend, method: str, path: str, kwargs: dict[str, Any]) -> None:
    resp = backend.client.request(method, path, **kwargs)
    assert_error(resp, 401, "missing_key", "Authorization: Bearer")
    assert resp.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "kwargs"), ALL_ROUTES)
def test_wrong_key_is_401(backend: Backend, method: str, path: str, kwargs: dict[str, Any]) -> None:
    resp = backend.client.request(method, path, headers=backend.as_(WRONG_KEY), **kwargs)
    assert_error(resp, 401, "invalid_key", "invalid API key")


@pytest.mark.parametrize(
    "header", ["Basic " + ACME_KEY, ACME_KEY, "Bearer", "Bearer   ", "Token " + ACME_KEY]
)
def test_malformed_authorization_is_401(backend: Backend, header: str) -> None:
    resp = backend.client.get("/documents", headers={"Authorization": header})
    assert resp.status_code == 401, resp.text
    assert resp.json()["code"] in ("malformed_authorization", "missing_key")


def test_tenant_key_on_admin_route_is_403(backend: Backend) -> None:
    resp = backend.client.delete("/tenants/acme", headers=backend.as_(ACME_KEY))
    assert_error(resp, 403, "admin_only", "admin key")


@pytest.mark.parametrize(("method", "path", "kwargs"), TENANT_ROUTES)
def test_admin_key_on_tenant_route_is_403(
    backend: Backend, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    """An admin key is not bound to a tenant, so it cannot stand in for one."""
    resp = backend.client.request(method, path, headers=backend.as_(ADMIN_KEY), **kwargs)
    assert_error(resp, 403, "admin_key_has_no_tenant")


@pytest.fixture
def small(shared_local_server: LocalServer, keyring: KeyRing) -> Iterator[Backend]:
    """A backend whose upload limit is 1 KB per file, at most 3 files."""
    b = make_backend(shared_local_server, keyring, ChatLimits(max_upload_bytes=1024, max_files=3))
    with b.client:
        yield b


def test_oversized_upload_is_413(small: Backend) -> None:
    resp = small.upload(ACME_KEY, ("big.txt", "x " * 600))
    assert_error(resp, 413, "upload_too_large", "1,024 bytes")
    assert small.docs(ACME_KEY) == {}


def test_oversized_request_is_refused_before_reading(small: Backend) -> None:
    """A declared body beyond every file's cap is refused from its Content-Length."""
    resp = small.client.post(
        "/documents",
        content=b"x" * (1024 * 3 + 70 * 1024),
        headers={**small.as_(ACME_KEY), "Content-Type": "multipart/form-data; boundary=zz"},
    )
    assert_error(resp, 413, "upload_too_large")


def test_one_oversized_file_refuses_the_whole_upload(small: Backend) -> None:
    resp = small.upload(ACME_KEY, ("ok.txt", "small text"), ("big.txt", "y" * 2000))
    assert resp.status_code == 413
    assert small.docs(ACME_KEY) == {}


def test_too_many_files_is_400(small: Backend) -> None:
    resp = small.upload(ACME_KEY, *[(f"f{i}.txt", "hi") for i in range(4)])
    assert resp.status_code == 400, resp.text
    assert "Too many files" in resp.json()["detail"]


@pytest.mark.parametrize("name", ["tool.exe", "archive.zip", "README", "image.png", "doc.md.sh"])
def test_unsupported_file_type_is_415(backend: Backend, name: str) -> None:
    resp = backend.upload(ACME_KEY, (name, "some text"))
    assert_error(resp, 415, "unsupported_file_type", "supported: .txt")
    assert backend.docs(ACME_KEY) == {}


def test_upload_must_be_multipart(backend: Backend) -> None:
    resp = backend.client.post("/documents", json={"text": "hi"}, headers=backend.as_(ACME_KEY))
    assert_error(resp, 415, "multipart_required", "multipart/form-data")


def test_upload_without_files_is_422(backend: Backend) -> None:
    body = b'--zz\r\nContent-Disposition: form-data; name="note"\r\n\r\nno file here\r\n--zz--\r\n'
    resp = backend.client.post(
        "/documents",
        content=body,
        headers={**backend.as_(ACME_KEY), "Content-Type": "multipart/form-data; boundary=zz"},
    )
    assert_error(resp, 422, "no_files")


@pytest.mark.parametrize("name", ["..", "...", "/", " . "])
def test_unusable_filename_is_400(backend: Backend, name: str) -> None:
    resp = backend.upload(ACME_KEY, (name, "text"))
    assert_error(resp, 400, "bad_filename")


def test_an_odd_but_valid_name_is_kept_and_judged_by_its_type(backend: Backend) -> None:
    """Names are no longer rewritten, so ``___`` is a name like any other (without a suffix)."""
    assert_error(backend.upload(ACME_KEY, ("___", "text")), 415, "unsupported_file_type")
    assert backend.upload(ACME_KEY, ("___.md", "text")).json()["documents"] == ["___.md"]


def test_duplicate_filenames_are_400(backend: Backend) -> None:
    resp = backend.upload(ACME_KEY, ("a.md", "one"), ("dir/a.md", "two"))
    assert_error(resp, 400, "duplicate_filename", "a.md")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"question": ""}, ("question", "must not be empty")),
        ({"question": "   \n\t"}, ("question", "must not be empty")),
        ({}, ("question", "required")),
        ({"question": None}, ("question",)),
        ({"question": 42}, ("question",)),
        ({"question": "hi", "chat_history": "not a list"}, ("chat_history",)),
        ({"question": "hi", "chat_history": [{"role": "system", "content": "x"}]}, ("role",)),
        ({"question": "hi", "tenant": "globex"}, ("tenant", "not permitted")),
    ],
)
def test_bad_chat_body_is_422(backend: Backend, body: dict[str, Any], words: tuple[str]) -> None:
    resp = backend.client.post("/chat", json=body, headers=backend.as_(ACME_KEY))
    assert_error(resp, 422, "invalid_request", *words)


def test_chat_body_not_json_is_422(backend: Backend) -> None:
    resp = backend.client.post(
        "/chat",
        content=b"question=hi",
        headers={**backend.as_(ACME_KEY), "Content-Type": "application/json"},
    )
    assert_error(resp, 422, "invalid_request")


def test_question_too_long_is_422(backend: Backend) -> None:
    resp = backend.chat(ACME_KEY, "why " * 2000)
    assert_error(resp, 422, "question_too_long", "4000")


def test_unknown_document_is_404(backend: Backend) -> None:
    resp = backend.client.delete("/documents/nope.md", headers=backend.as_(ACME_KEY))
    assert_error(resp, 404, "unknown_document", "nope.md")


@pytest.mark.parametrize("tenant", ["__default__", "%20acme", "ac%00me"])
def test_offboard_bad_tenant_id_is_400(backend: Backend, tenant: str) -> None:
    resp = backend.client.delete(f"/tenants/{tenant}", headers=backend.as_(ADMIN_KEY))
    assert_error(resp, 400, "invalid_tenant")


def test_offboard_empty_tenant_id_is_4xx(backend: Backend) -> None:
    resp = backend.client.delete("/tenants/", headers=backend.as_(ADMIN_KEY))
    assert 400 <= resp.status_code < 500
    assert resp.json()["code"] in ("invalid_tenant", "not_found")


def test_unknown_route_is_json_404(backend: Backend) -> None:
    resp = backend.client.get("/nope", headers=backend.as_(ACME_KEY))
    assert_error(resp, 404, "not_found")


def test_wrong_method_is_405(backend: Backend) -> None:
    resp = backend.client.put("/chat", headers=backend.as_(ACME_KEY))
    assert_error(resp, 405, "method_not_allowed")


def test_oversized_json_body_is_413(backend: Backend) -> None:
    resp = backend.client.post(
        "/chat",
        json={"question": "hi", "chat_history": [{"role": "user", "content": "x" * 19_000}] * 60},
        headers=backend.as_(ACME_KEY),
    )
    assert_error(resp, 413, "body_too_large", "1,048,576 bytes")


def test_store_outage_is_503_not_500(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every data-plane call fails as an unreachable Pinecone would: 503, retry advice."""
    from pinecone.exceptions import ServiceException

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise ServiceException(status=503, reason="Service Unavailable")

    for method in ("query", "list", "list_paginated", "fetch", "delete", "upsert"):
        monkeypatch.setattr(backend.index, method, fail)
    auth = backend.as_(ACME_KEY)
    for resp in (
        backend.client.get("/documents", headers=auth),
        backend.client.post("/chat", json={"question": "hi?"}, headers=auth),
        backend.client.delete("/documents/a.md", headers=auth),
    ):
        assert_error(resp, 503, "store_unavailable", "retry")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary\x00", "binary"),
        ("caf\u00e9 au lait".encode("latin-1"), "UTF-8"),
    ],
)
def test_unusable_file_content_is_422(backend: Backend, content: bytes, words: str) -> None:
    resp = backend.upload(ACME_KEY, ("notes.txt", content))
    assert_error(resp, 422, "nothing_ingested", "notes.txt", words)
    assert "report" in resp.json()
    assert backend.docs(ACME_KEY) == {}


def test_one_unusable_file_does_not_block_the_others(backend: Backend) -> None:
    resp = backend.upload(ACME_KEY, ("good.md", "Useful text."), ("empty.md", b""))
    assert resp.status_code == 200, resp.text
    assert "empty.md" in resp.json()["report"]["skipped"]
    assert backend.docs(ACME_KEY) == {"good.md": 1}
