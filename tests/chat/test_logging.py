"""Logs never contain a key, whatever the request."""

from __future__ import annotations

import logging

import pytest

from tenant_rag.chat.logs import REDACTED, RedactingFilter

from .conftest import ACME_KEY, ADMIN_KEY, GLOBEX_KEY, WRONG_KEY, Backend

ALL_KEYS = (ACME_KEY, GLOBEX_KEY, ADMIN_KEY, WRONG_KEY)
CLIENT_LOGGERS = ("httpx", "httpcore")


def _exercise(b: Backend) -> None:
    """Every route, with every kind of key, plus a key smuggled into a path and a query."""
    for key in (*ALL_KEYS, None):
        h = b.as_(key)
        b.client.get("/me", headers=h)
        b.client.get("/documents", headers=h)
        b.upload(key or "", ("notes.md", "Notes about keys and logs."))
        b.client.post("/chat", json={"question": "What about logs?"}, headers=h)
        b.client.post("/chat", json={"question": ""}, headers=h)
        b.client.delete("/documents/notes.md", headers=h)
        b.client.delete("/tenants/globex", headers=h)
        b.client.get("/healthz", headers=h)
    b.client.get("/documents", headers={"Authorization": f"Basic {ACME_KEY}"})
    b.client.get(f"/documents?api_key={ACME_KEY}", headers=b.as_(ACME_KEY))
    b.client.delete(f"/documents/{GLOBEX_KEY}.md", headers=b.as_(ACME_KEY))


def test_logs_never_contain_a_key(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _exercise(backend)
    # The test client's own loggers (httpx/httpx2) log URLs this test built on purpose;
    # everything else is the server side and must be clean.
    server_records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    assert server_records, "the server should log its requests"
    text = "\n".join(caplog.handler.format(r) for r in server_records)
    for key in ALL_KEYS:
        assert key not in text
    # the request log names the tenant, so logs stay useful without keys
    assert "tenant=acme" in text
    assert "POST /chat -> 200" in text
    assert "-> 401" in text
    assert f"/documents/{REDACTED}.md" in text


@pytest.mark.parametrize(
    "message",
    [
        f"headers: {{'authorization': 'Bearer {ACME_KEY}'}}",
        f"Authorization: Bearer {ACME_KEY}",
        "sent bearer some-unconfigured-token",
        "api_key=another-unconfigured-token",
        f"the key is {GLOBEX_KEY}, really",
    ],
)
def test_redacting_filter(message: str) -> None:
    f = RedactingFilter()
    f.add_secrets([ACME_KEY, GLOBEX_KEY])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, message, None, None)
    f.filter(record)
    out = record.getMessage()
    assert REDACTED in out
    for secret in (ACME_KEY, GLOBEX_KEY, "some-unconfigured-token", "another-unconfigured-token"):
        assert secret not in out


def test_redacting_filter_keeps_uvicorn_access_args_shape() -> None:
    """uvicorn's access formatter unpacks five args; redaction must keep the tuple."""
    f = RedactingFilter()
    f.add_secrets([ACME_KEY])
    args = ("127.0.0.1:5", "GET", f"/documents?k={ACME_KEY}", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s %s %s %s %d", args, None
    )
    f.filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert record.args[4] == 200
    assert ACME_KEY not in record.getMessage()
