"""Parquet files in the layout Pinecone's bulk import reads, written and read one page at a time.

Pinecone imports every ``.parquet`` file under ``<prefix>/<namespace>/`` into
that namespace, with these columns (docs.pinecone.io, "Import records"):

* ``id`` (string): the record id;
* ``values`` (list of float32): the dense vector;
* ``sparse_values`` (struct of ``indices``: list of uint32, ``values``: list of
  float32), null when a record has none (a dense import ignores the column);
* ``metadata`` (string): the metadata as a JSON object, null when empty.

So an export directory can be copied to object storage and imported into
Pinecone serverless as it is. Each page becomes one row group, so a file is
written and read with one page in memory, and an import can resume at a row
group. Files roll over every ``records_per_file`` records.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tenant_rag.tenancy.pinned import Record

SPARSE_TYPE = pa.struct(
    [pa.field("indices", pa.list_(pa.uint32())), pa.field("values", pa.list_(pa.float32()))]
)
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("values", pa.list_(pa.float32())),
        pa.field("sparse_values", SPARSE_TYPE),
        pa.field("metadata", pa.string()),
    ]
)
#: Records per file before a new one is started.
RECORDS_PER_FILE = 100_000
_HASH_CHUNK = 1 << 20


def dense_matrix(records: list[Record], dimension: int | None) -> np.ndarray | None:
    """The page's values as one float32 matrix, or None when rows differ in length.

    Rows fetched as float32 (`TenantEndpoint.pages(float32=True)`) are stacked as they
    are; lists of Python floats are converted.
    """
    if not dimension or not records or any(len(r.values) != dimension for r in records):
        return None
    rows = [r.values for r in records]
    if all(type(v) is np.ndarray and v.dtype == np.float32 for v in rows):
        return np.stack(rows)
    return np.asarray(rows, dtype=np.float32).reshape(len(records), -1)


def page_table(records: list[Record], matrix: np.ndarray | None) -> pa.Table:
    """One page of records as an Arrow table in `SCHEMA`.

    ``matrix`` is `dense_matrix` of the page (the values as float32, made once
    and shared with the checksum); None builds the values column row by row.
    """
    n = len(records)
    ids = pa.array([r.id for r in records], type=pa.string())
    if matrix is not None:
        dimension = matrix.shape[1]
        offsets = pa.array(np.arange(0, n * dimension + 1, dimension, dtype=np.int32))
        values = pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1), type=pa.float32()))
    else:  # rows of several lengths (or none): lists of floats, or float32 rows as fetched
        values = pa.array(
            [r.values if isinstance(r.values, np.ndarray) else r.values or [] for r in records],
            type=pa.list_(pa.float32()),
        )
    sparse = pa.array(
        [
            {"indices": r.sparse_values["indices"], "values": r.sparse_values["values"]}
            if r.sparse_values
            else None
            for r in records
        ],
        type=SPARSE_TYPE,
    )
    metadata = pa.array(
        [orjson.dumps(r.metadata).decode() if r.metadata else None for r in records],
        type=pa.string(),
    )
    return pa.Table.from_arrays([ids, values, sparse, metadata], schema=SCHEMA)


@dataclass
class FileEntry:
    """One written file, as the manifest lists it."""

    path: str
    records: int
    bytes: int
    sha256: str
    row_groups: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "records": self.records,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "row_groups": self.row_groups,
        }


class ParquetSink:
    """Writes pages as row groups into ``<root>/<subdir>/part-NNNNN.parquet`` files."""

    def __init__(
        self, root: Path, subdir: str, *, records_per_file: int = RECORDS_PER_FILE
    ) -> None:
        self.root = root
        self.subdir = subdir
        self.records_per_file = records_per_file
        self.files: list[FileEntry] = []
        self._writer: pq.ParquetWriter | None = None
        self._path: Path | None = None
        self._records = 0
        self._groups = 0
        (root / subdir).mkdir(parents=True, exist_ok=True)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is not None and self._records >= self.records_per_file:
            self._close_file()
        if self._writer is None:
            self._path = self.root / self.subdir / f"part-{len(self.files):05d}.parquet"
            # no dictionary encoding: ids, vectors and metadata are all but unique, and trying
            # costs 10x the write time (75 vs 7 ms per 1,000 x 384 rows, measured)
            self._writer = pq.ParquetWriter(
                self._path, SCHEMA, compression="snappy", use_dictionary=False
            )
        self._writer.write_table(table, row_group_size=table.num_rows)
        self._records += table.num_rows
        self._groups += 1

    def close(self) -> list[FileEntry]:
        """Finish the open file; every file is fsynced before it is listed."""
        self._close_file()
        return self.files

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _close_file(self) -> None:
        if self._writer is None or self._path is None:
            return
        self._writer.close()
        self._writer = None
        fsync(self._path)
        self.files.append(
            FileEntry(
                path=self._path.relative_to(self.root).as_posix(),
                records=self._records,
                bytes=self._path.stat().st_size,
                sha256=file_sha256(self._path),
                row_groups=self._groups,
            )
        )
        self._records = self._groups = 0


def read_row_groups(path: Path, *, start: int = 0) -> Iterator[tuple[int, RowGroup]]:
    """``(row group number, RowGroup)`` of a file from row group ``start`` on, one at a time."""
    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    for group in range(start, pf.num_row_groups):
        yield group, table_records(pf.read_row_group(group), names)


@dataclass
class RowGroup:
    """One row group as upsert dicts (``id``, ``values``, optional ``metadata`` and
    ``sparse_values``, metadata JSON parsed), and its values as one float32 matrix when
    every row has the same length (for checksums without a conversion per record).

    With a matrix, each record's ``values`` is its row of the matrix (a float32 view,
    not a list of Python floats): the lean upsert path writes it from the buffer
    (`tenant_rag.tenancy.pinned.float32_row`), other handles get Python floats."""

    records: list[dict[str, Any]]
    matrix: np.ndarray | None


def table_records(table: pa.Table, names: set[str]) -> RowGroup:
    """An Arrow table of `SCHEMA` (some columns may be absent) as a `RowGroup`."""
    ids = table.column("id").to_pylist()
    n = len(ids)
    values: list[Any] = [None] * n
    matrix = None
    if "values" in names:
        col = table.column("values").combine_chunks()
        # lengths and values from the offsets and the child array: ``value_lengths()`` and
        # ``flatten()`` run compute kernels, which page in Arrow's compute library (4 MiB
        # of the import's resident memory, for two one-line operations)
        offsets = col.offsets.to_numpy(zero_copy_only=False)
        lengths = np.diff(offsets)
        if n and col.null_count == 0 and (lengths == lengths[0]).all() and lengths[0] > 0:
            flat = col.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
            matrix = flat.reshape(n, int(lengths[0]))
            values = list(matrix)  # row views; no Python float per value
        else:
            values = [v or [] for v in col.to_pylist()]
    sparse = table.column("sparse_values").to_pylist() if "sparse_values" in names else [None] * n
    metadata = table.column("metadata").to_pylist() if "metadata" in names else [None] * n
    out = []
    for rid, vals, sp, md in zip(ids, values, sparse, metadata, strict=True):
        rec: dict[str, Any] = {"id": rid, "values": vals if vals is not None else []}
        if md:
            rec["metadata"] = orjson.loads(md)
        if sp:
            rec["sparse_values"] = {"indices": sp["indices"], "values": sp["values"]}
        out.append(rec)
    return RowGroup(out, matrix)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "RECORDS_PER_FILE",
    "SCHEMA",
    "FileEntry",
    "RowGroup",
    "dense_matrix",
    "ParquetSink",
    "file_sha256",
    "page_table",
    "read_row_groups",
    "table_records",
]
