"""One namespace held in memory: a float32 matrix, an id->row map and per-row extras.

Kept in step with writes (append, overwrite in place, swap-remove), so a query
never rebuilds anything: it is one matrix-vector product plus ``argpartition``.
Metadata stays as the compact JSON text it was stored as, and is parsed into
dicts only the first time a filter needs it (most namespaces never are).

The rows a filter selects are remembered (a few filters per namespace, until
the next write to it): a filter repeated on every query, such as the tenant
pin of metadata isolation or a reader's access condition, is evaluated once
per change of the namespace instead of once per query, and a filter that
keeps most rows is scored with one matrix product instead of a copy of the
selected rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np

from tenant_rag.local.engine.ann import AnnIndex
from tenant_rag.local.engine.columns import Columns, Unsupported
from tenant_rag.local.engine.filters import Node, Predicate, node_fields
from tenant_rag.local.engine.wire import load_metadata

Sparse = tuple[np.ndarray, np.ndarray]  # (uint32 indices, float32 values), indices sorted
# From this many rows a filter is evaluated on numpy columns of the fields it names
# (engine/columns.py) instead of row by row (figures: benchmarks/FIGURES.md).
COLUMN_MIN_ROWS = 2_000
#: Filters whose matching rows one namespace remembers (least recently used dropped).
FILTER_CACHE_SIZE = 16


class NamespaceMatrix:
    """In-memory rows of one namespace. The owning index's lock guards every call."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self._mat = np.empty((0, dimension), dtype=np.float32)
        self._sq = np.empty(0, dtype=np.float32)  # squared norms, for cosine and euclidean
        self.meta: list[str | None] = []
        self._parsed: list[dict[str, Any]] | None = None
        self.sparse: list[Sparse | None] = []
        self.n_sparse = 0
        self.meta_bytes = 0  # running total, so read-unit accounting never scans
        # approximate index of a big namespace (engine/ann.py); told of every write below
        self.ann: AnnIndex | None = None
        # metadata fields as arrays, built when a filter on a big namespace names them
        self.columns = Columns()
        #: filter key -> the rows it matches; emptied by every write
        self._filter_rows: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def n(self) -> int:
        return len(self.ids)

    @classmethod
    def load(
        cls,
        dimension: int,
        expected: int,
        rows: Iterable[tuple[str, bytes | None, Sparse | None, str | None]],
    ) -> NamespaceMatrix:
        """Build from storage rows, streaming each vector into a preallocated matrix.

        Peak memory stays at about one copy of the float32 data: no list of blobs,
        no joined buffer. ``expected`` sizes the matrix; extra rows grow it.
        """
        self = cls(dimension)
        self._resize(max(expected, 0))
        zero = np.zeros(dimension, dtype=np.float32)
        for rid, blob, sp, meta in rows:
            vec = np.frombuffer(blob, dtype="<f4") if blob and dimension else zero
            self.set(rid, vec, sp, meta)
        return self

    # -- writes ------------------------------------------------------------
    def set(self, rid: str, vec: np.ndarray, sp: Sparse | None, meta: str | None) -> None:
        """Insert or overwrite one record."""
        if self._filter_rows:
            self._filter_rows.clear()
        row = self.row_of.get(rid)
        moved = True  # the vector changed (an approximate index must re-add the row)
        if row is None:
            row = self.n
            self._grow(row + 1)
            self.ids.append(rid)
            self.row_of[rid] = row
            self.meta.append(meta)
            self.meta_bytes += len(meta) if meta else 0
            self.sparse.append(sp)
            if self._parsed is not None:
                self._parsed.append(_parse(meta))
            self.n_sparse += sp is not None
            if self.columns.fields:
                self.columns.on_set(row, self._parsed[row] if self._parsed is not None else meta)
        else:
            if self.ann is not None and self.dimension:
                moved = not np.array_equal(self._mat[row], vec)  # metadata-only update?
            old = self.meta[row]
            self.meta_bytes += (len(meta) if meta else 0) - (len(old) if old else 0)
            self.meta[row] = meta
            self.n_sparse += (sp is not None) - (self.sparse[row] is not None)
            self.sparse[row] = sp
            if self._parsed is not None:
                self._parsed[row] = _parse(meta)
            if self.columns.fields:
                self.columns.on_set(row, self._parsed[row] if self._parsed is not None else meta)
        if self.dimension:
            self._mat[row] = vec
            self._sq[row] = float(np.dot(vec, vec))
        if self.ann is not None and moved:
            self.ann.on_set(row)

    def remove(self, rid: str) -> bool:
        """Swap-remove one record; False if it was not here."""
        row = self.row_of.pop(rid, None)
        if row is None:
            return False
        if self._filter_rows:
            self._filter_rows.clear()
        last = self.n - 1
        if self.ann is not None:
            self.ann.on_remove(row, last)
        self.columns.on_remove(row, last)
        self.n_sparse -= self.sparse[row] is not None
        gone = self.meta[row]
        self.meta_bytes -= len(gone) if gone else 0
        if row != last:
            moved = self.ids[last]
            self.ids[row] = moved
            self.row_of[moved] = row
            self.meta[row] = self.meta[last]
            self.sparse[row] = self.sparse[last]
            if self._parsed is not None:
                self._parsed[row] = self._parsed[last]
            self._mat[row] = self._mat[last]
            self._sq[row] = self._sq[last]
        self.ids.pop()
        self.meta.pop()
        self.sparse.pop()
        if self._parsed is not None:
            self._parsed.pop()
        if self._mat.shape[0] > 64 and self.n < self._mat.shape[0] // 4:
            self._resize(max(self.n * 2, 16))
        return True

    def _grow(self, need: int) -> None:
        cap = self._mat.shape[0]
        if need > cap:
            self._resize(max(need, int(cap * 1.25) + 16))

    def _resize(self, cap: int) -> None:
        mat = np.empty((cap, self.dimension), dtype=np.float32)
        sq = np.zeros(cap, dtype=np.float32)
        keep = min(self.n, cap)
        mat[:keep] = self._mat[:keep]
        sq[:keep] = self._sq[:keep]
        self._mat, self._sq = mat, sq
        self.columns.resize(cap, keep)

    # -- reads -------------------------------------------------------------
    def values(self, row: int) -> np.ndarray:
        return self._mat[row]

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """A copy of the float32 vectors of ``rows``."""
        return self._mat[rows]

    def backing(self) -> np.ndarray:
        """The float32 buffer the rows live in (C-contiguous; its first ``n`` rows are the
        namespace's, the rest spare capacity), for kernels that read rows in place."""
        return self._mat

    def drop_ann(self) -> None:
        """Forget the approximate index (the namespace is leaving memory or shrank)."""
        if self.ann is not None:
            self.ann.close()
            self.ann = None

    def metadata(self, row: int) -> dict[str, Any]:
        if self._parsed is not None:
            return self._parsed[row]
        return _parse(self.meta[row])

    def nbytes(self) -> int:
        """Approximate stored size, for read-unit accounting."""
        return self.n * (4 * self.dimension + 64) + self.meta_bytes

    def resident_bytes(self) -> int:
        """Approximate memory held: matrix capacity, norms, ids and metadata text."""
        extra = self.ann.resident_bytes() if self.ann is not None else 0
        extra += self.columns.nbytes()
        return self._mat.nbytes + self._sq.nbytes + self.n * 120 + self.meta_bytes + extra

    def matching_rows(self, predicate: Predicate, key: str | None = None) -> np.ndarray:
        """Rows whose metadata satisfies ``predicate``, in row order.

        ``key`` names the filter (its canonical JSON); the rows of a named filter are
        remembered until the namespace next changes. A big namespace evaluates the filter
        on columns of the fields it names (built on first use, then kept in step with
        writes); a small one, or a filter the columns cannot decide exactly, checks each
        row's parsed metadata (parsed once, cached).
        """
        if key is not None:
            hit = self._filter_rows.get(key)
            if hit is not None:
                self._filter_rows.move_to_end(key)
                return hit
        rows = self._evaluate(predicate)
        if key is not None:
            rows.flags.writeable = False  # shared by later queries
            self._filter_rows[key] = rows
            while len(self._filter_rows) > FILTER_CACHE_SIZE:
                self._filter_rows.popitem(last=False)
        return rows

    def _evaluate(self, predicate: Predicate) -> np.ndarray:
        """The rows ``predicate`` selects, computed (no cache)."""
        if self.n >= COLUMN_MIN_ROWS:
            self._build_columns(predicate.node)
            try:
                return np.flatnonzero(self.columns.evaluate(predicate.node, self.n, self._column))
            except Unsupported:
                pass
        if self._parsed is None:
            self._parsed = [_parse(m) for m in self.meta]
        parsed = self._parsed
        return np.fromiter((i for i in range(self.n) if predicate(parsed[i])), dtype=np.int64)

    def _column(self, field: str) -> Any:
        """The column of ``field`` (``matching_rows`` built every named field first)."""
        return self.columns.fields[field]

    def _build_columns(self, node: Node) -> None:
        """Build the columns of the fields ``node`` names that have none yet, in one pass
        over the rows' metadata (parsed on the fly, never kept)."""
        missing = [f for f in node_fields(node) if f not in self.columns.fields]
        if missing:
            metas = self._parsed if self._parsed is not None else (_parse(m) for m in self.meta)
            self.columns.build(missing, metas, self._mat.shape[0])

    def scores(
        self,
        q: np.ndarray | None,
        q_sparse: Sparse | None,
        metric: str,
        rows: np.ndarray | None,
        dots: np.ndarray | None = None,
    ) -> np.ndarray:
        """Pinecone-convention scores for ``rows`` (all rows when None).

        cosine: similarity in [-1, 1]; dotproduct: inner product (+ sparse inner
        product for hybrid); euclidean: squared L2 distance (lower is closer).
        ``dots``: ``q``'s inner products with ``rows``, when the caller computed them
        (engine/ann.py reads the rows in place instead of copying them out).
        """
        n = self.n
        if dots is None and rows is not None and len(rows) * 3 > n * 2:
            # most rows pass the filter: one product over the whole matrix, then pick,
            # costs less than copying the selected rows out first
            return self.scores(q, q_sparse, metric, None)[rows]
        count = n if rows is None else len(rows)
        out = np.zeros(count, dtype=np.float32)
        if q is not None and self.dimension and count:
            sq = self._sq[:n] if rows is None else self._sq[rows]
            if dots is None:
                dots = _dots(self._mat[:n] if rows is None else self._mat[rows], q)
            if metric == "cosine":
                qn = float(np.sqrt(np.dot(q, q)))
                denom = np.sqrt(sq) * qn
                np.divide(dots, denom, out=out, where=denom > 0)
            elif metric == "euclidean":
                out = np.maximum(sq - 2.0 * dots + float(np.dot(q, q)), 0.0).astype(np.float32)
            else:
                out = dots
        # hybrid scoring (dense + sparse inner product) is a dotproduct feature; a sparse
        # index's metric is dotproduct too
        if q_sparse is not None and self.n_sparse and count and metric == "dotproduct":
            qmap = dict(zip(q_sparse[0].tolist(), q_sparse[1].tolist(), strict=True))
            row_iter = range(n) if rows is None else rows.tolist()
            extra = np.zeros(count, dtype=np.float32)
            for pos, row in enumerate(row_iter):
                sp = self.sparse[row]
                if sp is not None:
                    extra[pos] = sum(qmap.get(i, 0.0) * v for i, v in zip(*sp, strict=True))
            out = out + extra
        return out


def top_k(scores: np.ndarray, k: int, ascending: bool) -> np.ndarray:
    """Positions of the best ``k`` scores, best first (argpartition, then sort the few)."""
    n = scores.shape[0]
    if n == 0 or k <= 0:
        return np.empty(0, dtype=np.int64)
    key = scores if ascending else -scores
    if k < n:
        part = np.argpartition(key, k - 1)[:k]
        return part[np.argsort(key[part], kind="stable")]
    return np.argsort(key, kind="stable")


def _dots(mat: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``mat @ q`` on the calling thread only.

    ``@`` goes to OpenBLAS, which splits any product over ~9,000 elements (24 rows of
    384) across its worker threads; between requests those threads sleep, and on a busy
    2-core machine waking them costs far more than the product itself
    (benchmarks/FIGURES.md). ``einsum`` runs numpy's own SIMD loop on this thread.
    """
    return np.einsum("ij,j->i", mat, q)


def _parse(meta: str | None) -> dict[str, Any]:
    return load_metadata(meta) if meta else {}
