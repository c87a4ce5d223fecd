"""A document from another source never silently replaces one (issue 12, item 2).

Two folders both holding ``company.md`` give the same document id. Ingesting
the second folder must not replace the first one's ``company.md`` unnoticed:
``ingest()`` raises `DocumentConflictError` naming both sources (the rest of
the run is written), the CLI exits non-zero saying the same, unless the user
asks to replace (``on_conflict="replace"``, ``--replace``) or keeps both under
an id prefix (``doc_id_prefix="docs2/"``, ``--prefix docs2/``). Re-ingesting
the same source stays an update.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenant_rag.cli._common import TEST_EMBEDDINGS_ENV
from tenant_rag.cli.app import app
from tenant_rag.errors import DocumentConflictError
from tenant_rag.ingestion import ingest

from .conftest import stored


def folders(tmp_path: Path) -> tuple[Path, Path]:
    docs, docs2 = tmp_path / "docs", tmp_path / "docs2"
    for folder, text in ((docs, "Zephyr was founded in 1999."), (docs2, "Zephyr sells kites.")):
        folder.mkdir()
        (folder / "company.md").write_text(text, encoding="utf-8")
    (docs2 / "pricing.md").write_text("Kites cost ten euros.", encoding="utf-8")
    return docs, docs2


def texts(index: Any, tenant: str) -> dict[str, str]:
    return {
        md["metadata"]["doc_id"]: md["metadata"]["text"] for md in stored(index, tenant).values()
    }


def test_a_second_folder_does_not_replace_the_first_ones_document(index, emb, tmp_path) -> None:
    docs, docs2 = folders(tmp_path)
    assert ingest(index, "zephyr", docs, embedding=emb, progress=False).documents_written == 1
    with pytest.raises(DocumentConflictError) as caught:
        ingest(index, "zephyr", docs2, embedding=emb, progress=False)
    message = str(caught.value)
    assert str((docs / "company.md").resolve()) in message
    assert str((docs2 / "company.md").resolve()) in message
    assert "on_conflict='replace'" in message and "doc_id_prefix" in message
    report = caught.value.report
    assert list(report.conflicts) == ["company.md"] and not report.ok
    assert report.documents_written == 1, "the rest of the run (pricing.md) is written"
    assert texts(index, "zephyr") == {
        "company.md": "Zephyr was founded in 1999.",
        "pricing.md": "Kites cost ten euros.",
    }


def test_the_same_source_still_updates(index, emb, tmp_path) -> None:
    docs, _ = folders(tmp_path)
    ingest(index, "zephyr", docs, embedding=emb, progress=False)
    (docs / "company.md").write_text("Zephyr was founded in 2001.", encoding="utf-8")
    report = ingest(index, "zephyr", docs, embedding=emb, progress=False)
    assert report.documents_written == 1 and report.ok and not report.conflicts
    assert texts(index, "zephyr") == {"company.md": "Zephyr was founded in 2001."}
    assert ingest(index, "zephyr", str(docs) + "/", embedding=emb, progress=False).ok


def test_replace_and_prefix_are_the_two_ways_out(index, emb, tmp_path) -> None:
    docs, docs2 = folders(tmp_path)
    ingest(index, "zephyr", docs, embedding=emb, progress=False)
    kept = ingest(index, "zephyr", docs2, embedding=emb, progress=False, doc_id_prefix="docs2/")
    assert kept.ok and kept.documents_written == 2
    assert set(texts(index, "zephyr")) == {"company.md", "docs2/company.md", "docs2/pricing.md"}
    replaced = ingest(index, "zephyr", docs2, embedding=emb, progress=False, on_conflict="replace")
    assert replaced.ok and replaced.documents_written == 2
    assert texts(index, "zephyr")["company.md"] == "Zephyr sells kites."


def test_records_given_in_code_have_no_source_to_conflict_with(index, emb) -> None:
    ingest(index, "zephyr", [("shipping", "Two days.", {})], embedding=emb, progress=False)
    report = ingest(index, "zephyr", [("shipping", "One day.", {})], embedding=emb, progress=False)
    assert report.documents_written == 1 and report.ok


def test_the_cli_refuses_names_both_sources_and_offers_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenant_rag.connection import reset_for_tests

    monkeypatch.setenv("TENANT_RAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(TEST_EMBEDDINGS_ENV, "hashing")
    for var in ("PINECONE_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "TENANT_RAG_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    reset_for_tests()
    docs, docs2 = folders(tmp_path)

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["ingest", "-t", "zephyr", *args])

    assert run(str(docs)).exit_code == 0
    refused = run(str(docs2))
    assert refused.exit_code != 0
    said = refused.stdout + refused.stderr
    assert str((docs / "company.md").resolve()) in said
    assert str((docs2 / "company.md").resolve()) in said
    assert "--replace" in said and "--prefix" in said
    both = run("--prefix", "docs2/", "--json", str(docs2))
    assert both.exit_code == 0, both.stdout + both.stderr
    assert json.loads(both.stdout)["documents_written"] == 2
    replaced = run("--replace", "--json", str(docs2))
    assert replaced.exit_code == 0, replaced.stdout + replaced.stderr
    data = json.loads(replaced.stdout)
    assert (data["documents_written"], data["documents_unchanged"]) == (1, 1)  # pricing.md: same
    reset_for_tests()


def test_one_checkout_cloned_twice_is_one_source(index, emb, tmp_path, monkeypatch) -> None:
    """Origins are relative to the working directory: a re-clone elsewhere is not a conflict."""
    for clone, text in (("ci-run-1", "Zephyr was founded in 1999."), ("ci-run-2", "Founded 2001.")):
        root = tmp_path / clone
        (root / "docs").mkdir(parents=True)
        (root / "docs" / "company.md").write_text(text, encoding="utf-8")
        monkeypatch.chdir(root)
        report = ingest(index, "zephyr", "docs", embedding=emb, progress=False)
        assert report.ok and not report.conflicts, report
    stored_md = [r["metadata"] for r in stored(index, "zephyr").values()]
    assert {md["origin"] for md in stored_md} == {"docs/company.md"}, "no absolute path stored"
    assert texts(index, "zephyr") == {"company.md": "Founded 2001."}


def test_two_folders_under_the_working_directory_still_conflict(
    index, emb, tmp_path, monkeypatch
) -> None:
    docs, docs2 = folders(tmp_path)
    monkeypatch.chdir(tmp_path)
    ingest(index, "zephyr", "docs", embedding=emb, progress=False)
    with pytest.raises(DocumentConflictError) as caught:
        ingest(index, "zephyr", "docs2", embedding=emb, progress=False)
    assert "docs/company.md" in str(caught.value) and "docs2/company.md" in str(caught.value)
    assert texts(index, "zephyr")["company.md"] == "Zephyr was founded in 1999."


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("faq.jsonl", '{"id": "q1", "text": "Zephyr ships in 2 days."}\n'),
        ("faq.json", '[{"id": "q1", "text": "Zephyr ships in 2 days."}]'),
        ("faq.json", '{"text": "Zephyr ships in 2 days."}'),
    ],
)
def test_records_of_a_json_file_cloned_twice_are_one_source(
    index, emb, tmp_path, monkeypatch, name: str, body: str
) -> None:
    """The items of .json/.jsonl files follow the same origin rule as whole files."""
    for clone in ("ci-run-1", "ci-run-2"):
        root = tmp_path / clone
        (root / "docs").mkdir(parents=True)
        (root / "docs" / name).write_text(body, encoding="utf-8")
        monkeypatch.chdir(root)
        report = ingest(index, "zephyr", "docs", embedding=emb, progress=False)
        assert report.ok and not report.conflicts, report
    origins = {r["metadata"]["origin"] for r in stored(index, "zephyr").values()}
    assert origins == {f"docs/{name}"}, "no absolute path stored"
