"""tenant_rag's embedded server beside Chroma, in one run on this machine (issue 15's table).

Workload: 500 tenants x 200 vectors (one namespace / one collection per tenant) plus one
100,000-vector namespace / collection; 384 dimensions, cosine, standard-normal vectors;
top_k 5; one query at a time, 300 per figure, tenants picked at random.

Interleaved, because the machine is shared: all four systems run at once, and for each query
number the systems take their turn in a shuffled order (a small-tenant query, then a big one),
so a burst of someone else's load falls on all of them alike. Every tenant is touched once in
every system before timing (tenant_rag's first touch of a tenant loads it from SQLite; that
cold figure is reported separately).

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
import contextlib
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
from _ann_state import wait_until_approximate
from _results import write_results

from tenant_rag.local.process import serve_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_VENV = ROOT / ".venv-peers"
CHROMADB = "chromadb==1.5.9"
DIM = 384
TOP_K = 5
RESULTS = HERE / "results" / "peers.json"
CHROMA = ("http", "persistent")


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


class ChromaPeer:
    """One ``_chroma_peer.py`` child (``http`` or ``persistent``), driven line by line."""

    def __init__(self, mode: str, work: Path, data_file: Path) -> None:
        self.mode = mode
        self.proc = subprocess.Popen(
            [str(peer_python()), str(HERE / "_chroma_peer.py"), mode, str(work), str(data_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.load_s = float(self._reply()["load_s"])

    def _reply(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"chroma {self.mode} peer exited (code {self.proc.poll()})")
            if line.startswith("{"):  # chromadb may print other lines
                reply: dict[str, Any] = json.loads(line)
                return reply

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("quit")
        self.proc.wait(60)


def timed_ms(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def run(
    work: Path,
    tenants: np.ndarray,
    big: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    data_file: Path,
) -> dict[str, Any]:
    """Load every system, then time them interleaved; returns per-system figures."""
    from pinecone import Pinecone
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    data_dir = work / "tenant_rag"
    t0 = time.perf_counter()
    populate(data_dir, tenants, big)
    ours_load_s = time.perf_counter() - t0
    q_lists = [q.tolist() for q in queries]
    n_t = len(tenants)
    picks = np.random.default_rng(1).integers(0, n_t, size=len(queries))
    out: dict[str, Any] = {}
    peers = {mode: ChromaPeer(mode, work / f"chroma-{mode}", data_file) for mode in CHROMA}
    try:
        with serve_process(data_dir, grpc=True) as srv:
            rest = Pinecone(api_key="bench", host=srv.url).Index(name="peers")
            grpc = PineconeGRPC(api_key="bench").Index(
                name="peers", host=srv.grpc_target, grpc_config=GRPCClientConfig(secure=False)
            )
            ours: dict[str, Any] = {"load_s": ours_load_s}
            ours["big_first_query_ms"] = timed_ms(
                lambda: rest.query(vector=q_lists[0], top_k=TOP_K, namespace="big")
            )
            exact_ms = [
                timed_ms(lambda q=q: rest.query(vector=q, top_k=TOP_K, namespace="big"))
                for q in q_lists[1:6]
            ]
            ours["big_exact_while_building_p50_ms"] = pct(exact_ms, 50)
            ours["ann_ready_after_s"] = wait_until_approximate(srv.url, "peers", "big")
            cold = [  # first touch of each tenant: loaded from SQLite
                timed_ms(lambda t=t: rest.query(vector=q_lists[0], top_k=TOP_K, namespace=f"t{t}"))
                for t in range(n_t)
            ]
            ours["small_cold_first_touch_p50_ms"] = pct(cold, 50)
            for t in range(n_t):  # warm every tenant on the gRPC path and Chroma's too
                grpc.query(vector=q_lists[0], top_k=TOP_K, namespace=f"t{t}")
                for peer in peers.values():
                    peer.ask(f"small {t} 0")
            out["tenant_rag"] = ours

            def ours_query(client: Any, ns: str, i: int) -> float:
                return timed_ms(lambda: client.query(vector=q_lists[i], top_k=TOP_K, namespace=ns))

            systems: dict[str, Any] = {
                "rest": lambda kind, t, i: ours_query(rest, "big" if kind == "big" else f"t{t}", i),
                "grpc": lambda kind, t, i: ours_query(grpc, "big" if kind == "big" else f"t{t}", i),
            }
            for mode, peer in peers.items():
                systems[f"chroma_{mode}"] = lambda kind, t, i, p=peer: float(
                    p.ask(f"small {t} {i}" if kind == "small" else f"big {i}")["ms"]
                )
            times: dict[str, dict[str, list[float]]] = {
                s: {"small": [], "big": []} for s in systems
            }
            order = list(systems)
            shuffle = np.random.default_rng(2)
            for i in range(len(q_lists)):
                shuffle.shuffle(order)
                for name in order:
                    for kind in ("small", "big"):
                        times[name][kind].append(systems[name](kind, int(picks[i]), i))
            recall_hits = dict.fromkeys(systems, 0)
            for i in range(len(truth)):
                want = {f"b{j}" for j in truth[i]}
                for name, client in (("rest", rest), ("grpc", grpc)):
                    got = client.query(vector=q_lists[i], top_k=10, namespace="big").matches
                    recall_hits[name] += len(want & {m.id for m in got})
                for mode, peer in peers.items():
                    recall_hits[f"chroma_{mode}"] += len(want & set(peer.ask(f"big10 {i}")["ids"]))
            rss = rss_mb(srv.pid)
        for name in systems:
            row = {
                "small_p50_ms": pct(times[name]["small"], 50),
                "small_p99_ms": pct(times[name]["small"], 99),
                "big_p50_ms": pct(times[name]["big"], 50),
                "big_p99_ms": pct(times[name]["big"], 99),
                "big_recall_at_10": recall_hits[name] / (10 * len(truth)),
            }
            if name in ("rest", "grpc"):
                out["tenant_rag"][name] = row
            else:
                out[name] = row
        out["tenant_rag"]["rss_mb"] = rss
        out["tenant_rag"]["disk_mb"] = du_mb(data_dir)
        out["tenant_rag"]["big_recall_at_10"] = out["tenant_rag"]["rest"]["big_recall_at_10"]
        for mode, peer in peers.items():
            stats = peer.ask("stats")
            out[f"chroma_{mode}"].update(
                load_s=peer.load_s, rss_mb=stats["rss_mb"], disk_mb=stats["disk_mb"]
            )
            out[f"chroma_{mode}"]["chromadb"] = stats["chromadb"]
    finally:
        for peer in peers.values():
            peer.close()
    return out


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
        np.savez(data_file, tenants=tenants, big=big, queries=queries, top_k=TOP_K)
        result.update(run(work, tenants, big, queries, truth, data_file))
        for key in ("tenant_rag", *(f"chroma_{m}" for m in CHROMA)):
            print(key, json.dumps(result[key]), flush=True)
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
    write_results(args.out, result)


if __name__ == "__main__":
    main()
