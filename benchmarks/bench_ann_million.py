"""1,000,000 x 384 in one namespace: settings of the approximate index side by side, in-process.

Why: the server's gRPC p50 at this size is the engine's query plus a fixed gRPC round trip,
and on a machine others share only a comparison made in one process, with the candidates
taking turns, says which setting is cheaper. This loads one 1,000,000 x 384 standard-normal
namespace (cosine) through the engine, then builds one ``AnnIndex`` per setting over the same
in-memory matrix and swaps them in per block of 5 queries (order reversed every other
round), measuring wall time, the process's CPU time per query and recall@10 against exact
search (200 queries, top_k 10):

* ``PQ192x4fs`` (2 dimensions per 4-bit code, the server's) with 300 or 150 candidates per
  shard (``shard_share`` 1.0 / 0.5, the server's);
* ``PQ128x4fs`` (3 dimensions per code) with 400 and 500 per shard;
* the server's setting with the exact re-scoring done on the calling thread after both
  halves' scans (``--serial``: the previous design), against each half re-scoring its own.

Second part (``--faiss``): the same data straight through faiss on one thread (4 shards,
then exact re-scoring with numpy), for settings the engine does not have: coarser codes
with more candidates, and faiss ``IndexRefine`` with 4-bit scalar or finer PQ codes as a
second stage. ``--third`` replaces the engine part's settings with the third pass's
comparison: the server (shards shared between the query thread and a helper thread, codes
on 2 MiB pages, fast-scan blocks of 64 rows) against the same with blocks of 32, with 4 KiB
pages, and against the second pass (fixed halves, 4 KiB pages, blocks of 32). ``--fourth``
compares the fourth pass's server (160 codes a row, 2.4 dimensions each on average, 300
candidates per shard) with 250 per shard, with every shard on the query's thread, and with
the third pass's server (192 codes, 150 per shard) on two threads and on one.
Usage: ``python benchmarks/bench_ann_million.py [--faiss] [--serial] [--third] [--fourth]``;
writes ``benchmarks/results/ann_million.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results
from bench_server import populate  # same folder: scripts run with it on sys.path

from tenant_rag.local.engine import ann

N = 1_000_000
DIM = 384
QUERIES = 200
RESULTS = Path(__file__).resolve().parent / "results" / "ann_million.json"


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors, queries, and the exact top 10 of each query (cosine)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N, DIM), dtype=np.float32)
    q = rng.standard_normal((QUERIES, DIM), dtype=np.float32)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    truth = np.argsort(-(q @ xn.T), axis=1)[:, :10]
    return x, q, truth


def variant(dims: float, share: float, **extra: Any) -> type[ann.AnnIndex]:
    """``AnnIndex`` with ``dims`` dimensions per code and each shard giving ``share`` x 300."""
    attrs = {"code_dims": dims, "shard_share": share, **extra}
    return type(f"Ann{dims}_{share}", (ann.AnnIndex,), attrs)


def serial_candidates(
    self: ann.AnnIndex,
    mat: Any,
    q: np.ndarray,
    metric: str,
    count: int,
    mask: Any = None,
    *,
    k: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """The previous design: both halves scan, then the calling thread re-scores them all."""
    live = max(self.ntotal - self.dead, 1)
    want = min(self.ntotal, int(count * self.ntotal / live) + 1)
    parts = self._search(self._prepare(q.reshape(1, -1)), want, lambda f: (f[0], f[0]))
    rows = self.slot_row[np.concatenate([p[0] for p in parts])]
    rows = rows[rows >= 0]
    return rows, mat.scores(q, None, metric, rows)


class ThirdPass(ann.AnnIndex):
    """The third pass's server: 2 dimensions per code, 150 candidates per shard."""

    code_dims = 2.0
    shard_share = 0.5


class SmallPages(ThirdPass):
    huge_pages = False


class Blocks32(ThirdPass):
    block_rows = 32


class SecondPass(ThirdPass):
    huge_pages = False
    block_rows = 32


class OneThread(ann.AnnIndex):
    """The server's setting with every shard scanned on the query's own thread."""

    share_scans = False


_halves_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-halves")


def fixed_halves_search(
    self: ann.AnnIndex, qv: np.ndarray, want: int, score: Any
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The second pass's split: the first half of the shards on the query thread, the other
    half handed to a pool thread and joined with a ``Future`` (faiss's OpenMP set per call)."""
    shards = list(self._shards)
    per = max(int(want * self.shard_share), -(-2 * want // len(shards)))

    def scan(first: int, stop: int) -> list[tuple[np.ndarray, np.ndarray]]:
        ann._faiss()
        found = [self._scan(shards[i], i, qv, per) for i in range(first, stop)]
        return [
            score((np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])))
        ]

    half = (len(shards) + 1) // 2
    other = _halves_pool.submit(scan, half, len(shards))
    mine = scan(0, half)
    return mine + other.result()


def engine_part(
    x: np.ndarray,
    q: np.ndarray,
    truth: np.ndarray,
    serial: bool,
    third: bool = False,
    fourth: bool = False,
) -> dict[str, Any]:
    from tenant_rag.local.engine import Engine

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        populate(Path(tmp), "million", {"m": x})
        engine = Engine(Path(tmp))
        index = engine.index("million")
        ql = [v.tolist() for v in q]
        index.query("m", 10, vector=ql[0])
        while (index.ann_info("m") or {}).get("state") != "ready":
            time.sleep(0.5)
        mat = index._ns["m"]
        settings: dict[str, Any] = {}
        kinds: tuple[tuple[str, type[ann.AnnIndex]], ...] = (
            ("PQ192x4fs 300/shard", variant(2, 1.0)),
            ("PQ192x4fs 150/shard (third pass)", variant(2, 0.5)),
            ("PQ128x4fs 400/shard", variant(3, 4 / 3)),
            ("PQ128x4fs 500/shard", variant(3, 5 / 3)),
        )
        if fourth:  # the fourth pass: coarser codes, more candidates, one thread or two
            kinds = (
                ("server: 2.4 dims per code, 300 per shard", ann.AnnIndex),
                ("2.4 dims per code, 250 per shard", variant(2.4, 250 / 300)),
                ("2.4 dims per code, 300 per shard, one thread", OneThread),
                ("third pass: 2 dims per code, 150 per shard", ThirdPass),
                ("third pass, one thread", type("ThirdOne", (ThirdPass,), {"share_scans": False})),
            )
        elif third:  # the third pass: shared shards + huge pages against what it replaced
            kinds = (
                ("server: shards shared, huge pages, blocks of 64", ThirdPass),
                ("shards shared, huge pages, blocks of 32", Blocks32),
                ("shards shared, 4 KiB pages, blocks of 64", SmallPages),
                ("fixed halves, 4 KiB pages, blocks of 32 (second pass)", SecondPass),
            )
        for name, kind in kinds:
            a = kind(index.dim, index.metric)
            t = time.perf_counter()
            a.build(mat, contextlib.nullcontext())
            out[f"{name} build_s"] = time.perf_counter() - t
            settings[name] = (a, None)
        if serial:
            settings["PQ192x4fs 150/shard, serial re-scoring"] = (
                settings["PQ192x4fs 150/shard (third pass)"][0],
                serial_candidates,
            )
        parallel = ann.AnnIndex.candidates
        shared = ann.AnnIndex._search
        stats: dict[str, list[Any]] = {k: [[], 0.0, 0] for k in settings}
        names = list(settings)
        for block in range(40):
            for name in names if block % 2 == 0 else names[::-1]:
                a, cand = settings[name]
                mat.ann = a
                halves = isinstance(a, SecondPass)
                ann.AnnIndex._search = fixed_halves_search if halves else shared  # type: ignore[method-assign]
                ann.AnnIndex.candidates = cand or parallel  # type: ignore[method-assign]
                c = time.process_time()
                for j in range(5):
                    qi = (block * 5 + j) % QUERIES
                    t = time.perf_counter()
                    res = index.query("m", 10, vector=ql[qi])
                    stats[name][0].append((time.perf_counter() - t) * 1000)
                    got = {int(m["id"].split("-")[1]) for m in res["matches"]}
                    stats[name][2] += len(got & set(truth[qi].tolist()))
                stats[name][1] += time.process_time() - c
        ann.AnnIndex.candidates = parallel  # type: ignore[method-assign]
        ann.AnnIndex._search = shared  # type: ignore[method-assign]
        for name, (wall, cpu, hits) in stats.items():
            out[name] = {
                "p50_ms": float(np.percentile(wall, 50)),
                "p90_ms": float(np.percentile(wall, 90)),
                "cpu_ms_per_query": cpu * 1000 / len(wall),
                "recall_at_10": hits / (10 * len(wall)),
            }
            print(name, json.dumps(out[name]), flush=True)
        engine.close()
    return out


def faiss_part(x: np.ndarray, q: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """One thread, 4 shards of 262,144, single queries; exact re-scoring with numpy."""
    import faiss

    faiss.omp_set_num_threads(1)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    sample = xn[np.linspace(0, N - 1, 8192).astype(np.int64)]
    shard = ann.SHARD_ROWS
    out: dict[str, Any] = {}

    def build(base: str, refine: str | None) -> list[Any]:
        b = faiss.index_factory(DIM, base, faiss.METRIC_INNER_PRODUCT)
        tmpl = b
        if refine:
            tmpl = faiss.IndexRefine(
                b, faiss.index_factory(DIM, refine, faiss.METRIC_INNER_PRODUCT)
            )
        tmpl.train(sample)
        shards = []
        for s in range(0, N, shard):
            sh = faiss.clone_index(tmpl)
            sh.add(xn[s : s + shard])
            shards.append(sh)
        return shards

    def measure(label: str, shards: list[Any], per: int, k_factor: int | None) -> None:
        params = faiss.IndexRefineSearchParameters(k_factor=k_factor) if k_factor else None
        hits, cpu = 0, 0.0
        for i in range(QUERIES):
            v = qn[i : i + 1]
            c = time.thread_time()
            cand = []
            for j, sh in enumerate(shards):
                ids = sh.search(v, per, params=params)[1][0] if params else sh.search(v, per)[1][0]
                cand.append(ids[ids >= 0] + j * shard)
            rows = np.concatenate(cand)
            top = rows[np.argsort(-np.einsum("ij,j->i", xn[rows], v[0]))[:10]]
            cpu += time.thread_time() - c
            hits += len(set(top.tolist()) & set(truth[i].tolist()))
        out[label] = {
            "cpu_ms_per_query": cpu * 1000 / QUERIES,
            "recall_at_10": hits / (10 * QUERIES),
        }
        print(label, json.dumps(out[label]), flush=True)

    for base, refine, runs in (
        ("PQ192x4fs", None, ((300, None), (150, None), (100, None))),
        ("PQ128x4fs", None, ((400, None), (500, None), (750, None))),
        ("PQ96x4fs", None, ((750, None), (1000, None), (1500, None))),
        ("PQ128x4fs", "SQ4", ((100, 6), (150, 4))),
        ("PQ128x4fs", "PQ192x4", ((100, 6),)),
        ("PQ96x4fs", "SQ4", ((150, 6),)),
    ):
        shards = build(base, refine)
        for per, kf in runs:
            name = f"{base}" + (f" + IndexRefine({refine}) {per * kf}->{per}" if kf else f" {per}")
            measure(f"{name} per shard", shards, per, kf)
        del shards
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--faiss", action="store_true", help="also the single-thread faiss part")
    p.add_argument("--serial", action="store_true", help="also the serial re-scoring A/B")
    p.add_argument(
        "--third",
        action="store_true",
        help="compare the third pass's settings instead (shards shared between the query "
        "thread and a helper, codes on 2 MiB pages) with the second pass's fixed halves",
    )
    p.add_argument(
        "--fourth",
        action="store_true",
        help="compare the fourth pass's settings instead (160 codes a row with 300 candidates "
        "per shard, or 250; one scanning thread or two) with the third pass's",
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    x, q, truth = data()
    result: dict[str, Any] = {"loadavg_start": os.getloadavg()}
    result["engine"] = engine_part(x, q, truth, args.serial, args.third, args.fourth)
    result["loadavg_after_engine"] = os.getloadavg()
    if args.faiss:
        result["faiss"] = faiss_part(x, q, truth)
    result["loadavg_end"] = os.getloadavg()
    write_results(args.out, result)


if __name__ == "__main__":
    main()
