"""tenant_rag's embedded server beside Chroma, in one run on this machine (issue 15's table).

Workload: 500 tenants x 200 vectors (one namespace / one collection per tenant) plus one
100,000-vector namespace / collection; 384 dimensions, cosine, standard-normal vectors;
top_k 5; one query at a time, 300 per figure, tenants picked at random.

Systems: tenant_rag's server (``tenant-rag serve``, a child process) through the Pinecone
SDK over REST and over gRPC; Chroma's server (``chroma run``) through ``HttpClient``; Chroma's
``PersistentClient`` in-process. Per system: small-tenant query p50/p99, 100k query p50,
recall@10 on the 100k namespace against exact search, server RSS, bytes on disk.

chromadb is a benchmark-only peer, never a tenant_rag dependency: this script creates a side
venv (``.venv-peers`` at the repo root) with ``chromadb==1.5.9`` on first use and runs
Chroma's half (``_chroma_peer.py``) there.

Usage: ``python benchmarks/bench_peers.py [--quick]``; writes ``benchmarks/results/peers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tenant_rag.local.process import serve_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_VENV = ROOT / ".venv-peers"
CHROMADB = "chromadb==1.5.9"
DIM = 384
TOP_K = 5
RESULTS = HERE / "results" / "peers.json"


def peer_python() -> Path:
    """The side venv's python, created with chromadb on first use."""
    py = PEERS_VENV / "bin" / "python"
    if not (PEERS_VENV / "bin" / "chroma").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        uv = Path(sys.executable).with_name("uv")
        installer = (
            [str(uv), "pip", "install", "--python", str(py)]
            if uv.exists()
            else [
                str(py),
                "-m",
                "pip",
                "install",
            ]
        )
        subprocess.run([*installer, "-q", CHROMADB, "psutil", "numpy"], check=True)
    return py


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p))


def exact_top(normed: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    s = normed @ (q / np.linalg.norm(q))
    top = np.argpartition(-s, k - 1)[:k]
    return top[np.argsort(-s[top])]


def populate(data_dir: Path, tenants: np.ndarray, big: np.ndarray) -> None:
    """Write the workload through the engine in-process (setup, not measured)."""
    from tenant_rag.local.engine import Engine

    engine = Engine(data_dir)
    try:
        engine.create_index(
            {
                "name": "peers",
                "dimension": DIM,
                "metric": "cosine",
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
            }
        )
        index = engine.index("peers")
        for t in range(len(tenants)):
            index.upsert(f"t{t}", [{"id": f"v{i}", "values": r} for i, r in enumerate(tenants[t])])
        for s in range(0, len(big), 1000):
            index.upsert(
                "big", [{"id": f"b{s + i}", "values": r} for i, r in enumerate(big[s : s + 1000])]
            )
    finally:
        engine.close()


def wait_until_fast(query: Any, slow_ms: float, timeout: float = 900.0) -> float:
    """Seconds until 5 queries in a row take under 40% of the exact search's time: the
    approximate index, built in the background after the first query, is then serving."""
    t0 = time.monotonic()
    streak = 0
    while time.monotonic() - t0 < timeout:
        t = time.perf_counter()
        query()
        streak = streak + 1 if (time.perf_counter() - t) * 1000 < 0.4 * slow_ms else 0
        if streak >= 5:
            return time.monotonic() - t0
        time.sleep(0.2 if streak == 0 else 0)
    raise RuntimeError("the approximate index never started serving")


def ours(
    work: Path, tenants: np.ndarray, big: np.ndarray, queries: np.ndarray, truth: np.ndarray
) -> dict[str, Any]:
    from pinecone import Pinecone
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    data_dir = work / "tenant_rag"
    t0 = time.perf_counter()
    populate(data_dir, tenants, big)
    load_s = time.perf_counter() - t0
    q_lists = [q.tolist() for q in queries]
    picks = np.random.default_rng(1).integers(0, len(tenants), size=len(queries))
    out: dict[str, Any] = {"load_s": load_s}
    with serve_process(data_dir, grpc=True) as srv:
        rest = Pinecone(api_key="bench", host=srv.url).Index(name="peers")
        grpc = PineconeGRPC(api_key="bench").Index(
            name="peers", host=srv.grpc_target, grpc_config=GRPCClientConfig(secure=False)
        )
        t = time.perf_counter()
        rest.query(vector=q_lists[0], top_k=TOP_K, namespace="big")  # loads; starts the build
        first_ms = (time.perf_counter() - t) * 1000
        exact_ms = []
        for q in q_lists[1:6]:
            t = time.perf_counter()
            rest.query(vector=q, top_k=TOP_K, namespace="big")
            exact_ms.append((time.perf_counter() - t) * 1000)
        out["big_first_query_ms"] = first_ms
        out["big_exact_while_building_p50_ms"] = pct(exact_ms, 50)
        out["ann_ready_after_s"] = wait_until_fast(
            lambda: rest.query(vector=q_lists[7], top_k=TOP_K, namespace="big"), pct(exact_ms, 50)
        )
        for client in (rest, grpc):  # warm every path
            for i in range(20):
                client.query(vector=q_lists[i], top_k=TOP_K, namespace=f"t{picks[i]}")
                client.query(vector=q_lists[i], top_k=TOP_K, namespace="big")
        for name, client in (("rest", rest), ("grpc", grpc)):
            small, bigs = [], []
            for i, q in enumerate(q_lists):
                t = time.perf_counter()
                client.query(vector=q, top_k=TOP_K, namespace=f"t{picks[i]}")
                small.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                client.query(vector=q, top_k=TOP_K, namespace="big")
                bigs.append((time.perf_counter() - t) * 1000)
            out[name] = {
                "small_p50_ms": pct(small, 50),
                "small_p99_ms": pct(small, 99),
                "big_p50_ms": pct(bigs, 50),
                "big_p99_ms": pct(bigs, 99),
            }
        hits = 0
        for i, q in enumerate(q_lists[: len(truth)]):
            got = rest.query(vector=q, top_k=10, namespace="big").matches
            hits += len({f"b{j}" for j in truth[i]} & {m.id for m in got})
        out["big_recall_at_10"] = hits / (10 * len(truth))
        out["rss_mb"] = rss_mb(srv.pid)
    out["disk_mb"] = du_mb(data_dir)
    return out


def chroma(mode: str, work: Path, data_file: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [
            str(peer_python()),
            str(HERE / "_chroma_peer.py"),
            mode,
            str(work / f"chroma-{mode}"),
            str(data_file),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"chroma {mode} failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    n_tenants, per_tenant = (50, 200) if args.quick else (500, 200)
    big_n = 30_000 if args.quick else 100_000
    n_queries = 100 if args.quick else 300
    rng = np.random.default_rng(0)
    tenants = rng.standard_normal((n_tenants, per_tenant, DIM), dtype=np.float32)
    big = rng.standard_normal((big_n, DIM), dtype=np.float32)
    queries = rng.standard_normal((n_queries, DIM), dtype=np.float32)
    normed = big / np.linalg.norm(big, axis=1, keepdims=True)
    truth = np.stack([exact_top(normed, q, 10) for q in queries[:100]])
    del normed
    peer_python()
    work = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_start": os.getloadavg(),
            "note": "2 shared cores; clients and servers on the same machine",
        },
        "params": {
            "tenants": n_tenants,
            "per_tenant": per_tenant,
            "big_n": big_n,
            "dim": DIM,
            "top_k": TOP_K,
            "queries": n_queries,
            "quick": args.quick,
        },
    }
    try:
        data_file = work / "data.npz"
        np.savez(data_file, tenants=tenants, big=big, queries=queries, truth10=truth, top_k=TOP_K)
        result["tenant_rag"] = ours(work, tenants, big, queries, truth)
        print("tenant_rag", json.dumps(result["tenant_rag"]), flush=True)
        for mode in ("http", "persistent"):
            result[f"chroma_{mode}"] = chroma(mode, work, data_file)
            print(f"chroma {mode}", json.dumps(result[f"chroma_{mode}"]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["machine"]["loadavg_end"] = os.getloadavg()
    ours_ = result["tenant_rag"]
    rows = []
    for label, key in (
        ("tenant_rag embedded, REST", "rest"),
        ("tenant_rag embedded, gRPC", "grpc"),
    ):
        r = ours_[key]
        rows.append(
            (
                label,
                r["small_p50_ms"],
                r["small_p99_ms"],
                r["big_p50_ms"],
                ours_["big_recall_at_10"],
                ours_["rss_mb"],
                ours_["disk_mb"],
            )
        )
    for label, key in (
        ("Chroma server (chroma run, HttpClient)", "chroma_http"),
        ("Chroma PersistentClient (in-process)", "chroma_persistent"),
    ):
        c = result[key]
        rows.append(
            (
                label,
                c["small_p50_ms"],
                c["small_p99_ms"],
                c["big_p50_ms"],
                c["big_recall_at_10"],
                c["rss_mb"],
                c["disk_mb"],
            )
        )
    print(f"\n| system | small-tenant p50 / p99 | {big_n:,} p50 | recall@10 | server RSS | disk |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, s50, s99, b50, rec, rss, disk in rows:
        print(
            f"| {label} | {s50:.2f} / {s99:.2f} ms | {b50:.2f} ms | {rec:.3f} | {rss:,.0f} MB | {disk:,.0f} MB |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
