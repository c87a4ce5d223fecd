"""Export and import of a tenant against the embedded server with the real SDK.

The issue's "done when": an export imported into a fresh index reproduces the
tenant exactly (ids, values within float32 precision, metadata), in both
isolation modes and across them; bad input (a manifest that does not match, a
truncated file, a bad tenant id, a destination that exists, an altered file)
gets an error naming the fix and leaves nothing in the destination.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from tenant_rag.connection import ensure_index
from tenant_rag.errors import (
    CorruptExportError,
    DestinationNotEmptyError,
    IndexMismatchError,
    InvalidTenantError,
    PortabilityError,
    TenantIsolationError,
    TransferVerificationError,
)
from tenant_rag.lifecycle import export_tenant, import_tenant
from tenant_rag.lifecycle.portability import Manifest
from tenant_rag.lifecycle.portability.checksum import Checksum, canonical_metadata
from tenant_rag.tenancy import PinnedIndex

DIM = 8


def records(tenant: str, n: int, *, seed: int = 0, sparse: bool = False) -> list[dict[str, Any]]:
    """``n`` records with varied metadata: strings, ints, floats, booleans, string lists, unicode."""
    rng = random.Random(f"{tenant}-{seed}")
    out = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"doc-{i:05d}#{i % 3}",
            "values": [rng.uniform(-1, 1) for _ in range(DIM)],
            "metadata": {
                "text": f"{tenant} chunk {i} — ünïcode ✓",
                "chunk": i % 7,
                "score": rng.random(),
                "public": i % 2 == 0,
                "tags": ["a", f"t{i % 4}"],
            },
        }
        if i % 11 == 0:
            rec.pop("metadata")  # a record without metadata
        if sparse:
            rec["sparse_values"] = {"indices": [1, 7 + i], "values": [0.5, rng.random()]}
        out.append(rec)
    return out


def seed(index: Any, tenant: str, n: int, *, isolation: str = "namespace", **kw: Any) -> list:
    recs = records(tenant, n, **kw)
    PinnedIndex(index, tenant, isolation=isolation).upsert(recs, batch_size=100)  # type: ignore[arg-type]
    return recs


def snapshot(index: Any, tenant: str, isolation: str = "namespace") -> dict[str, Any]:
    """Every record of the tenant as the tenant sees it: {id: (values as float32, metadata, sparse)}."""
    pinned = PinnedIndex(index, tenant, isolation=isolation)  # type: ignore[arg-type]
    ids = list(pinned.list_ids())
    out = {}
    for start in range(0, len(ids), 200):
        for rid, rec in pinned.fetch(ids[start : start + 200]).items():
            out[rid] = (
                np.asarray(rec.values, dtype=np.float32).tobytes(),
                json.loads(canonical_metadata(rec.metadata)),
                rec.sparse_values,
            )
    return out


@pytest.mark.parametrize(
    ("src_isolation", "dst_isolation"),
    [
        ("namespace", "namespace"),
        ("metadata", "metadata"),
        ("namespace", "metadata"),
        ("metadata", "namespace"),
    ],
)
def test_round_trip_reproduces_the_tenant_exactly(
    new_index: Any, tmp_path: Path, src_isolation: str, dst_isolation: str
) -> None:
    src, dst = new_index("exp"), new_index("imp")
    seed(src, "acme", 1234, isolation=src_isolation)
    seed(src, "globex", 50, isolation=src_isolation)  # a neighbour that must not leak
    report = export_tenant(src, "acme", tmp_path / "out", isolation=src_isolation)  # type: ignore[arg-type]
    assert report.records == 1234

    imported = import_tenant(dst, "acme", tmp_path / "out", isolation=dst_isolation)  # type: ignore[arg-type]
    assert imported.verified and imported.written == 1234
    assert imported.destination_count == 1234
    assert snapshot(dst, "acme", dst_isolation) == snapshot(src, "acme", src_isolation)
    assert PinnedIndex(dst, "globex", isolation=dst_isolation).count() == 0  # type: ignore[arg-type]


def test_export_layout_is_what_pinecone_bulk_import_reads(new_index: Any, tmp_path: Path) -> None:
    ix = new_index("layout")
    recs = seed(ix, "acme", 300, sparse=True)
    export_tenant(ix, "acme", tmp_path / "out", records_per_file=120, page_size=60)

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["tenant"] == "acme" and manifest["directory"] == "acme"
    assert manifest["source"]["dimension"] == DIM and manifest["source"]["metric"] == "cosine"
    assert manifest["source"]["isolation"] == "namespace"
    assert manifest["record_count"] == 300 and manifest["sorted_ids"] is True
    assert manifest["checksum"]["algorithm"] == "tenant-rag-set-sha256/1"
    assert manifest["tenant_rag_version"] and manifest["created_at"]
    files = sorted((tmp_path / "out" / "acme").glob("*.parquet"))
    assert [f.name for f in files] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert [f["records"] for f in manifest["files"]] == [120, 120, 60]

    table = pq.read_table(tmp_path / "out" / "acme")
    assert table.schema.names == ["id", "values", "sparse_values", "metadata"]
    assert str(table.schema.field("id").type) == "string"
    assert str(table.schema.field("values").type) == "list<element: float>"
    assert str(table.schema.field("metadata").type) == "string"
    rows = {r["id"]: r for r in table.to_pylist()}
    for rec in recs:
        row = rows[rec["id"]]
        assert np.allclose(row["values"], rec["values"], atol=1e-7)
        md = json.loads(row["metadata"]) if row["metadata"] else None
        assert md == rec.get("metadata")
        assert row["sparse_values"]["indices"] == rec["sparse_values"]["indices"]


def test_export_writes_the_metadata_as_rest_returns_it(
    new_index: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export fetches over REST even from a server that serves gRPC (the session's
    does): a metadata number keeps its spelling in the file (``3``; a gRPC `Struct` would
    give ``3.0`` back), and the values are the float32 the index stores."""
    from tenant_rag.ingestion.grpc_fetch import GrpcFetcher

    def refuse(self: GrpcFetcher, **kw: Any) -> Any:
        raise AssertionError("the export fetched over gRPC")

    monkeypatch.setattr(GrpcFetcher, "fetch_float32", refuse)
    ix = new_index("rest")
    recs = seed(ix, "acme", 40)
    export_tenant(ix, "acme", tmp_path / "out")

    rows = {r["id"]: r for r in pq.read_table(tmp_path / "out" / "acme").to_pylist()}
    assert len(rows) == 40
    for rec in recs:
        row = rows[rec["id"]]
        stored = np.asarray(rec["values"], dtype=np.float32)
        assert np.array_equal(np.asarray(row["values"], dtype=np.float32), stored)
        if "metadata" in rec:
            assert re.search(rf'"chunk":{rec["metadata"]["chunk"]}[,}}]', row["metadata"])
            assert json.loads(row["metadata"]) == rec["metadata"]
        else:
            assert row["metadata"] is None


def test_pages_of_float32_rows_become_the_same_row_groups_as_float_lists() -> None:
    """A page fetched as float32 rows (the export's) is written as the same Parquet table as
    the same records with their values as Python floats, rows of one length or not, and is
    read back as the same values (the row lengths taken from the offsets)."""
    from tenant_rag.lifecycle.portability.parquet import dense_matrix, page_table, table_records
    from tenant_rag.tenancy.pinned import Record

    rng = np.random.default_rng(3)
    for lengths in ([4, 4, 4], [4, 2, 0, 3]):
        rows = [rng.standard_normal(n).astype(np.float32) for n in lengths]
        md: dict[str, Any] = {"n": 3}
        as_rows = [Record(f"r{i}", row, md) for i, row in enumerate(rows)]  # type: ignore[arg-type]
        as_lists = [Record(f"r{i}", row.tolist(), md) for i, row in enumerate(rows)]
        table = page_table(as_rows, dense_matrix(as_rows, 4))
        assert table.equals(page_table(as_lists, dense_matrix(as_lists, 4)))
        back = table_records(table.slice(1), set(table.schema.names))  # a slice: offsets != 0
        assert [list(r["values"]) for r in back.records] == [row.tolist() for row in rows[1:]]
        assert (back.matrix is not None) == (len(set(lengths)) == 1)


def test_checksum_does_not_depend_on_order_or_number_spelling() -> None:
    a, b = Checksum(), Checksum()
    a.add_record("x", [0.1, 0.2], None, {"n": 3, "t": "s"})
    a.add_record("y", [0.3, 0.4], None, None)
    b.add_record("y", np.asarray([0.3, 0.4], dtype=np.float32), None, {})
    b.add_record("x", [0.10000000149011612, 0.2], None, {"t": "s", "n": 3.0})
    assert a == b and a.hexdigest == b.hexdigest
    c = Checksum()
    c.add_record("x", [0.1, 0.2], None, {"n": 4, "t": "s"})
    c.add_record("y", [0.3, 0.4], None, None)
    assert c != a


def test_export_is_streamed_page_by_page(new_index: Any, tmp_path: Path) -> None:
    """The exporter holds one page: each row group is one fetch of at most 1,000 ids."""
    ix = new_index("stream")
    seed(ix, "acme", 2500)
    export_tenant(ix, "acme", tmp_path / "out", page_size=400)
    pf = pq.ParquetFile(next((tmp_path / "out" / "acme").glob("*.parquet")))
    sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)]
    assert sizes == [400] * 6 + [100]


def test_import_resumes_and_a_rerun_is_idempotent(new_index: Any, tmp_path: Path) -> None:
    src, dst = new_index("exp"), new_index("imp")
    seed(src, "acme", 500)
    export_tenant(src, "acme", tmp_path / "out")
    first = import_tenant(dst, "acme", tmp_path / "out", journal_dir=tmp_path / "j")
    again = import_tenant(dst, "acme", tmp_path / "out", journal_dir=tmp_path / "j")
    assert first.verified and again.verified and again.written == 0 and again.resumed
    assert PinnedIndex(dst, "acme").count() == 500


class _Crash(BaseException):
    """Stands for a kill: no ``except Exception`` cleanup runs."""


def test_a_resumed_import_reads_back_what_it_wrote_before_the_crash(
    new_index: Any, tmp_path: Path
) -> None:
    """The rerun does not write the first row group again, but it reads it back: a record of
    it changed behind the import's back fails the verification, named."""
    src, dst = new_index("exp"), new_index("imp")
    seed(src, "acme", 900)
    # three files of one row group each: the journal is saved at the end of every file
    export_tenant(src, "acme", tmp_path / "out", page_size=300, records_per_file=300)

    def crash(done: int, total: int | None) -> None:
        raise _Crash  # right after the first row group was written and journaled

    with pytest.raises(_Crash):
        import_tenant(dst, "acme", tmp_path / "out", journal_dir=tmp_path / "j", progress=crash)
    # the journal says the first row group; the two after it were in flight (two upserts at a
    # time) and may have landed too: the rerun writes them again, not the first
    assert 300 <= PinnedIndex(dst, "acme").count() <= 900
    PinnedIndex(dst, "acme").upsert([("doc-00005#2", [0.25] * DIM)])  # in the first row group

    with pytest.raises(TransferVerificationError, match=r"1 of its 900 records.*'doc-00005#2'"):
        import_tenant(dst, "acme", tmp_path / "out", journal_dir=tmp_path / "j", settle=0.2)

    again = import_tenant(dst, "acme", tmp_path / "out", journal_dir=tmp_path / "j")
    assert again.verified and again.resumed  # the rerun rewrites it (a fresh import)
    assert snapshot(dst, "acme") == snapshot(src, "acme")


def test_merge_keeps_other_records_and_replace_removes_them(new_index: Any, tmp_path: Path) -> None:
    src, dst = new_index("exp"), new_index("imp")
    seed(src, "acme", 200)
    export_tenant(src, "acme", tmp_path / "out")
    PinnedIndex(dst, "acme").upsert(
        [("extra-1", [0.5] * DIM, {"text": "mine"}), ("doc-00000#0", [0.1] * DIM)]
    )

    with pytest.raises(DestinationNotEmptyError, match="on_existing='merge'"):
        import_tenant(dst, "acme", tmp_path / "out")
    assert PinnedIndex(dst, "acme").count() == 2  # refused before writing anything

    merged = import_tenant(dst, "acme", tmp_path / "out", on_existing="merge")
    assert merged.verified and PinnedIndex(dst, "acme").count() == 201
    assert snapshot(dst, "acme")["doc-00000#0"] == snapshot(src, "acme")["doc-00000#0"]

    replaced = import_tenant(dst, "acme", tmp_path / "out", on_existing="replace")
    assert replaced.verified and replaced.pruned == 1
    assert snapshot(dst, "acme") == snapshot(src, "acme")


# -- bad input: a clear error, nothing partial in the destination ------------------------------


@pytest.fixture
def exported(new_index: Any, tmp_path: Path) -> tuple[Any, Path]:
    src = new_index("bad")
    seed(src, "acme", 300)
    export_tenant(src, "acme", tmp_path / "out")
    return src, tmp_path / "out"


def _nothing_written(index: Any, tenant: str = "acme") -> None:
    assert PinnedIndex(index, tenant).count() == 0
    assert list(PinnedIndex(index, tenant).list_ids()) == []


def test_dimension_mismatch_names_the_fix(exported: tuple[Any, Path], pc: Any) -> None:
    _, out = exported
    wide = ensure_index(pc, "bad-wide-16", dimension=16)
    with pytest.raises(IndexMismatchError, match="dimension 16.*reembed_tenant"):
        import_tenant(wide, "acme", out)
    _nothing_written(wide)


def test_metric_mismatch_names_the_fix(exported: tuple[Any, Path], pc: Any) -> None:
    _, out = exported
    dot = ensure_index(pc, "bad-dot", dimension=DIM, metric="dotproduct")
    with pytest.raises(IndexMismatchError, match="metric='cosine'"):
        import_tenant(dot, "acme", out)
    _nothing_written(dot)


def test_manifest_checksum_that_does_not_match_is_refused_and_rolled_back(
    exported: tuple[Any, Path], new_index: Any
) -> None:
    _, out = exported
    path = out / "manifest.json"
    raw = json.loads(path.read_text())
    raw["checksum"]["value"] = "0" * 64
    path.write_text(json.dumps(raw))
    dst = new_index("bad")
    with pytest.raises(CorruptExportError, match="the manifest was edited"):
        import_tenant(dst, "acme", out)
    _nothing_written(dst)


def test_manifest_edited_record_count_is_refused(
    exported: tuple[Any, Path], new_index: Any
) -> None:
    _, out = exported
    path = out / "manifest.json"
    raw = json.loads(path.read_text())
    raw["record_count"] = 301
    path.write_text(json.dumps(raw))
    dst = new_index("bad")
    with pytest.raises(CorruptExportError, match="record_count=301"):
        import_tenant(dst, "acme", out)
    _nothing_written(dst)


def test_truncated_parquet_file_is_refused_before_writing(
    exported: tuple[Any, Path], new_index: Any
) -> None:
    _, out = exported
    part = next((out / "acme").glob("*.parquet"))
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    dst = new_index("bad")
    with pytest.raises(CorruptExportError, match="truncated or altered"):
        import_tenant(dst, "acme", out)
    _nothing_written(dst)


def test_altered_parquet_file_is_refused_before_writing(
    exported: tuple[Any, Path], new_index: Any
) -> None:
    _, out = exported
    part = next((out / "acme").glob("*.parquet"))
    data = bytearray(part.read_bytes())
    data[100] ^= 0xFF  # same size, different bytes
    part.write_bytes(bytes(data))
    dst = new_index("bad")
    with pytest.raises(CorruptExportError, match="SHA-256"):
        import_tenant(dst, "acme", out)
    _nothing_written(dst)


def test_missing_manifest_is_refused(exported: tuple[Any, Path], new_index: Any) -> None:
    _, out = exported
    (out / "manifest.json").unlink()
    dst = new_index("bad")
    with pytest.raises(CorruptExportError, match="manifest is written last"):
        import_tenant(dst, "acme", out)
    _nothing_written(dst)


@pytest.mark.parametrize("bad", ["", "__default__", " acme", "ümlaut", "tenant-shared"])
def test_invalid_tenant_ids_are_refused(
    exported: tuple[Any, Path], new_index: Any, bad: str
) -> None:
    src, out = exported
    dst = new_index("bad")
    with pytest.raises(InvalidTenantError):
        import_tenant(dst, bad, out)
    with pytest.raises(InvalidTenantError):
        export_tenant(src, bad, out.parent / "other")
    assert not (out.parent / "other").exists()


def test_export_refuses_to_overwrite_unless_asked(exported: tuple[Any, Path]) -> None:
    src, out = exported
    before = (out / "manifest.json").read_text()
    with pytest.raises(PortabilityError, match="overwrite=True"):
        export_tenant(src, "acme", out)
    assert (out / "manifest.json").read_text() == before
    again = export_tenant(src, "acme", out, overwrite=True)
    assert again.records == 300 and Manifest.read(out).record_count == 300
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no leftovers


def test_a_metadata_tenant_field_that_names_another_tenant_is_refused(
    new_index: Any, tmp_path: Path
) -> None:
    """An export whose metadata carries tenant_id of another tenant cannot be imported under
    metadata isolation as this tenant: the pin is never widened; nothing is left behind."""
    src, dst = new_index("exp"), new_index("imp")
    PinnedIndex(src, "acme").upsert([("a", [0.1] * DIM, {"tenant_id": "globex"})])
    export_tenant(src, "acme", tmp_path / "out")
    with pytest.raises(TenantIsolationError):
        import_tenant(dst, "acme", tmp_path / "out", isolation="metadata")
    assert PinnedIndex(dst, "acme", isolation="metadata").count() == 0
    assert PinnedIndex(dst, "globex", isolation="metadata").count() == 0


def test_manifest_records_the_embedding_model_of_the_index(pc: Any, tmp_path: Path) -> None:
    """The index's ``embedding_model`` tag (what ensure_index records) goes into the manifest."""
    ix = ensure_index(pc, "tagged-export", dimension=DIM, tags={"embedding_model": "minilm-l6"})
    seed(ix, "acme", 3)
    assert export_tenant(ix, "acme", tmp_path / "a", pc=pc).manifest.embedding_model == "minilm-l6"
    assert export_tenant(ix, "acme", tmp_path / "b").manifest.embedding_model is None
    named = export_tenant(ix, "acme", tmp_path / "c", embedding_model="other")
    assert (
        Manifest.read(tmp_path / "c").embedding_model == named.manifest.embedding_model == "other"
    )


def test_tenant_operations_do_not_ask_for_the_stats_of_every_namespace(
    new_index: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``describe_index_stats`` names every namespace of the index (through SDK 7.x/8.x about
    3 s at 100,000 tenants), so a one-tenant operation on an `ensure_index` handle takes the
    dimension and metric from the handle instead."""
    from tenant_rag.lifecycle import copy_tenant, erase

    src, dst, other = new_index("shape"), new_index("shape"), new_index("shape")
    seed(src, "acme", 60)
    asked: list[str] = []
    for handle in (src, dst, other):
        real = handle.describe_index_stats

        def spy(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            asked.append("describe_index_stats")
            return _real(*args, **kwargs)

        monkeypatch.setattr(handle, "describe_index_stats", spy)

    export_tenant(src, "acme", tmp_path / "out")
    import_tenant(dst, "acme", tmp_path / "out", journal_dir=tmp_path / "j")
    copy_tenant(src, other, "acme")
    receipt = erase(dst, "acme", filter={"chunk": 3})

    assert receipt.verified and receipt.indexes[0].deleted > 0
    assert snapshot(other, "acme") == snapshot(src, "acme")
    assert asked == []
