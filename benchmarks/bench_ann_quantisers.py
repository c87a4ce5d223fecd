"""4-bit quantisers side by side on one shard: is there a code that needs fewer bytes a row
for the same candidates' recall?

Why: a 1,000,000-row query's scans stream every row's codes, and their time follows the bytes
(the host's memory bandwidth: ``_host``). The server scans faiss ``PQ160x4fs`` (80 bytes a row
at 384 dimensions: ``ann.code_layout`` at ``ann.CODE_DIMS``) and re-scores each shard's best
300 exactly. A quantiser that ranked the true neighbours as high with fewer bytes would cut
the scans; additive codes (residual, local search) are the usual candidates. This measures,
on one shard of ``ann.SHARD_ROWS`` standard-normal rows (cosine, the benchmark's data) and
200 queries, the share of each query's exact top 10 found among the shard's best ``k`` by
the quantiser's estimate (then re-scored exactly, as the server does), for k 300, 450, 600:

* ``PQ160x4fs_128`` in the server's padded layout (80 bytes), ``PQ128x4fs_128`` (64 bytes);
* ``PRQ32x5x4fs_128`` (80 bytes: 32 sub-spaces of 12 dimensions, 5 residual 4-bit codes
  each), ``PRQ48x3x4fs_128`` (72 bytes), ``PRQ32x4x4fs_128`` (64 bytes);
* with ``--lsq``, ``PLSQ32x5x4fs_128`` (80 bytes, local search codes: about 9 minutes to
  train and encode one shard here, against 3 s for PQ).

Also the build time per shard and the scan's p50 on one thread (noisy on a shared host: what
a shard's scan costs follows its bytes, ``_host``). A shard answers for a quarter of a 1,000,000-row
namespace, so its recall here is below the namespace's (the server's 0.943 at k 300 here is
0.990 over 4 shards in ``bench_server.py --only million``).

Usage: ``python benchmarks/bench_ann_quantisers.py [--lsq] [--out PATH]``; writes
``benchmarks/results/ann_quantisers.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from _host import memory_read_gbs
from _results import write_results

DIM = 384
QUERIES = 200
KS = (300, 450, 600)
RESULTS = Path(__file__).resolve().parent / "results" / "ann_quantisers.json"


def measure(spec: str, x: np.ndarray, q: np.ndarray, exact: np.ndarray, cols: Any) -> dict:
    """Build ``spec`` over ``x`` (padded to ``cols`` when given), then recall and scan p50 per k."""
    import faiss

    if cols is not None:
        codes_width = int(cols.max()) + 1
        xp = np.zeros((len(x), codes_width), dtype=np.float32)
        xp[:, cols] = x
        qp = np.zeros((len(q), codes_width), dtype=np.float32)
        qp[:, cols] = q
    else:
        xp, qp = x, q
    faiss.omp_set_num_threads(2)  # the server's build thread pool is faiss's own here
    index = faiss.index_factory(xp.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    t = time.perf_counter()
    index.train(xp[:: max(1, len(xp) // 32_768)][:32_768])
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    index.add(xp)
    add_s = time.perf_counter() - t
    faiss.omp_set_num_threads(1)  # queries on one thread, as the server's
    truth = np.argsort(-exact, axis=1)[:, :10]
    out: dict[str, Any] = {
        "bytes_per_row": int(index.code_size),
        "train_s": train_s,
        "add_s": add_s,
        "by_k": {},
    }
    for k in KS:
        found = 0
        times = []
        for i in range(len(qp)):
            t = time.perf_counter()
            _, ids = index.search(qp[i : i + 1], k)
            times.append(time.perf_counter() - t)
            cand = ids[0][ids[0] >= 0]
            best = cand[np.argsort(-exact[i, cand])[:10]]  # re-scored exactly
            found += len(set(best.tolist()) & set(truth[i].tolist()))
        out["by_k"][str(k)] = {
            "recall_at_10": found / (10 * len(qp)),
            "scan_p50_ms": float(np.median(times) * 1e3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lsq", action="store_true", help="also PLSQ (about 9 minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from tenant_rag.local.engine import ann

    rng = np.random.default_rng(0)
    x = rng.standard_normal((ann.SHARD_ROWS, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = rng.standard_normal((QUERIES, DIM), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = q @ x.T
    codes, _, cols = ann.code_layout(DIM, ann.CODE_DIMS)
    specs: list[tuple[str, Any]] = [
        (f"PQ{codes}x4fs_128", cols),
        ("PQ128x4fs_128", None),
        ("PRQ32x5x4fs_128", None),
        ("PRQ48x3x4fs_128", None),
        ("PRQ32x4x4fs_128", None),
    ]
    if args.lsq:
        specs.append(("PLSQ32x5x4fs_128", None))
    result: dict[str, Any] = {
        "rows": ann.SHARD_ROWS,
        "dim": DIM,
        "queries": QUERIES,
        "host_read_gbs_start": memory_read_gbs(),
        "quantisers": {},
    }
    print(f"{'quantiser':<20} {'bytes':>5} {'build s':>8}  recall@10 (scan p50 ms) at k " + str(KS))
    for spec, layout in specs:
        r = measure(spec, x, q, exact, layout)
        result["quantisers"][spec] = r
        cells = "  ".join(
            f"{v['recall_at_10']:.4f} ({v['scan_p50_ms']:.2f})" for v in r["by_k"].values()
        )
        build = r["train_s"] + r["add_s"]
        print(f"{spec:<20} {r['bytes_per_row']:>5} {build:>8.1f}  {cells}", flush=True)
    result["host_read_gbs_end"] = memory_read_gbs()
    write_results(args.out, result)


if __name__ == "__main__":
    main()
