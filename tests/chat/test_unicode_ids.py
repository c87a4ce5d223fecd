"""One document id rule for every entry point, lossless for any unicode file name (issue 12, item 1).

Uploads through ``POST /documents`` and files ingested by ``tenant-rag ingest``
(and so by ``ingest()`` on a path) get the same document id: the file's name
(relative path for the CLI), NFC-normalised, nothing replaced. ``東京.md`` and
``京都.md`` are two documents; ``café-ünïcode 文件.md`` is one id everywhere.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenant_rag.cli._common import TEST_EMBEDDINGS_ENV
from tenant_rag.cli.app import app
from tenant_rag.tenancy.pinned import PinnedIndex

from .conftest import ACME_KEY, Backend

CAFE = "café-ünïcode 文件.md"


def _record_ids(index: Any, tenant: str) -> set[str]:
    return set(PinnedIndex(index, tenant).list_ids())


def test_two_cjk_names_are_two_documents(backend: Backend) -> None:
    first = backend.upload(ACME_KEY, ("東京.md", "Tokyo is the capital."))
    assert first.status_code == 200, first.text
    assert first.json()["documents"] == ["東京.md"]
    second = backend.upload(ACME_KEY, ("京都.md", "Kyoto was the old capital."))
    assert second.status_code == 200, second.text
    assert second.json()["documents"] == ["京都.md"]
    assert backend.docs(ACME_KEY) == {"東京.md": 1, "京都.md": 1}, "the second replaced the first"
    tokyo = backend.client.delete("/documents/東京.md", headers=backend.as_(ACME_KEY))
    assert tokyo.status_code == 200, tokyo.text
    assert backend.docs(ACME_KEY) == {"京都.md": 1}


def test_names_that_cannot_be_files_are_refused_not_rewritten(backend: Backend) -> None:
    for bad in ("..", "é" * 200 + ".md"):
        resp = backend.upload(ACME_KEY, (bad, "text"))
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["code"] == "bad_filename"
    assert backend.docs(ACME_KEY) == {}
    # HTTP clients percent-escape control characters in a part's filename; one that
    # arrives raw is refused too
    from tenant_rag.chat.errors import ChatApiError
    from tenant_rag.chat.routes.documents import safe_name

    for raw in ("tab\there.md", "nul\x00.md"):
        with pytest.raises(ChatApiError, match="control characters"):
            safe_name(raw)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TENANT_RAG_HOME for in-process CLI runs with the hashing test embeddings."""
    from tenant_rag.connection import reset_for_tests

    monkeypatch.setenv("TENANT_RAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(TEST_EMBEDDINGS_ENV, "hashing")
    for var in ("PINECONE_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "TENANT_RAG_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    reset_for_tests()
    yield tmp_path
    reset_for_tests()


def test_the_same_file_gets_the_same_id_over_http_and_the_cli(
    backend: Backend, cli_env: Path
) -> None:
    """The file on disk is NFD (as macOS writes names); the browser sends NFC."""
    text = "Coffee is served at nine in the café."
    upload = backend.upload(ACME_KEY, (unicodedata.normalize("NFC", CAFE), text))
    assert upload.status_code == 200, upload.text
    assert upload.json()["documents"] == [CAFE]
    http_ids = _record_ids(backend.index, "acme")

    folder = cli_env / "docs"
    folder.mkdir()
    (folder / unicodedata.normalize("NFD", CAFE)).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["ingest", "--tenant", "acme", "--index", "uni", "--json", str(folder)]
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert json.loads(result.stdout)["documents_written"] == 1

    from tenant_rag.connection import connect, ensure_index

    cli_index = ensure_index(connect(), "uni", dimension=64)
    cli_ids = _record_ids(cli_index, "acme")
    assert cli_ids == http_ids == {"caf%C3%A9-%C3%BCn%C3%AFcode %E6%96%87%E4%BB%B6.md#0"}
    doc_ids = {
        rec.metadata["doc_id"]
        for rec in PinnedIndex(cli_index, "acme").fetch(sorted(cli_ids)).values()
    }
    assert doc_ids == {CAFE}
