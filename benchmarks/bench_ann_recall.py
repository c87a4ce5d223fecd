"""Recall@10 of the embedded server's approximate search against its exact search, with latency.

Two data sets, each in one namespace of a cosine index, searched in-process through the
engine (no network) so the figures are the search's own:

* ``random``: 100,000 x 384 standard-normal vectors (no structure: the hard case).
* ``text``: sentences of the docstrings of Python's standard library and of the installed
  packages (text shipped with the interpreter and the venv), embedded with the local MiniLM model (``tenant_rag.models``
  default embeddings, 384 dimensions); queries are held-out sentences.

For each: the same engine code with the approximate index (after its background build)
and without it (``TENANT_RAG_LOCAL_ANN_MIN_ROWS=0``), 200 queries, top_k 10, plus a broad
filter (90% of rows) and a selective one (2%), whose matches must all pass the filter.

Usage: ``python benchmarks/bench_ann_recall.py [--quick] [--shard-rows N] [--out PATH]``;
writes ``benchmarks/results/ann_recall.json``. ``--shard-rows 10000`` splits the index as a
namespace past 262,144 rows is split (every shard gives the full candidate count, and the
index gets the coarser codes of a namespace built past one shard: 2.4 dimensions per code),
to measure that path's recall on both data sets.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results

from tenant_rag.local.engine.settings import ANN_MIN_ROWS_ENV

RESULTS = Path(__file__).resolve().parent / "results" / "ann_recall.json"
K = 10
QUERIES = 200
TEXT_ROWS = 40_000  # docstring sentences searched; the QUERIES before them are the queries
TEXT_TOTAL = TEXT_ROWS + QUERIES


def stdlib_sentences(limit: int) -> list[str]:
    """Distinct sentences (6-40 words) from docstrings of the stdlib's .py files, then of the
    installed packages' (text shipped with the interpreter and this venv)."""
    seen: set[str] = set()
    out: list[str] = []
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = [p for p in sorted(stdlib.rglob("*.py")) if "site-packages" not in p.parts]
    paths += sorted(Path(sysconfig.get_paths()["purelib"]).rglob("*.py"))
    for path in paths:
        if "test" in path.parts or "tests" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        for block in re.findall(r'"""(.*?)"""', text, re.S):
            for sent in re.split(r"(?<=[.!?])\s+", " ".join(block.split())):
                words = sent.split()
                if 6 <= len(words) <= 40 and sent not in seen:
                    seen.add(sent)
                    out.append(sent)
                    if len(out) >= limit:
                        return out
    return out


CACHE = Path(__file__).resolve().parent / ".cache"


def text_vectors(n: int) -> tuple[np.ndarray, float]:
    """MiniLM embeddings of the first ``n`` docstring sentences, and the seconds embedding
    took (0 when read from ``benchmarks/.cache``, which other benchmarks share)."""
    path = CACHE / f"minilm-docstrings-{n}.npy"
    if path.exists():
        return np.load(path), 0.0
    from tenant_rag.models import default_embeddings

    sentences = stdlib_sentences(n)
    t = time.perf_counter()
    vecs = np.asarray(default_embeddings().embed_documents(sentences), dtype=np.float32)
    took = time.perf_counter() - t
    CACHE.mkdir(exist_ok=True)
    np.save(path, vecs)
    return vecs, took


def run(data: np.ndarray, queries: np.ndarray, ann: bool) -> dict[str, Any]:
    """Load ``data`` into a fresh engine, search ``queries``; ids and per-query ms."""
    from tenant_rag.local.engine import Engine

    os.environ[ANN_MIN_ROWS_ENV] = "20000" if ann else "0"
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Path(tmp))
        engine.create_index(
            {
                "name": "recall",
                "dimension": data.shape[1],
                "metric": "cosine",
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
            }
        )
        index = engine.index("recall")
        for s in range(0, len(data), 1000):
            index.upsert(
                "ns",
                [
                    {"id": str(s + i), "values": r, "metadata": {"g": (s + i) % 50}}
                    for i, r in enumerate(data[s : s + 1000])
                ],
            )
        t0 = time.perf_counter()
        index.query("ns", K, vector=queries[0].tolist())  # loads; starts the build
        build_s = None
        if ann:
            while (info := index.ann_info("ns")) is None or info["state"] != "ready":
                time.sleep(0.05)
            build_s = time.perf_counter() - t0
        out: dict[str, Any] = {"build_s": build_s}
        for label, flt in (("none", None), ("broad", {"g": {"$lt": 45}}), ("selective", {"g": 7})):
            ids, ms = [], []
            for q in queries:
                ql = q.tolist()
                t = time.perf_counter()
                res = index.query("ns", K, vector=ql, flt=flt, include_metadata=flt is not None)
                ms.append((time.perf_counter() - t) * 1000)
                ids.append([m["id"] for m in res["matches"]])
                if flt is not None:
                    g = [m["metadata"]["g"] for m in res["matches"]]
                    assert all(x < 45 for x in g) if label == "broad" else all(x == 7 for x in g)
            out[label] = {"ids": ids, "p50_ms": float(np.percentile(ms, 50))}
        out["info"] = index.ann_info("ns")
        engine.close()
        return out


def compare(name: str, data: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    exact = run(data, queries, ann=False)
    approx = run(data, queries, ann=True)
    row: dict[str, Any] = {"rows": len(data), "dim": data.shape[1], "build_s": approx["build_s"]}
    for label in ("none", "broad", "selective"):
        hits = sum(
            len(set(a) & set(e))
            for a, e in zip(approx[label]["ids"], exact[label]["ids"], strict=True)
        )
        row[label] = {
            "recall_at_10": hits / (K * len(queries)),
            "approx_p50_ms": approx[label]["p50_ms"],
            "exact_p50_ms": exact[label]["p50_ms"],
        }
    row["counters"] = approx["info"]
    print(name, json.dumps(row), flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--shard-rows",
        type=int,
        default=0,
        help="split the approximate index into shards of this many rows (the path of "
        "namespaces past tenant_rag.local.engine.ann.SHARD_ROWS, 262,144), so its shared "
        "candidates and parallel re-scoring are measured on these smaller data sets",
    )
    args = p.parse_args()
    if args.shard_rows:
        from tenant_rag.local.engine import ann

        ann.SHARD_ROWS = args.shard_rows
    n_random = 30_000 if args.quick else 100_000
    n_text = 21_000 if args.quick else TEXT_ROWS
    rng = np.random.default_rng(0)
    result: dict[str, Any] = {
        "loadavg_start": os.getloadavg(),
        "note": "2 shared cores; in-process engine calls, single query at a time",
        "shard_rows": args.shard_rows or None,
    }
    result["random"] = compare(
        "random",
        rng.standard_normal((n_random, 384), dtype=np.float32),
        rng.standard_normal((QUERIES, 384), dtype=np.float32),
    )
    vecs, result["text_embed_s"] = text_vectors(n_text + QUERIES)
    result["text"] = compare("text", vecs[QUERIES:], vecs[:QUERIES])
    result["text"]["source"] = (
        "docstring sentences of the stdlib and installed packages, MiniLM-L6-v2 int8"
    )
    result["loadavg_end"] = os.getloadavg()
    write_results(args.out, result)


if __name__ == "__main__":
    main()
