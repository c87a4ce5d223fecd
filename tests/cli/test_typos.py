"""Typos fail loudly (issue 12, items 5 and 7): unknown tenants and documents, empty globs;
and ``tenant-rag docs`` lists what a tenant holds."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenant_rag.cli.app import app

from .conftest import seed, without_backend


@pytest.fixture(scope="module", autouse=True)
def seeded(cli_home: Path) -> Any:
    return seed("rag")


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input)


def count(tenant: str) -> int:
    from tenant_rag import PinnedIndex, connect, ensure_index

    return PinnedIndex(ensure_index(connect(), "rag", dimension=64), tenant).count()


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "-t", "acmee", "vacation"],
        ["ask", "-t", "acmee", "How many vacation days?"],
        ["stats", "-t", "acmee"],
        ["docs", "-t", "acmee"],
        ["delete-doc", "-t", "acmee", "handbook.md"],
    ],
    ids=lambda a: a[0],
)
def test_an_unknown_tenant_is_an_error_naming_close_tenants(argv: list[str]) -> None:
    result = run(*argv)
    assert result.exit_code == 1, result.output
    error = without_backend(result.stderr)
    assert error.startswith("error: tenant 'acmee' has no data in index 'rag'")
    assert "Did you mean 'acme'?" in error
    as_json = run(*argv, "--json")
    assert json.loads(as_json.stdout)["type"] == "UnknownTenantError"


def test_no_close_tenant_lists_the_tenants() -> None:
    error = without_backend(run("search", "-t", "zzzzzz", "q").stderr)
    assert "has no data" in error and "acme" in error and "globex" in error


def test_offboard_of_an_unknown_tenant_says_so_and_deletes_nothing() -> None:
    before = count("globex")
    result = run("offboard", "globexx", "--yes")
    assert result.exit_code == 1, result.output
    error = without_backend(result.stderr)
    assert "tenant 'globexx' has no data" in error and "nothing to offboard" in error
    assert "Did you mean 'globex'?" in error
    assert count("globex") == before
    scripted = run("offboard", "globexx", "--yes", "--missing-ok", "--json")
    assert scripted.exit_code == 0, scripted.output
    assert json.loads(scripted.stdout)["deleted"] == 0


def test_delete_doc_of_a_missing_id_lists_close_ids() -> None:
    before = count("acme")
    result = run("delete-doc", "-t", "acme", "handbok.md")
    assert result.exit_code == 1, result.output
    error = without_backend(result.stderr)
    assert "tenant 'acme' has no document 'handbok.md'" in error
    assert "Did you mean 'handbook.md'?" in error
    assert count("acme") == before


def test_a_glob_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("Acme has a real document.")
    result = run("ingest", "-t", "acme", "-i", "globbed", str(tmp_path / "*.markdown"))
    assert result.exit_code == 1, result.output
    assert "matches no file" in without_backend(result.stderr)


def test_docs_lists_ids_chunks_sources_and_when(tmp_path: Path) -> None:
    folder = tmp_path / "wiki"
    folder.mkdir()
    (folder / "long.md").write_text("Acme policy sentence number one. " * 80)  # several chunks
    (folder / "short.txt").write_text("Acme short note.")
    started = int(time.time())
    ingested = run("ingest", "-t", "acme", "-i", "docs-list", "--chunk-size", "500", str(folder))
    assert ingested.exit_code == 0, ingested.output
    data = json.loads(run("docs", "-t", "acme", "-i", "docs-list", "--json").stdout)
    by_id = {d["doc_id"]: d for d in data["documents"]}
    assert set(by_id) == {"long.md", "short.txt"}
    assert by_id["long.md"]["chunks"] > 1 and by_id["short.txt"]["chunks"] == 1
    assert by_id["long.md"]["source"] == "long.md"
    assert started <= by_id["short.txt"]["ingested_at"] <= int(time.time())
    assert by_id["short.txt"]["ingested"].endswith("Z")
    table = run("docs", "-t", "acme", "-i", "docs-list")
    assert table.exit_code == 0
    assert "long.md" in table.stdout and "2 documents" in table.stdout


def test_tenant_table_counts_in_words() -> None:
    from tenant_rag.cli.tenants import tenant_table
    from tenant_rag.lifecycle.tenants import TenantInfo

    one = tenant_table([TenantInfo("acme", "rag", 1)], "rag")
    assert one.caption == "1 tenant, 1 record"
    two = tenant_table([TenantInfo("acme", "rag", 1), TenantInfo("globex", "rag", 2)], "rag")
    assert two.caption == "2 tenants, 3 records"
