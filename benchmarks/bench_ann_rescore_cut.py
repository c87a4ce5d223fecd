"""How many of the approximate index's candidates an error-bounded cut would re-score, and at what recall.

Why: a 1,000,000 x 384 query re-scores 1,200 candidates exactly (4 shards x 300), about
0.2 ms per thread (docs/scale.md). faiss's fast scan also returns its own estimate of each
candidate's score; a candidate whose estimate is below the k-th best *exact* score seen so far
by more than the estimate's error cannot be in the top k, so it need not be re-scored. This
measures, without changing the engine, what such a cut would keep:

* the estimate's error (exact minus estimated score) over every candidate of half the queries
  (the calibration half), and over the candidates of 64 stored rows used as queries (what a
  build could measure by itself, with no queries yet);
* for the other half of the queries: each thread's candidates (shards 0-1 and 2-3, as the
  query's thread and the helper split them) sorted by estimate, the best ``first`` re-scored
  to get a k-th best exact score T, then every candidate whose estimate is at least T minus
  the margin; recall@10 against exact search and the candidates re-scored per query, for
  margins at several quantiles of the calibration error.

Data: 100,000 and 1,000,000 x 384 standard-normal vectors (cosine; the engine's defaults:
one shard of 2 dimensions per code, and 4 shards of 2.4), and the 40,000 MiniLM text
embeddings of ``bench_ann_recall.py`` (one shard; its 200 queries).

Usage: ``python benchmarks/bench_ann_rescore_cut.py [--quick]``; writes
``benchmarks/results/ann_rescore_cut.json``. ``--quick`` skips the 1,000,000-row set.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results
from bench_ann_recall import QUERIES, TEXT_TOTAL, text_vectors

from tenant_rag.local.engine import ann

RESULTS = Path(__file__).resolve().parent / "results" / "ann_rescore_cut.json"
K = 10
DIM = 384
THREADS = ((0, 1), (2, 3))  # shards per thread when a query's 4 shards are shared


class _Rows:
    """What ``AnnIndex.build`` reads of a namespace: its row count and rows."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.n = len(x)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        return self.x[idx]


def candidates(a: ann.AnnIndex, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(faiss's estimates, rows, shard) of every candidate the engine would re-score."""
    qv = a._prepare(q.reshape(1, -1))
    per = ann.RERANK
    est, rows, shard = [], [], []
    for s, index in enumerate(a._shards):
        d, i = index.search(qv, min(per, index.ntotal))
        ok = i[0] >= 0
        est.append(d[0][ok])
        rows.append(a.slot_row[i[0][ok] + s * ann.SHARD_ROWS])
        shard.append(np.full(int(ok.sum()), s))
    return np.concatenate(est), np.concatenate(rows), np.concatenate(shard)


def cut(
    est: np.ndarray, exact: np.ndarray, shard: np.ndarray, margin: float, first: int
) -> tuple[np.ndarray, int]:
    """Positions a thread-wise cut re-scores, and how many."""
    keep = []
    for group in THREADS:
        pos = np.flatnonzero(np.isin(shard, group))
        if not len(pos):
            continue
        pos = pos[np.argsort(-est[pos], kind="stable")]
        f = min(first, len(pos))
        t = np.sort(exact[pos[:f]])[-K] if f >= K else -np.inf
        n = max(f, int(np.searchsorted(-est[pos], -(t - margin), side="right")))
        keep.append(pos[:n])
    chosen = np.concatenate(keep)
    return chosen, len(chosen)


def measure(name: str, x: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    """Build the engine's index over ``x`` and evaluate the cut on ``queries`` (cosine)."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = [set(np.argpartition(-(xn @ v), K)[:K].tolist()) for v in qn]
    a = ann.AnnIndex(x.shape[1], "cosine")
    t = time.perf_counter()
    a.build(_Rows(x), contextlib.nullcontext())  # type: ignore[arg-type]
    out: dict[str, Any] = {"rows": len(x), "shards": len(a._shards), "codes": a.codes}
    out["build_s"] = time.perf_counter() - t
    recs = []
    for v in qn:
        est, rows, shard = candidates(a, v)
        recs.append((est, rows, shard, xn[rows] @ v))
    half = len(recs) // 2
    errors = np.concatenate([r[3] - r[0] for r in recs[:half]])
    pick = np.random.default_rng(5).choice(len(x), 64, replace=False)
    own = []
    for row in pick:  # stored rows as queries: what a build could calibrate on by itself
        est, rows, _ = candidates(a, xn[row])
        other = rows != row
        own.append(xn[rows[other]] @ xn[row] - est[other])
    own_errors = np.concatenate(own)
    out["error"] = {
        "mean": float(errors.mean()),
        "std": float(errors.std()),
        "q99": float(np.quantile(errors, 0.99)),
        "q999": float(np.quantile(errors, 0.999)),
        "max": float(errors.max()),
        "stored_rows_as_queries_max": float(own_errors.max()),
    }
    out["median_exact_10th_best"] = float(np.median([np.sort(r[3])[-K] for r in recs]))
    out["median_lowest_estimate"] = float(np.median([r[0].min() for r in recs]))
    cases: dict[str, float] = {
        "calibration q0.99": out["error"]["q99"],
        "calibration q0.999": out["error"]["q999"],
        "calibration max": out["error"]["max"],
        "stored rows max": out["error"]["stored_rows_as_queries_max"],
        "no cut": float("inf"),
    }
    out["cuts"] = {}
    for label, margin in cases.items():
        for first in (32, 64):
            hits = scored = 0
            for i in range(half, len(recs)):
                est, rows, shard, exact = recs[i]
                chosen, n = cut(est, exact, shard, margin, first)
                top = rows[chosen[np.argsort(-exact[chosen], kind="stable")[:K]]]
                hits += len(set(top.tolist()) & truth[i])
                scored += n
            m = len(recs) - half
            out["cuts"][f"{label} (margin {margin:.4f}), first {first}"] = {
                "recall_at_10": hits / (K * m),
                "rescored_per_query": scored / m,
                "candidates_per_query": float(np.mean([len(r[0]) for r in recs[half:]])),
            }
            print(name, label, first, out["cuts"][f"{label} (margin {margin:.4f}), first {first}"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="skip the 1,000,000-row set")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    result: dict[str, Any] = {"loadavg_start": os.getloadavg()}
    rng = np.random.default_rng(11)
    sets = [("random 100,000", 100_000)]
    if not args.quick:
        sets.append(("random 1,000,000", 1_000_000))
    for name, n in sets:
        x = rng.standard_normal((n, DIM), dtype=np.float32)
        q = rng.standard_normal((2 * QUERIES, DIM), dtype=np.float32)
        result[name] = measure(name, x, q)
        del x
    text, _ = text_vectors(TEXT_TOTAL)
    result["text 40,000 (MiniLM)"] = measure("text", text[QUERIES:], text[:QUERIES])
    result["loadavg_end"] = os.getloadavg()
    write_results(args.out, result)


if __name__ == "__main__":
    main()
