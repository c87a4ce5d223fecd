"""Which approximate-search library the embedded server uses: candidates measured side by side.

Each candidate configuration is built and queried in its own child process (so its
memory is its own), over two data sets: ``random``, 100,000 x 384 float32 (standard
normal, the hardest case for a graph index, and the data of ``bench_server.py``), and
``text``, 40,000 MiniLM embeddings of docstring sentences (``bench_ann_recall.py``'s
corpus: structured data, a graph index's good case), with their held-out queries; cosine,
graph degree 16, construction beam 128, both cores for the build. Queries are single
vectors one at a time on one thread (what a server request does); each answer is
re-scored exactly over ``RERANK`` candidates, as the server does. Two rounds, the
second in reverse order, so each configuration sees the same machine load.

Measured: build seconds, query p50/p99 (ms), recall@10 against exact numpy search,
resident memory added by the index (MB).

Not a project dependency: install the candidates first, e.g.
``uv pip install usearch==2.26.6 faiss-cpu==1.15.1 hnswlib==0.8.0``. Usage:
``python benchmarks/bench_ann_candidates.py [--n 100000]``; writes
``benchmarks/results/ann_candidates.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results

DIM = 384
K = 10
RERANK = 300  # what the server re-scores (tenant_rag.local.engine.ann.RERANK)
QUERIES = 300
RESULTS = Path(__file__).resolve().parent / "results" / "ann_candidates.json"
CONFIGS = ["faiss-pq-fastscan", "usearch-i8", "faiss-hnsw-sq8", "hnswlib-f32"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def data(n: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``random``: standard-normal vectors; ``text``: MiniLM embeddings of docstring
    sentences (bench_ann_recall.py's corpus, cached), the first QUERIES held out as queries."""
    if kind == "text":
        from bench_ann_recall import TEXT_ROWS, TEXT_TOTAL, text_vectors  # same folder

        vecs, _ = text_vectors(TEXT_TOTAL)
        return vecs[-TEXT_ROWS:], vecs[: TEXT_TOTAL - TEXT_ROWS]
    rng = np.random.default_rng(7)
    base = rng.standard_normal((n, DIM), dtype=np.float32)
    queries = rng.standard_normal((QUERIES, DIM), dtype=np.float32)
    return base, queries


def exact_top(normed: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    s = normed @ (q / np.linalg.norm(q))
    top = np.argpartition(-s, k - 1)[:k]
    return top[np.argsort(-s[top])]


def run_one(name: str, n: int, ef: int, kind: str) -> dict[str, Any]:
    """Build ``name`` over the data and measure it (runs in a child process)."""
    base, queries = data(n, kind)
    n = len(base)
    normed = base / np.linalg.norm(base, axis=1, keepdims=True)
    truth = [set(exact_top(normed, q, K).tolist()) for q in queries]
    before = rss_mb()
    t = time.perf_counter()
    if name.startswith("usearch"):
        from usearch.index import Index

        ix = Index(
            ndim=DIM,
            metric="cos",
            dtype="i8" if name.endswith("i8") else "f32",
            connectivity=16,
            expansion_add=128,
            expansion_search=ef,
        )
        unit = base / np.linalg.norm(base, axis=1, keepdims=True)  # i8 codes need [-1, 1]
        ix.add(np.arange(n, dtype=np.uint64), unit, threads=2)

        def search(q: np.ndarray) -> np.ndarray:
            return ix.search(q, RERANK, threads=1).keys.astype(np.int64)

    elif name == "faiss-pq-fastscan":  # what tenant_rag.local.engine.ann uses
        import faiss

        faiss.omp_set_num_threads(1)
        px = faiss.index_factory(DIM, f"PQ{DIM // 2}x4fs", faiss.METRIC_INNER_PRODUCT)
        px.train(normed[:8192])
        px.add(normed)

        def search(q: np.ndarray) -> np.ndarray:
            return px.search((q / np.linalg.norm(q)).reshape(1, -1), RERANK)[1][0]

    elif name.startswith("faiss"):
        import faiss

        faiss.omp_set_num_threads(2)
        if name.endswith("sq8"):
            fx = faiss.IndexHNSWSQ(
                DIM, faiss.ScalarQuantizer.QT_8bit, 16, faiss.METRIC_INNER_PRODUCT
            )
            fx.train(normed)
        else:
            fx = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
        fx.hnsw.efConstruction = 128
        fx.add(normed)
        faiss.omp_set_num_threads(1)
        params = faiss.SearchParametersHNSW(efSearch=ef)

        def search(q: np.ndarray) -> np.ndarray:
            qn = (q / np.linalg.norm(q)).reshape(1, -1)
            return fx.search(qn, RERANK, params=params)[1][0]

    else:
        import hnswlib

        hx = hnswlib.Index(space="cosine", dim=DIM)
        hx.init_index(max_elements=n, ef_construction=128, M=16)
        hx.set_num_threads(2)
        hx.add_items(base, np.arange(n))
        hx.set_num_threads(1)
        hx.set_ef(ef)

        def search(q: np.ndarray) -> np.ndarray:
            return hx.knn_query(q, k=RERANK)[0][0].astype(np.int64)

    build_s = time.perf_counter() - t
    index_mb = rss_mb() - before
    lat, hits = [], 0
    for q, want in zip(queries, truth, strict=True):
        t = time.perf_counter()
        cand = search(q)
        cand = cand[cand >= 0]
        scores = normed[cand] @ (q / np.linalg.norm(q))
        got = cand[np.argsort(-scores)[:K]]
        lat.append((time.perf_counter() - t) * 1000)
        hits += len(want & set(got.tolist()))
    return {
        "config": name,
        "data": kind,
        "ef_search": ef,
        "build_s": round(build_s, 2),
        "query_p50_ms": round(float(np.percentile(lat, 50)), 3),
        "query_p99_ms": round(float(np.percentile(lat, 99)), 3),
        "recall_at_10": round(hits / (K * len(queries)), 4),
        "index_rss_mb": round(index_mb, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--ef", type=int, default=128)
    p.add_argument("--child", default="")
    p.add_argument("--data", choices=["random", "text", "both"], default="both")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.n, args.ef, args.data)))
        return
    rows: list[dict[str, Any]] = []
    load = [os.getloadavg()]
    kinds = ["random", "text"] if args.data == "both" else [args.data]
    if "text" in kinds:  # embed (or read the cache) once, before any timing
        from bench_ann_recall import TEXT_TOTAL, text_vectors

        text_vectors(TEXT_TOTAL)
    runs = [(name, kind) for kind in kinds for name in CONFIGS]
    for order in (runs, runs[::-1]):
        for name, kind in order:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    name,
                    "--n",
                    str(args.n),
                    "--ef",
                    str(args.ef),
                    "--data",
                    kind,
                ],
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                print(f"{name}: skipped ({out.stderr.strip().splitlines()[-1:]})")
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(row, flush=True)
            rows.append(row)
        load.append(os.getloadavg())
    result = {
        "n": args.n,
        "dim": DIM,
        "rerank_candidates": RERANK,
        "loadavg": load,
        "note": "2 cores shared with other work (loaded machine); per-config medians of 2 rounds",
        "rows": rows,
    }
    write_results(args.out, result)


if __name__ == "__main__":
    main()
