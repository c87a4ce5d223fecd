"""ingest / delete_document on the embedded server with the real SDK: idempotency, changes, sync,
prefix exactness, tenants side by side, and documents that cannot be ingested."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_text_splitters import CharacterTextSplitter

from tenant_rag.errors import IngestError, InvalidTenantError
from tenant_rag.ingestion import delete_document, ingest
from tenant_rag.models.hashing import HashingTestEmbeddings

from .conftest import WriteCounter, paragraphs, stored, write_files

SMALL = {"chunk_size": 200, "chunk_overlap": 20, "progress": False}


def corpus(tmp_path: Path) -> Path:
    return write_files(
        tmp_path / "docs",
        {
            "handbook.md": paragraphs("vacation", 6),
            "faq.txt": paragraphs("warranty", 3),
            "sub/policy.md": "Short policy: badges are required at all times.",
        },
    )


def test_first_run_writes_every_chunk_with_stable_ids_and_metadata(
    index: Any, emb: Any, tmp_path: Path
) -> None:
    report = ingest(index, "acme", [corpus(tmp_path)], embedding=emb, **SMALL)
    records = stored(index, "acme")
    assert report.documents_written == 3 and report.ok
    assert report.chunks_upserted == len(records)
    handbook = sorted(int(r.split("#")[1]) for r in records if r.startswith("handbook.md#"))
    assert handbook == list(range(len(handbook))) and len(handbook) >= 6
    md = records["sub/policy.md#0"]["metadata"]
    assert md["doc_id"] == "sub/policy.md"
    assert md["chunk"] == 0
    assert md["source"] == "sub/policy.md"
    assert md["text"] == "Short policy: badges are required at all times."
    assert len(md["content_hash"]) == 32
    hashes = {r["metadata"]["content_hash"] for k, r in records.items() if k.startswith("faq.txt#")}
    assert len(hashes) == 1  # the hash is the whole document's, on every chunk


def test_second_run_writes_nothing_and_keeps_the_same_records(
    index: Any, emb: Any, tmp_path: Path, writes: WriteCounter
) -> None:
    docs = corpus(tmp_path)
    ingest(index, "acme", [docs], embedding=emb, **SMALL)
    before = stored(index, "acme")
    writes.reset()
    again = ingest(index, "acme", [docs], embedding=emb, **SMALL)
    assert again.documents_unchanged == 3
    assert again.documents_written == again.chunks_upserted == again.chunks_deleted == 0
    assert writes.upserted == {} and writes.deleted == {}
    assert stored(index, "acme") == before


def test_changed_document_is_replaced_and_its_surplus_chunks_deleted(
    index: Any, emb: Any, tmp_path: Path
) -> None:
    docs = corpus(tmp_path)
    ingest(index, "acme", [docs], embedding=emb, **SMALL)
    untouched = {k: v for k, v in stored(index, "acme").items() if not k.startswith("handbook")}
    (docs / "handbook.md").write_text(paragraphs("holiday", 2))
    report = ingest(index, "acme", [docs], embedding=emb, **SMALL)
    assert report.documents_written == 1 and report.documents_unchanged == 2
    records = stored(index, "acme")
    handbook = {k: v for k, v in records.items() if k.startswith("handbook.md#")}
    assert sorted(handbook) == [f"handbook.md#{n}" for n in range(len(handbook))]
    assert all("holiday" in v["metadata"]["text"] for v in handbook.values())
    assert not any("vacation" in v["metadata"]["text"] for v in records.values())
    assert {k: v for k, v in records.items() if not k.startswith("handbook")} == untouched
    # growing again adds chunks back, with no gaps
    (docs / "handbook.md").write_text(paragraphs("leave", 8))
    ingest(index, "acme", [docs], embedding=emb, **SMALL)
    grown = sorted(k for k in stored(index, "acme") if k.startswith("handbook.md#"))
    assert len(grown) >= 8 and grown == sorted(f"handbook.md#{n}" for n in range(len(grown)))


def test_changed_splitter_or_embedding_reingests(index: Any, emb: Any, tmp_path: Path) -> None:
    docs = corpus(tmp_path)
    ingest(index, "acme", [docs], embedding=emb, **SMALL)
    other = ingest(index, "acme", [docs], embedding=emb, chunk_size=300, progress=False)
    assert other.documents_written == 3
    custom = CharacterTextSplitter(separator="\n\n", chunk_size=300, chunk_overlap=0)
    assert ingest(index, "acme", [docs], embedding=emb, splitter=custom).documents_written == 3
    assert ingest(index, "acme", [docs], embedding=emb, splitter=custom).documents_written == 0
    emb32 = HashingTestEmbeddings(dimension=64)
    emb32.model_name = "another-model"
    assert ingest(index, "acme", [docs], embedding=emb32, splitter=custom).documents_written == 3


def test_sync_deletes_documents_gone_from_the_source(index: Any, emb: Any, tmp_path: Path) -> None:
    docs = corpus(tmp_path)
    ingest(index, "acme", [docs], embedding=emb, **SMALL)
    (docs / "faq.txt").unlink()
    plain = ingest(index, "acme", [docs], embedding=emb, **SMALL)
    assert plain.documents_deleted == 0
    assert any(k.startswith("faq.txt#") for k in stored(index, "acme"))
    synced = ingest(index, "acme", [docs], embedding=emb, sync=True, **SMALL)
    assert synced.documents_deleted == 1 and synced.documents_unchanged == 2
    assert not any(k.startswith("faq.txt#") for k in stored(index, "acme"))


def test_sync_keeps_documents_that_failed_to_load(index: Any, emb: Any, tmp_path: Path) -> None:
    docs = corpus(tmp_path)
    ingest(index, "acme", [docs], embedding=emb, **SMALL)
    (docs / "faq.txt").write_bytes(b"\xff\xfe not utf-8 \xff")
    report = ingest(index, "acme", [docs], embedding=emb, sync=True, **SMALL)
    assert "faq.txt" in report.failed and report.documents_deleted == 0
    assert any(k.startswith("faq.txt#") for k in stored(index, "acme"))


def test_sync_with_no_documents_is_refused(index: Any, emb: Any, tmp_path: Path) -> None:
    ingest(index, "acme", [corpus(tmp_path)], embedding=emb, **SMALL)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match="would delete every document"):
        ingest(index, "acme", [empty], embedding=emb, sync=True, **SMALL)
    assert len(stored(index, "acme")) > 3


def test_missing_path_fails_before_any_write(index: Any, emb: Any, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ingest(index, "acme", [corpus(tmp_path), tmp_path / "nope"], embedding=emb, **SMALL)
    assert stored(index, "acme") == {}


def test_delete_document_doc1_leaves_doc10_intact(index: Any, emb: Any) -> None:
    records = [
        ("doc1", paragraphs("one", 3)),
        ("doc10", paragraphs("ten", 3)),
        ("doc1#x", paragraphs("hash", 2)),  # a document id that itself contains '#'
        ("doc100", "hundred"),
    ]
    ingest(index, "acme", records, embedding=emb, **SMALL)
    before = stored(index, "acme")
    deleted = delete_document(index, "acme", "doc1")
    after = stored(index, "acme")
    assert deleted == sum(1 for k in before if k.rpartition("#")[0] == "doc1")
    assert {k.rpartition("#")[0] for k in after} == {"doc10", "doc1#x", "doc100"}
    assert {k: v for k, v in before.items() if k.rpartition("#")[0] != "doc1"} == after
    assert delete_document(index, "acme", "doc1") == 0


def test_changing_doc1_never_touches_doc10_or_doc1_hash_x(index: Any, emb: Any) -> None:
    ingest(
        index,
        "acme",
        [("doc1", paragraphs("one", 5)), ("doc10", paragraphs("ten", 5)), ("doc1#x", "x")],
        embedding=emb,
        **SMALL,
    )
    others = {k: v for k, v in stored(index, "acme").items() if k.rpartition("#")[0] != "doc1"}
    report = ingest(index, "acme", [("doc1", "now a single chunk")], embedding=emb, **SMALL)
    assert report.documents_written == 1
    after = stored(index, "acme")
    assert {k for k in after if k.rpartition("#")[0] == "doc1"} == {"doc1#0"}
    assert {k: v for k, v in after.items() if k.rpartition("#")[0] != "doc1"} == others


def test_sync_with_hash_in_doc_ids(index: Any, emb: Any) -> None:
    ingest(index, "acme", [("a", "alpha"), ("a#b", "beta"), ("a#b#c", "gamma")], embedding=emb)
    report = ingest(index, "acme", [("a#b", "beta")], embedding=emb, sync=True, progress=False)
    assert report.documents_deleted == 2 and report.documents_unchanged == 1
    assert set(stored(index, "acme")) == {"a#b#0"}


def test_two_tenants_with_the_same_files_stay_apart(index: Any, emb: Any, tmp_path: Path) -> None:
    docs = corpus(tmp_path)
    a = ingest(index, "acme", [docs], embedding=emb, **SMALL)
    g = ingest(index, "globex", [docs], embedding=emb, **SMALL)
    assert a.documents_written == g.documents_written == 3
    assert set(stored(index, "acme")) == set(stored(index, "globex"))
    delete_document(index, "globex", "handbook.md")
    (docs / "faq.txt").unlink()
    synced = ingest(index, "globex", [docs], embedding=emb, sync=True, **SMALL)
    assert (
        synced.documents_written == 1 and synced.documents_deleted == 1
    )  # handbook back, faq gone
    assert set(stored(index, "acme")) == set(stored(index, "globex")) | {
        k for k in stored(index, "acme") if k.startswith("faq.txt#")
    }
    assert not any(k.startswith("faq.txt#") for k in stored(index, "globex"))
    # acme's records are still current: a re-run writes nothing
    (docs / "faq.txt").write_text(paragraphs("warranty", 3))
    assert ingest(index, "acme", [docs], embedding=emb, **SMALL).documents_unchanged == 3


def test_metadata_isolation_shares_one_namespace_without_collisions(
    index: Any, emb: Any, tmp_path: Path
) -> None:
    docs = corpus(tmp_path)
    for tenant in ("acme", "globex"):
        r = ingest(index, tenant, [docs], embedding=emb, isolation="metadata", **SMALL)
        assert r.documents_written == 3 and r.namespace == "tenant-shared"
    shared = stored(index, "tenant-shared")
    assert {k.split("::")[0] for k in shared} == {"acme", "globex"}
    assert all(v["metadata"]["tenant_id"] == k.split("::")[0] for k, v in shared.items())
    again = ingest(index, "acme", [docs], embedding=emb, isolation="metadata", **SMALL)
    assert again.documents_unchanged == 3
    n = delete_document(index, "acme", "handbook.md", isolation="metadata")
    assert n > 0
    assert any(k.startswith("globex::handbook.md#") for k in stored(index, "tenant-shared"))


@pytest.mark.parametrize("tenant", ["", "__default__", None])
def test_missing_or_default_tenant_is_refused(index: Any, emb: Any, tenant: Any) -> None:
    with pytest.raises((InvalidTenantError, TypeError)):
        ingest(index, tenant, [("a", "text")], embedding=emb, progress=False)
    with pytest.raises((InvalidTenantError, TypeError)):
        delete_document(index, tenant, "a")


def test_metadata_too_large_fails_that_document_only(index: Any, emb: Any) -> None:
    huge = {"notes": "x" * 45_000}
    report = ingest(
        index,
        "acme",
        [("big", "some text", huge), ("fine", "other text", {"lang": "en"})],
        embedding=emb,
        progress=False,
    )
    assert set(report.failed) == {"big"}
    assert "'big'" in report.failed["big"] and "40 KB" in report.failed["big"]
    assert report.documents_written == 1
    assert set(stored(index, "acme")) == {"fine#0"}
    assert stored(index, "acme")["fine#0"]["metadata"]["lang"] == "en"


def test_a_chunk_too_big_for_metadata_names_the_document(index: Any, emb: Any) -> None:
    from langchain_text_splitters import CharacterTextSplitter

    never_split = CharacterTextSplitter(separator="\x00", chunk_size=10**9, chunk_overlap=0)
    report = ingest(
        index,
        "acme",
        [("wall-of-text", "word " * 12_000), ("small", "ok")],
        embedding=emb,
        splitter=never_split,
        progress=False,
    )
    assert "wall-of-text" in report.failed and "smaller chunk_size" in report.failed["wall-of-text"]
    assert set(stored(index, "acme")) == {"small#0"}


def test_empty_binary_and_non_utf8_files_are_counted(index: Any, emb: Any, tmp_path: Path) -> None:
    docs = write_files(
        tmp_path / "mixed",
        {
            "good.md": "Fine text.",
            "empty.txt": "",
            "blank.md": "  \n\n ",
            "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "latin1.txt": "caf\xe9".encode("latin-1"),
            "ignored.png": b"\x89PNG",
        },
    )
    report = ingest(index, "acme", [docs], embedding=emb, progress=False)
    assert report.documents_seen == 6  # ignored.png too: counted, never silently dropped
    assert report.documents_written == 1
    assert set(report.skipped) == {"empty.txt", "blank.md", "ignored.png"}
    assert "unsupported file type '.png'" in report.skipped["ignored.png"]
    assert "binary" in report.failed["image.txt"]
    assert "not UTF-8" in report.failed["latin1.txt"]
    assert set(stored(index, "acme")) == {"good.md#0"}
    # neither failure can pass by running again: the report says to fix them
    assert report.retryable == [] and "fix what each failure names" in report.next_step()
    explicit = ingest(index, "acme", [docs / "ignored.png"], embedding=emb, progress=False)
    assert "unsupported file type" in explicit.failed["ignored.png"]


def test_sync_over_a_folder_of_only_unsupported_files_deletes_nothing(
    index: Any, emb: Any, tmp_path: Path
) -> None:
    ingest(index, "acme", [("keep", "Acme keeps this document.")], embedding=emb, progress=False)
    junk = write_files(tmp_path / "junk", {"a.bin": b"\x00\x01", "b.png": b"\x89PNG"})
    with pytest.raises(IngestError, match="refusing"):
        ingest(index, "acme", [junk], embedding=emb, sync=True, progress=False)
    assert set(stored(index, "acme")) == {"keep#0"}


def test_documents_and_records_as_sources(index: Any, emb: Any) -> None:
    sources = [
        Document(page_content="from a document", id="d1", metadata={"author": "ann"}),
        Document(page_content="id from metadata", metadata={"doc_id": "d2"}),
        Document(page_content="no id at all"),
        ("r1", "a record", {"tags": ["a", "b"], "nested": {"k": 1}, "none": None}),
        ("r2", "a record without metadata"),
    ]
    report = ingest(index, "acme", sources, embedding=emb, progress=False)
    assert report.documents_written == 4 and list(report.failed) == ["document #3"]
    records = stored(index, "acme")
    assert records["d1#0"]["metadata"]["author"] == "ann"
    md = records["r1#0"]["metadata"]
    assert md["tags"] == ["a", "b"] and md["nested"] == '{"k": 1}' and "none" not in md


def test_duplicate_doc_ids_in_one_run_fail_the_second(index: Any, emb: Any) -> None:
    report = ingest(index, "acme", [("a", "one"), ("a", "two")], embedding=emb, progress=False)
    assert report.documents_written == 1 and "two sources" in report.failed["a"]
    assert stored(index, "acme")["a#0"]["metadata"]["text"] == "one"


def test_non_ascii_doc_ids_are_escaped_in_record_ids(index: Any, emb: Any) -> None:
    ingest(index, "acme", [("café/menü.md", "crème brûlée")], embedding=emb, progress=False)
    records = stored(index, "acme")
    assert list(records) == ["caf%C3%A9/men%C3%BC.md#0"]
    assert records["caf%C3%A9/men%C3%BC.md#0"]["metadata"]["doc_id"] == "café/menü.md"
    assert delete_document(index, "acme", "café/menü.md") == 1


def test_many_documents_small_batches_and_waves(index: Any, emb: Any) -> None:
    records = [(f"doc{i}", paragraphs(f"w{i}", 1 + i % 4)) for i in range(60)]
    report = ingest(
        index, "acme", records, embedding=emb, batch_size=7, wave_chunks=9, writers=3, **SMALL
    )
    assert report.ok and report.documents_written == 60
    assert report.chunks_upserted == len(stored(index, "acme"))
    again = ingest(index, "acme", records, embedding=emb, batch_size=7, **SMALL)
    assert again.documents_unchanged == 60


def test_progress_callback_reports_documents_and_chunks(index: Any, emb: Any) -> None:
    calls: list[tuple[int, int | None, int]] = []
    records = [(f"d{i}", paragraphs("p", 2)) for i in range(5)]
    report = ingest(
        index, "acme", records, embedding=emb, chunk_size=200, progress=lambda *a: calls.append(a)
    )
    assert calls[-1][0] == 5 and calls[-1][1] == 5
    assert max(c[2] for c in calls) == report.chunks_upserted


def test_report_summary_and_dict(index: Any, emb: Any) -> None:
    report = ingest(index, "acme", [("a", "text"), ("b", "")], embedding=emb, progress=False)
    text = str(report)
    assert "1 written" in text and "1 skipped" in text and "skipped b: empty document" in text
    data = report.to_dict()
    assert data["documents_written"] == 1 and data["ok"] is True
    assert data["chunks_per_second"] >= 0


def test_grpc_data_plane_ingests_the_same_records(
    index: Any, emb: Any, tmp_path: Path, shared_local_server: Any
) -> None:
    name = index._tenant_rag_index_name
    grpc_ix = shared_local_server.grpc_index(name)
    docs = corpus(tmp_path)
    report = ingest(grpc_ix, "acme", [docs], embedding=emb, **SMALL)
    assert report.ok and report.documents_written == 3
    ingest(index, "globex", [docs], embedding=emb, **SMALL)
    assert stored(index, "acme") == stored(index, "globex")
    again = ingest(grpc_ix, "acme", [docs], embedding=emb, sync=True, **SMALL)
    assert again.documents_unchanged == 3 and again.chunks_upserted == 0
    assert delete_document(grpc_ix, "acme", "handbook.md") > 0


def test_hash_checks_in_several_groups_find_exactly_the_changed_documents(
    index: Any, emb: Any, writes: WriteCounter
) -> None:
    records = [(f"n{i}", f"note number {i}") for i in range(450)]  # three check groups
    assert ingest(index, "acme", records, embedding=emb, progress=False).documents_written == 450
    records[7] = ("n7", "edited")
    records[333] = ("n333", "edited too")
    writes.reset()
    report = ingest(index, "acme", records, embedding=emb, progress=False)
    assert report.documents_written == 2 and report.documents_unchanged == 448
    assert writes.upserted == {"acme": 2}
    assert stored(index, "acme")["n333#0"]["metadata"]["text"] == "edited too"


def test_writing_on_the_calling_thread_gives_the_same_records(index: Any, emb: Any) -> None:
    records = [(f"doc{i}", paragraphs(f"w{i}", 1 + i % 3)) for i in range(20)]
    ingest(index, "acme", records, embedding=emb, writers=0, wave_chunks=5, **SMALL)
    ingest(index, "globex", records, embedding=emb, writers=2, wave_chunks=5, **SMALL)
    assert stored(index, "acme") == stored(index, "globex")
