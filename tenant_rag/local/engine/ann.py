"""Approximate candidate search for big namespaces: a faiss product-quantised fast scan.

Why this shape (measurements in docs/design.md, "Approximate search"):

* A namespace below ``ann_min_rows()`` is searched exactly, as before (it is fast there).
* Above it, a faiss ``PQ{d/2}x4fs_128`` index (2 dimensions per 4-bit code: 1/16 of the
  float32 bytes; blocks of 128 rows; codes on 2 MiB pages where Linux allows), or, for a
  namespace built past one shard, ``PQ{d/2.4}x4fs_128`` (2.4 dimensions per code on average:
  at 384 dimensions 96 codes of 2 dimensions and 64 of 3, 80 bytes a row instead of 96), is
  scanned with SIMD lookup tables for the best ``RERANK`` candidates of each shard, and those
  are re-scored exactly against the namespace's float32 matrix. Returned scores
  are therefore exact; only the choice of candidates is approximate. Graph indexes (HNSW)
  were measured too: they find little on data without structure, while the quantised scan's
  recall does not depend on the data (figures: benchmarks/FIGURES.md).
* The index is derived from the matrix, which is derived from SQLite: never a source of
  truth, never persisted, rebuilt in the background after a (re)load. Until it is ready,
  queries stay exact.

Keys: faiss ids are *slots* in insertion order. ``row_slot`` maps each matrix row to its
slot (-1: not indexed), ``slot_row`` maps back (-1: dead). The matrix's writes call
``on_set``/``on_remove`` (index lock held), which only touch these maps: an overwritten
or removed row's slot is marked dead and the row goes to ``pending``. Pending rows are
scored exactly beside the candidates, and are added to the index in one batch once there
are enough of them. When dead slots pass a quarter of the index, it is rebuilt.

Locking: every method except the body of ``build`` runs under the owning index's lock.
``build`` takes the lock only to copy a chunk of rows and record their slots; faiss's
``add`` runs outside it (faiss releases the GIL), so queries and writes go on meanwhile.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from tenant_rag.local.engine.hugepages import collapse_faiss_codes
from tenant_rag.local.engine.sharing import Helper

if TYPE_CHECKING:
    from tenant_rag.local.engine.matrix import NamespaceMatrix

log = logging.getLogger("tenant_rag.local")

# Candidates re-scored exactly per query (per shard); recall in benchmarks/FIGURES.md.
RERANK = 300
# Rows kept in ``pending`` (scored exactly) before they are added to the index in one batch.
FLUSH_PENDING = 2_000
# Rebuild when this fraction of the index's slots is dead.
REBUILD_DEAD_FRACTION = 0.25
# Rows used to train the product quantiser (16 centroids per 2-d sub-space need few).
TRAIN_ROWS = 8_192
BUILD_CHUNK = 16_384
# Slots per faiss index: a namespace past this is split into shards that the query's thread
# and one helper thread share (faiss releases the GIL), so a 1,000,000-row scan takes about
# half the time (``sharing.Helper``).
SHARD_ROWS = 262_144
# Each shard of a namespace with more than two gives this share of the candidates count
# (at least RERANK * 2 / shards). With codes of 2 dimensions, 4 shards x 150 found what
# 4 x 300 did (recall@10 0.992 against 0.998 at 1,000,000 x 384); the coarser codes of
# ``CODE_DIMS`` need every shard's 300 (0.988, against 0.982 at 250 and 0.978 at 200;
# docs/scale.md, "1,000,000 x 384 after the fourth pass").
SHARD_RERANK_SHARE = 1.0
# Dimensions per 4-bit code, on average: a scan's cost is the bytes of codes it streams, and
# on this machine two threads streaming at once share the memory bandwidth (docs/scale.md,
# fourth pass), so 160 codes a row at 384 dimensions (80 bytes) instead of 192 (96 bytes)
# made a 1,000,000-row query 12% faster in one process, with twice the candidates (recall@10
# 0.988 against 0.992). faiss's product quantiser splits the vector into equal sub-spaces, so
# ``code_layout`` pads the 2-dimension codes with a zero column. Only for namespaces
# built past one shard: one shard's 300 candidates need the finer codes (below).
CODE_DIMS = 2.4
# Dimensions per code of a namespace built within one shard (at most SHARD_ROWS rows): its
# single scan is short, and its 300 candidates out of one index find
# the true neighbours with 2 dimensions per code (recall@10 0.995 at 100,000 x 384) but not
# with 2.4 (0.966): a shard of a bigger namespace answers for a quarter of the rows, so 300
# of its candidates reach further down its ranking.
SINGLE_SHARD_CODE_DIMS = 2.0
# The error-bounded cut of the re-scoring (``AnnIndex._rescore``; cosine only): stored rows
# used as queries once the build has added every row, to measure how far faiss's estimate of
# a candidate's score falls below its exact score; the largest such error, times
# CUT_SAFETY, is the margin. Each thread then re-scores its best CUT_FIRST candidates by
# estimate (at least k), and of the rest only those whose estimate is within the margin of
# the k-th best exact score so far: a candidate further below cannot reach the top k unless
# its estimate erred by more than anything measured. On 40,000 MiniLM text embeddings this
# re-scores about 165 of 300 candidates at recall@10 1.0; on standard-normal vectors the
# estimate is too loose for it to skip any (docs/scale.md, sixth pass;
# benchmarks/bench_ann_rescore_cut.py).
CUT_CALIBRATION_ROWS = 64
CUT_SAFETY = 1.25
CUT_FIRST = 32
# ... and only where it would have skipped at least a quarter of the calibration queries'
# candidates: elsewhere (standard-normal vectors) sorting by estimate is pure cost.
CUT_WORTH = 0.75

_builder: ThreadPoolExecutor | None = None
_builder_lock = threading.Lock()
_thread_setup = threading.local()
_faiss_mod: Any = None


def _faiss() -> Any:
    """faiss, with OpenMP at one thread *for the calling thread*.

    OpenMP's thread count is a per-thread setting (a new thread starts from the process
    default, one per core), so every thread that calls faiss sets it, once (a thread-local
    flag: not once per query). A single query gains nothing from a team of threads, and on
    a shared 2-core machine waking and synchronising one costs more than the work
    (benchmarks/FIGURES.md). Imported on first use only: a server whose namespaces are all
    below the threshold never loads faiss.
    """
    global _faiss_mod
    if not getattr(_thread_setup, "done", False):
        if _faiss_mod is None:
            import faiss

            _faiss_mod = faiss
        _faiss_mod.omp_set_num_threads(1)
        _thread_setup.done = True
    return _faiss_mod


# Shares a query's shard scans with the query's own thread (``sharing.Helper``).
_helper = Helper("tenant-rag-ann-scan", on_start=_faiss)


def ann_top_k_limit(rows: int) -> int | None:
    """The largest top_k for which a dense query of a ``rows``-row namespace asks its ready
    index (None: it never does). The index is asked for ``4 x max(RERANK, 4 x top_k)``
    candidates, and a namespace holding fewer rows than that is searched exactly: the index
    would be asked for every row. One rule for the query path and for what the server
    reports (``IndexEngine.search_state``)."""
    return rows // 16 if rows >= 4 * RERANK else None


def _submit(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the one background build thread (builds queue; 2 cores, one at a time)."""
    global _builder
    with _builder_lock:
        if _builder is None:
            _builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tenant-rag-ann")
        _builder.submit(fn)


def code_layout(dim: int, code_dims: float) -> tuple[int, int, np.ndarray]:
    """How ``dim`` dimensions map onto about ``dim / code_dims`` 4-bit codes of equal width.

    Returns (codes, padded width, the column of each dimension in the padded vector). Every
    code spans ``ceil(dim / codes)`` columns; codes that hold one dimension fewer leave their
    last column zero, which changes no inner product or distance. At 384 dimensions and 2.4:
    160 codes of 3 columns, the first 96 holding 2 dimensions and the last 64 holding 3.
    """
    codes = max(1, min(dim, math.ceil(round(dim / code_dims, 6))))
    width = -(-dim // codes)
    base, extra = divmod(dim, codes)  # the last ``extra`` codes hold base + 1 dimensions
    cols = [
        j * width + c for j in range(codes) for c in range(base + (1 if j >= codes - extra else 0))
    ]
    return codes, codes * width, np.asarray(cols, dtype=np.int64)


class AnnIndex:
    """The approximate index of one in-memory namespace. States: building -> ready | closed.

    ``code_dims`` and ``single_code_dims`` (dimensions per 4-bit code past one shard and
    within one: CODE_DIMS, SINGLE_SHARD_CODE_DIMS), ``shard_share`` (SHARD_RERANK_SHARE) and
    ``huge_pages`` are class attributes so benchmarks/bench_ann_million.py can measure other
    settings. The codes are chosen by the rows at the start of the build: a namespace that
    grows past one shard afterwards keeps the finer codes until it is rebuilt (or reloaded).
    """

    code_dims = CODE_DIMS
    single_code_dims = SINGLE_SHARD_CODE_DIMS
    shard_share = SHARD_RERANK_SHARE
    huge_pages = True  # collapse the shards' codes into 2 MiB pages (``hugepages``)
    share_scans = True  # several shards: share them with the helper thread (``_search``)
    error_cut = True  # calibrate a margin and re-score only what can reach the top k
    # Rows per block of the fast scan's code layout (faiss's ``bbs``; its default is 32):
    # 64 scanned a 262,144-row shard 3-4% faster than 32 (docs/scale.md, third pass), and
    # 128 another 2.4% faster than 64 with 160 codes a row (0.741 against 0.759 ms, 16
    # interleaved rounds, twice) and no slower with 192 (docs/scale.md, fifth pass).
    block_rows = 128

    def __init__(self, dimension: int, metric: str) -> None:
        self.dimension = dimension
        self.metric = metric
        self.state = "building"
        self.pending: set[int] = set()
        self.row_slot = np.full(0, -1, dtype=np.int64)
        self.slot_row = np.full(0, -1, dtype=np.int64)
        self.ntotal = 0  # slots handed out
        self.dead = 0
        self.cursor = 0  # rows below this were handed to the build
        self._template: Any = None  # trained, empty: cloned for each new shard
        self.codes, self._width, self._cols = code_layout(dimension, self.code_dims)
        self._shards: list[Any] = []
        # how far below its exact score faiss may estimate a candidate's (``_calibrate``);
        # infinite: re-score every candidate
        self.margin = math.inf
        self.counts = {
            "ann": 0,
            "ann_filtered": 0,
            "exact_filtered": 0,
            "exact_fallback": 0,
            "rescored": 0,  # candidates the index gave that were scored exactly (``_rescore``)
        }

    # -- the matrix's write hooks (index lock held) ---------------------------------
    def on_set(self, row: int) -> None:
        """Row ``row`` was inserted or overwritten: its old slot (if any) is dead."""
        self._ensure_rows(row + 1)
        self._kill(row)
        self.pending.add(row)

    def on_remove(self, row: int, last: int) -> None:
        """Row ``row`` was removed and row ``last`` moved into it (swap-remove)."""
        self._ensure_rows(max(row, last) + 1)
        self._kill(row)
        self.pending.discard(row)
        if row != last:
            slot = int(self.row_slot[last])
            self.row_slot[row] = slot
            if slot >= 0:
                self.slot_row[slot] = row
            if last in self.pending:
                self.pending.discard(last)
                self.pending.add(row)
            elif slot < 0 and (self.ready or row < self.cursor):
                self.pending.add(row)  # the build passed this row; its new content is unindexed
        if last < len(self.row_slot):
            self.row_slot[last] = -1

    def _kill(self, row: int) -> None:
        if row < len(self.row_slot):
            slot = int(self.row_slot[row])
            if slot >= 0:
                self.slot_row[slot] = -1
                self.row_slot[row] = -1
                self.dead += 1

    def _ensure_rows(self, n: int) -> None:
        if n > len(self.row_slot):
            grown = np.full(max(n, int(len(self.row_slot) * 1.25) + 1024), -1, dtype=np.int64)
            grown[: len(self.row_slot)] = self.row_slot
            self.row_slot = grown

    def _assign(self, rows: np.ndarray) -> np.ndarray:
        """Hand out slots for ``rows`` (about to be added in this order); returns them."""
        slots = np.arange(self.ntotal, self.ntotal + len(rows), dtype=np.int64)
        need = self.ntotal + len(rows)
        if need > len(self.slot_row):
            grown = np.full(max(need, int(len(self.slot_row) * 1.25) + 1024), -1, dtype=np.int64)
            grown[: self.ntotal] = self.slot_row[: self.ntotal]
            self.slot_row = grown
        self._ensure_rows(int(rows.max()) + 1 if len(rows) else 0)
        self.slot_row[slots] = rows
        self.row_slot[rows] = slots
        self.ntotal = need
        for r in rows.tolist():
            self.pending.discard(r)
        return slots

    # -- building (background thread) -----------------------------------------------
    def build(self, mat: NamespaceMatrix, lock: AbstractContextManager[Any]) -> None:
        """Train on a sample, then add every row in chunks; queries stay exact meanwhile."""
        faiss = _faiss()

        try:
            with lock:
                if self.state != "building":
                    return
                n = mat.n
                dims = self.code_dims if n > SHARD_ROWS else self.single_code_dims
                self.codes, self._width, self._cols = code_layout(self.dimension, dims)
                pick = np.linspace(0, n - 1, min(n, TRAIN_ROWS)).astype(np.int64)
                sample = self._prepare(mat.rows(pick))
            template = faiss.index_factory(
                self._width, f"PQ{self.codes}x4fs_{self.block_rows}", self._faiss_metric(faiss)
            )
            template.train(sample)
            del sample
            self._template = template
            while True:
                with lock:
                    if self.state != "building":
                        return
                    start, end = self.cursor, min(self.cursor + BUILD_CHUNK, mat.n)
                    if start >= end:
                        if self._shards and self._shards[-1].ntotal < SHARD_ROWS:
                            self._huge(self._shards[-1])
                        break
                    rows = np.arange(start, end, dtype=np.int64)
                    chunk = self._prepare(mat.rows(rows))
                    self._assign(rows)
                    self.cursor = end
                self._add(chunk)  # outside the lock: faiss releases the GIL
            margin = math.inf
            if self.error_cut:
                try:
                    margin = self._calibrate(mat, lock)
                except Exception:  # the cut is an optimisation: without it, re-score all
                    log.exception(
                        "calibrating the re-scoring cut failed; re-scoring every candidate"
                    )
            with lock:
                if self.state != "building":
                    return
                self.margin = margin
                self.state = "ready"
                log.info("approximate index ready: %d rows", self.ntotal)
        except Exception:  # never take the server down; queries stay exact
            log.exception("building the approximate index failed; queries stay exact")
            self.state = "failed"

    def _calibrate(self, mat: NamespaceMatrix, lock: AbstractContextManager[Any]) -> float:
        """The margin of the re-scoring cut: the largest amount by which faiss's estimate fell
        below the exact score, over the candidates of ``CUT_CALIBRATION_ROWS`` stored rows used
        as queries (each row's own match left out), times ``CUT_SAFETY``; infinity (no cut)
        when, with that margin, those queries would have kept more than ``CUT_WORTH`` of their
        candidates.

        Cosine only: the index scores normalised vectors, so estimates and exact scores share
        one scale whatever the query's norm; for dot product and euclidean the error scales
        with the norms, so every candidate is re-scored (infinity). The scans run outside the
        lock (no row is added to the index meanwhile: only the build adds before it is
        ready); mapping slots to rows and the exact scores take it, one query at a time.
        """
        if self.metric != "cosine" or not self._shards:
            return math.inf
        with lock:
            if self.state != "building":
                return math.inf
            pick = np.unique(np.linspace(0, mat.n - 1, CUT_CALIBRATION_ROWS).astype(np.int64))
            raw = mat.rows(pick)
        queries = self._prepare(raw)
        shards = list(self._shards)
        per = self._per_shard(RERANK, len(shards))
        seen: list[tuple[np.ndarray, np.ndarray]] = []  # (estimates, exact scores) per query
        for j, row in enumerate(pick.tolist()):
            found = [
                self._scan(shard, i, queries[j : j + 1], per) for i, shard in enumerate(shards)
            ]
            slots = np.concatenate([f[0] for f in found])
            est = np.concatenate([f[1] for f in found])
            with lock:
                if self.state != "building":
                    return math.inf
                rows = self.slot_row[slots]
                keep = (rows >= 0) & (rows != row)
                if keep.any():
                    seen.append((est[keep], mat.scores(raw[j], None, "cosine", rows[keep])))
        if not seen:
            return math.inf
        margin = max(0.0, max(float((exact - est).max()) for est, exact in seen)) * CUT_SAFETY
        # would the cut skip enough of these queries' candidates to pay for itself?
        total = kept = 0
        for est, exact in seen:
            total += len(est)
            kept += len(_rescore(np.arange(len(est)), est, exact.__getitem__, 10, margin)[0])
        return margin if kept <= CUT_WORTH * total else math.inf

    def _faiss_metric(self, faiss: Any) -> int:
        return int(faiss.METRIC_L2 if self.metric == "euclidean" else faiss.METRIC_INNER_PRODUCT)

    def _prepare(self, vecs: np.ndarray) -> np.ndarray:
        """float32, C-contiguous, normalised for cosine, laid out as ``code_layout`` says
        (zero columns added; they change no inner product or distance)."""
        out = np.ascontiguousarray(vecs, dtype=np.float32)
        if self.metric == "cosine":
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        if self._width != out.shape[1]:
            padded = np.zeros((out.shape[0], self._width), dtype=np.float32)
            padded[:, self._cols] = out
            out = padded
        return np.ascontiguousarray(out, dtype=np.float32)

    def _add(self, vecs: np.ndarray) -> None:
        """Append ``vecs`` (already given consecutive slots) across shards, in slot order.

        Slot ``s`` lives in shard ``s // SHARD_ROWS`` at local id ``s % SHARD_ROWS``; only
        one thread adds at a time (the build, or a flush under the lock once ready).
        """
        faiss = _faiss()
        done = 0
        while done < len(vecs):
            if not self._shards or self._shards[-1].ntotal >= SHARD_ROWS:
                self._shards.append(faiss.clone_index(self._template))
            shard = self._shards[-1]
            take = min(len(vecs) - done, SHARD_ROWS - shard.ntotal)
            shard.add(vecs[done : done + take])
            done += take
            # faiss reallocates the codes on every add: collapse a shard into huge pages
            # once it is full, or after a flush (the build's last shard: ``_finish_build``)
            if shard.ntotal >= SHARD_ROWS or self.state == "ready":
                self._huge(shard)

    def _huge(self, shard: Any) -> None:
        if self.huge_pages:
            collapse_faiss_codes(shard)

    def close(self) -> None:
        self.state = "closed"
        self._shards = []

    # -- searching (index lock held) ----------------------------------------------
    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def needs_rebuild(self) -> bool:
        return self.ready and self.dead > REBUILD_DEAD_FRACTION * max(self.ntotal, 1)

    def flush(self, mat: NamespaceMatrix) -> None:
        """Add pending rows to the index in one batch."""
        if not self.pending or not self.ready:
            return
        rows = np.fromiter(sorted(self.pending), dtype=np.int64, count=len(self.pending))
        vecs = self._prepare(mat.rows(rows))
        self._assign(rows)
        self._add(vecs)

    def candidates(
        self,
        mat: NamespaceMatrix,
        q: np.ndarray,
        metric: str,
        count: int,
        mask: np.ndarray | None = None,
        *,
        k: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows worth scoring for query ``q`` and their exact scores (``mat.scores``):
        of ~``count`` from the index (only rows with ``mask`` True when given), those that can
        still reach the top ``k`` (``_rescore``), plus every pending row (those the index
        lacks)."""
        if len(self.pending) > FLUSH_PENDING:
            self.flush(mat)
        live = max(self.ntotal - self.dead, 1)
        want = min(self.ntotal, int(count * self.ntotal / live) + 1)

        qf = np.ascontiguousarray(q, dtype=np.float32)
        table = mat.backing()
        margin = self.margin if metric == "cosine" else math.inf

        def exact(rows: np.ndarray) -> np.ndarray:
            return mat.scores(qf, None, metric, rows, dots=row_dots(table, qf, rows))

        def score(found: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            slots, est = found
            rows = self.slot_row[slots]
            keep = rows >= 0
            if mask is not None:
                keep[keep] = mask[rows[keep]]
            return _rescore(rows[keep], est[keep], exact, k, margin)

        parts = self._search(self._prepare(q.reshape(1, -1)), want, score)
        self.counts["rescored"] += sum(len(p[0]) for p in parts)
        if self.pending:
            parts.append(score_rows(mat, q, metric, self.pending, mask))
        if not parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        rows = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        # in row order, as exact search sees them: equal scores then rank as they would there,
        # whichever thread scanned which shard
        order = np.argsort(rows, kind="stable")
        return rows[order], scores[order]

    def _per_shard(self, want: int, shards: int) -> int:
        """Candidates each shard gives: ``want`` from a single index; from several, each its
        share (``shard_share``), and together at least twice ``want``."""
        if shards <= 1:
            return want
        return max(int(want * self.shard_share), -(-2 * want // shards))

    @staticmethod
    def _scan(shard: Any, i: int, qv: np.ndarray, per: int) -> tuple[np.ndarray, np.ndarray]:
        """Shard ``i``'s best ``per`` (slots, faiss's estimated scores) for ``qv``."""
        est, local = shard.search(qv, min(per, shard.ntotal))
        ok = local[0] >= 0
        return local[0][ok] + i * SHARD_ROWS, est[0][ok]

    def _search(
        self,
        qv: np.ndarray,
        want: int,
        score: Callable[[tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray]],
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each shard's best (slots, estimates) as ``score`` turns them into (rows, exact
        scores): ``want`` from a single index; from several, each gives its share
        (``SHARD_RERANK_SHARE``), and together at least twice ``want``. Several shards are
        shared between this thread and the helper thread (``sharing.Helper``: whichever is
        free takes the next shard; faiss releases the GIL), and each thread re-scores its own
        candidates in one call (numpy's gather and product release it too). The caller holds
        the index lock, so nothing changes underneath either thread."""
        shards = list(self._shards)
        if want <= 0 or not shards:
            return []
        per = self._per_shard(want, len(shards))

        def scan(i: int) -> tuple[np.ndarray, np.ndarray]:
            return self._scan(shards[i], i, qv, per)

        def finish(found: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
            if len(found) == 1:
                return score(found[0])
            return score(
                (np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found]))
            )

        _faiss()
        if len(shards) == 1 or not self.share_scans:
            return [finish([scan(i) for i in range(len(shards))])]
        return _helper.share(range(len(shards)), scan, finish)

    def resident_bytes(self) -> int:
        """Codes (half a byte per code per slot) plus the slot maps."""
        return self.ntotal * ((self.codes + 1) // 2 + 8) + self.row_slot.nbytes

    def info(self) -> dict[str, Any]:
        """State and counters, for tests and diagnostics."""
        return {
            "state": self.state,
            "indexed": self.ntotal - self.dead,
            "dead": self.dead,
            "pending": len(self.pending),
            "margin": self.margin,  # of the re-scoring cut; infinity: no cut
            **self.counts,
        }


def row_dots(table: np.ndarray, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``table[rows] @ q``, reading the rows in place (faiss's ``fvec_inner_products_by_idx``).

    Why: the candidates are scattered over a matrix of 1.5 GB at 1,000,000 x 384, so
    re-scoring them is a gather that waits on memory; numpy copies the rows out first and
    then multiplies, the kernel does one pass over them (docs/scale.md, fourth pass). ``q``
    float32 and C-contiguous, ``rows`` in range; OpenMP is one thread for the calling thread
    (``_faiss``), and faiss releases the GIL.
    """
    out = np.empty(len(rows), dtype=np.float32)
    if len(rows):
        faiss = _faiss()
        ids = np.ascontiguousarray(rows, dtype=np.int64)
        faiss.fvec_inner_products_by_idx(
            faiss.swig_ptr(out),
            faiss.swig_ptr(q),
            faiss.swig_ptr(table),
            faiss.swig_ptr(ids),
            table.shape[1],
            1,
            len(ids),
        )
    return out


def _rescore(
    rows: np.ndarray,
    est: np.ndarray,
    exact: Callable[[np.ndarray], np.ndarray],
    k: int,
    margin: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` (one thread's candidates, with faiss's estimates ``est``) that can reach the
    top ``k``, and their ``exact`` scores (cosine: higher is better).

    With an infinite ``margin`` every row. Else the best ``max(CUT_FIRST, k)`` by estimate
    first; then, of the rest, those whose estimate is at least the k-th best exact score so
    far minus ``margin``: a row below that would need its estimate to have erred by more
    than the calibration ever saw (``AnnIndex._calibrate``) to beat the k rows already
    scored. Returned in no particular order (the caller sorts by row).
    """
    first = max(CUT_FIRST, k)
    if not math.isfinite(margin) or len(rows) <= first:
        return rows, exact(rows)
    order = np.argsort(-est, kind="stable")
    rows, est = rows[order], est[order]
    head = exact(rows[:first])
    kth = float(np.partition(head, first - k)[first - k])
    more = int(np.searchsorted(-est[first:], -(kth - margin), side="right"))
    if not more:
        return rows[:first], head
    tail = rows[first : first + more]
    return rows[: first + more], np.concatenate([head, exact(tail)])


def score_rows(
    mat: NamespaceMatrix, q: np.ndarray, metric: str, rows: set[int], mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` (only those with ``mask`` True when given) and their exact scores."""
    arr = np.fromiter(rows, dtype=np.int64, count=len(rows))
    if mask is not None:
        arr = arr[mask[arr]]
    return arr, mat.scores(q, None, metric, arr)


def start_build(ann: AnnIndex, mat: NamespaceMatrix, lock: AbstractContextManager[Any]) -> None:
    """Queue ``ann``'s build on the background thread."""
    _submit(lambda: ann.build(mat, lock))
