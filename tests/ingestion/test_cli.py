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
    # a file that can never succeed as it is gets no promise that a re-run will fix it
    assert "run the same command again" not in result.stderr
    assert "fix what each reason names" in result.stderr
    assert data["retryable"] == []


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


def test_unsupported_files_in_a_folder_are_counted(home: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("Acme notes.")
    (tmp_path / "model.bin").write_bytes(b"\x00\x01\x02")
    result = run("ingest", "-t", "acme", "-i", "ingest-cli", "--json", str(tmp_path))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["documents_seen"] == 2 and data["documents_written"] == 1
    assert data["skipped"] == {"model.bin": "unsupported file type '.bin', not ingested"}
    human = run("ingest", "-t", "acme", "-i", "ingest-cli", str(tmp_path))
    assert "model.bin" in human.stdout and "unsupported file type" in human.stdout


def test_pdf_parser_warnings_stay_off_stderr(tmp_path: Path) -> None:
    """pypdf logs oddities of PDFs it can still read; they are not the user's problem."""
    import os
    import re
    import subprocess
    import sys

    from .test_loaders import minimal_pdf

    data = minimal_pdf(["Odd but readable."])
    m = re.search(rb"startxref\n(\d+)\n", data)
    assert m is not None
    odd = data[: m.start()] + f"startxref\n{int(m.group(1)) + 2}\n".encode() + data[m.end() :]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "odd.pdf").write_bytes(odd)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PINECONE_", "OPENAI_"))}
    env.update(TENANT_RAG_HOME=str(tmp_path / "home"), TENANT_RAG_TEST_EMBEDDINGS="hashing")
    exe = Path(sys.executable).with_name("tenant-rag")
    proc = subprocess.run(
        [str(exe), "ingest", "-t", "acme", "--json", str(tmp_path / "docs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["documents_written"] == 1
    assert "pypdf" not in proc.stderr and "startxref" not in proc.stderr, proc.stderr


def test_a_huge_input_is_announced_before_the_run(tmp_path: Path) -> None:
    from tenant_rag.cli.ingest import long_run_warning, measure_input
    from tenant_rag.models import HashingTestEmbeddings, LocalMiniLMEmbeddings

    big = tmp_path / "dump.txt"
    big.write_text("word " * 400_000)  # 2 MB on one line, as in the issue
    (tmp_path / "small.md").write_text("A small note.")
    size = measure_input([str(tmp_path)], None)
    assert (size.files, size.bytes) == (2, 2_000_013)
    warning = long_run_warning(size, LocalMiniLMEmbeddings(), 1000, 150)  # not loaded
    assert warning is not None
    assert "about 2.0 MB of text in 2 files" in warning and "2,353 chunks" in warning
    assert "minutes" in warning and "dump.txt is 2.0 MB without a line break" in warning
    small = measure_input([str(tmp_path / "small.md")], None)
    assert long_run_warning(small, LocalMiniLMEmbeddings(), 1000, 150) is None
    assert long_run_warning(size, HashingTestEmbeddings(), 1000, 150) is None


def test_the_warning_comes_from_the_cli_with_a_remote_model(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.models.openai_fake import fake_openai_server

    (tmp_path / "dump.txt").write_text("word " * 400_000)
    with fake_openai_server() as (url, handler):
        monkeypatch.delenv(TEST_EMBEDDINGS_ENV)
        monkeypatch.setenv("TENANT_RAG_EMBEDDING_BASE_URL", url)
        monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "local-embedder")
        result = run("ingest", "-t", "acme", "-i", "remote-big", "--json", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "warning: about 2.0 MB of text in 1 file, about 2,353 chunks" in result.stderr
    assert "each sent to the embedding service" in result.stderr
    assert json.loads(result.stdout)["chunks_upserted"] == 2353
