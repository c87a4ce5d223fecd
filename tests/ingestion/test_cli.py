"""``tenant-rag ingest`` and ``delete-doc`` through Typer's CliRunner, on an embedded data dir."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenant_rag.cli._common import TEST_EMBEDDINGS_ENV
from tenant_rag.cli.app import app
from tenant_rag.ingestion import sample_corpus

from .conftest import stored


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """TENANT_RAG_HOME for this module's runs, with the hashing test embeddings."""
    path = tmp_path_factory.mktemp("ingest-cli-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TENANT_RAG_HOME", str(path))
        mp.setenv(TEST_EMBEDDINGS_ENV, "hashing")
        for var in ("PINECONE_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "TENANT_RAG_DEBUG"):
            mp.delenv(var, raising=False)
        yield path


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def raw_index(name: str = "ingest-cli") -> Any:
    from tenant_rag.connection import connect, ensure_index

    return ensure_index(connect(), name, dimension=64)


def test_help_lists_both_commands(home: Path) -> None:
    for command in ("ingest", "delete-doc"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "--tenant" in result.stdout and "--json" in result.stdout
    assert "--sync" in run("ingest", "--help").stdout


def test_ingest_twice_then_delete_doc(home: Path) -> None:
    acme = str(sample_corpus() / "acme")
    first = run("ingest", "--tenant", "acme", "--index", "ingest-cli", "--json", acme)
    assert first.exit_code == 0, (first.stdout, first.stderr)
    data = json.loads(first.stdout)
    assert data["documents_written"] == data["documents_seen"] >= 5 and data["ok"]
    again = json.loads(run("ingest", "-t", "acme", "-i", "ingest-cli", "--json", acme).stdout)
    assert again["documents_unchanged"] == data["documents_written"]
    assert again["chunks_upserted"] == 0
    human = run("ingest", "--tenant", "acme", "--index", "ingest-cli", acme)
    assert human.exit_code == 0 and "unchanged" in human.stdout
    deleted = run(
        "delete-doc", "--tenant", "acme", "--index", "ingest-cli", "--json", "handbook.md"
    )
    assert deleted.exit_code == 0
    assert json.loads(deleted.stdout)["chunks_deleted"] >= 1
    assert not any(k.startswith("handbook.md#") for k in stored(raw_index(), "acme"))
    nothing = run("delete-doc", "--tenant", "acme", "--index", "ingest-cli", "handbook.md")
    assert nothing.exit_code == 1 and "no document 'handbook.md'" in nothing.stderr
    assert "nothing was deleted" in nothing.stderr


def test_sync_removes_a_deleted_file(home: Path, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("alpha document")
    (tmp_path / "b.md").write_text("beta document")
    assert run("ingest", "-t", "globex", "-i", "ingest-cli", str(tmp_path)).exit_code == 0
    (tmp_path / "b.md").unlink()
    result = run("ingest", "-t", "globex", "-i", "ingest-cli", "--sync", "--json", str(tmp_path))
    assert json.loads(result.stdout)["documents_deleted"] == 1
    assert set(stored(raw_index(), "globex")) == {"a.md#0"}


def test_failed_documents_exit_1_after_the_summary(home: Path, tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("fine")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    result = run("ingest", "-t", "acme", "-i", "ingest-cli", "--json", str(tmp_path))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert "not UTF-8" in data["failed"]["bad.txt"] and data["documents_written"] == 1
    assert "run the same command again" in result.stderr


@pytest.mark.parametrize("tenant", ["", "__default__"])
def test_invalid_tenant_is_refused_before_any_work(home: Path, tenant: str) -> None:
    result = run("ingest", "--tenant", tenant, "--index", "ingest-cli", str(sample_corpus()))
    assert result.exit_code == 1 and "error" in result.stderr
    assert run("delete-doc", "--tenant", tenant, "x").exit_code == 1


def test_missing_path_and_missing_index_are_clear_errors(home: Path, tmp_path: Path) -> None:
    missing = run("ingest", "-t", "acme", "-i", "ingest-cli", str(tmp_path / "nope"))
    assert missing.exit_code != 0 and "does not exist" in missing.stderr
    no_index = run("delete-doc", "-t", "acme", "-i", "no-such-index", "doc.md")
    assert no_index.exit_code == 1 and "does not exist" in no_index.stderr
