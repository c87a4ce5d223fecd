"""A bad record inside an export's Parquet files: the import's fast path refuses it as the
list path does, and under ``on_existing="fail"`` leaves nothing in the destination.

The import writes float32 rows straight from the Parquet buffers, two upsert
requests at a time. These exports are built by hand (a valid manifest, sizes,
SHA-256s and checksum, so every check before writing passes) with the bad
record in the *last* row group, so earlier row groups are written, and some
still in flight, when it is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from tenant_rag.errors import TenantIsolationError
from tenant_rag.ingestion.sdk import lean_handle
from tenant_rag.lifecycle import export_tenant, import_tenant
from tenant_rag.lifecycle.portability import Manifest
from tenant_rag.lifecycle.portability.checksum import Checksum, canonical_metadata
from tenant_rag.lifecycle.portability.parquet import ParquetSink, dense_matrix, page_table
from tenant_rag.tenancy import PinnedIndex
from tenant_rag.tenancy.pinned import Record

DIM = 8
GROUP = 100


def good_records(n: int) -> list[Record]:
    m = np.random.default_rng(3).standard_normal((n, DIM)).astype(np.float32)
    return [
        Record(id=f"doc-{i:05d}#0", values=m[i].tolist(), metadata={"text": f"chunk {i}"})
        for i in range(n)
    ]


def write_export(root: Path, template: Manifest, records: list[Record]) -> Path:
    """``records`` as an export of tenant ``acme`` in row groups of `GROUP`, with a true manifest."""
    sink = ParquetSink(root, "acme")
    total = Checksum()
    for start in range(0, len(records), GROUP):
        page = records[start : start + GROUP]
        matrix = dense_matrix(page, DIM)
        for row, rec in enumerate(page):
            values = matrix[row] if matrix is not None else rec.values
            total.add_record(rec.id, values, rec.sparse_values, canonical_metadata(rec.metadata))
        sink.write(page_table(page, matrix))
    Manifest(
        tenant="acme",
        directory="acme",
        source=template.source,
        record_count=total.count,
        checksum=total.hexdigest,
        files=sink.close(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        tenant_rag_version=template.tenant_rag_version,
        sorted_ids=False,
    ).write(root)
    return root


@pytest.fixture
def template(new_index: Any, tmp_path: Path) -> Manifest:
    """The manifest of a real export from an index like the destinations (dimension, metric)."""
    src = new_index("tpl")
    PinnedIndex(src, "acme").upsert([("a", [0.5] * DIM)])
    export_tenant(src, "acme", tmp_path / "tpl")
    return Manifest.read(tmp_path / "tpl")


def _refusal(exc: BaseException) -> tuple[type, str]:
    """The error as a user sees it: its type and its message (the server's, for a 400)."""
    body = getattr(exc, "body", None)
    if body:
        return type(exc), orjson.loads(body)["message"]
    return type(exc), str(exc)


def _nothing_written(index: Any, isolation: str = "namespace") -> None:
    pinned = PinnedIndex(index, "acme", isolation=isolation)  # type: ignore[arg-type]
    assert pinned.count() == 0
    assert list(pinned.list_ids()) == []


BAD = {
    "empty id": Record(id="", values=[0.25] * DIM, metadata={}),
    "id over 512 characters": Record(id="x" * 600, values=[0.25] * DIM, metadata={}),
    "metadata over 40 KB": Record(id="big#0", values=[0.25] * DIM, metadata={"t": "x" * 41_000}),
}


@pytest.mark.parametrize("what", list(BAD))
def test_a_bad_record_gets_the_list_paths_error_and_nothing_is_left(
    what: str, template: Manifest, new_index: Any, tmp_path: Path
) -> None:
    bad = BAD[what]
    out = write_export(tmp_path / "out", template, [*good_records(5 * GROUP), bad])
    # the error the lean upsert path gives this record with its values as a Python list
    with pytest.raises(Exception) as direct:
        PinnedIndex(lean_handle(new_index("direct")), "acme").upsert([bad.as_upsert()])

    dst = new_index("imp")
    with pytest.raises(Exception) as imported:
        import_tenant(dst, "acme", out, journal_dir=tmp_path / "j")
    assert _refusal(imported.value) == _refusal(direct.value)
    _nothing_written(dst)  # the five good row groups were written, then rolled back


def test_a_foreign_tenant_field_in_a_later_row_group_is_refused(
    template: Manifest, new_index: Any, tmp_path: Path
) -> None:
    """Under metadata isolation a record naming another tenant fails the pin, also from a row."""
    foreign = Record(id="z#0", values=[0.25] * DIM, metadata={"tenant_id": "globex"})
    out = write_export(tmp_path / "out", template, [*good_records(3 * GROUP), foreign])
    dst = new_index("imp")
    with pytest.raises(TenantIsolationError, match="reserved for the tenant id"):
        import_tenant(dst, "acme", out, isolation="metadata", journal_dir=tmp_path / "j")
    _nothing_written(dst, "metadata")
    assert PinnedIndex(dst, "globex", isolation="metadata").count() == 0


def test_a_hand_built_export_of_good_records_imports_exactly(
    template: Manifest, new_index: Any, tmp_path: Path
) -> None:
    """The helper's exports are real ones: the same records in, verified, bit for bit."""
    recs = good_records(3 * GROUP + 7)
    out = write_export(tmp_path / "out", template, recs)
    dst = new_index("imp")
    report = import_tenant(dst, "acme", out, journal_dir=tmp_path / "j")
    assert report.verified and report.written == len(recs)
    got = PinnedIndex(dst, "acme").fetch([r.id for r in recs[:50]])
    for rec in recs[:50]:
        assert np.asarray(got[rec.id].values, np.float32).tobytes() == (
            np.asarray(rec.values, np.float32).tobytes()
        )
