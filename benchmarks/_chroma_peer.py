"""Chroma's side of ``bench_peers.py``; runs in the side venv that has chromadb.

``python _chroma_peer.py http|persistent WORK_DIR DATA.npz`` loads the same data as the
tenant_rag side (one collection per tenant, plus one big collection), queries it and
prints one JSON line. ``http`` starts ``chroma run`` and talks to it with ``HttpClient``;
``persistent`` uses ``PersistentClient`` in this process.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mb(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def collection(client: Any, name: str) -> Any:
    try:
        return client.create_collection(name, configuration={"hnsw": {"space": "cosine"}})
    except TypeError:  # older signature
        return client.create_collection(name, metadata={"hnsw:space": "cosine"})


def timed(fn: Any, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    mode, work, data_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    import chromadb

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = np.load(data_path)
    tenants, big, queries = data["tenants"], data["big"], data["queries"]
    truth = data["truth10"]
    k = int(data["top_k"])
    server = None
    if mode == "http":
        port = free_port()
        exe = Path(sys.executable).with_name("chroma")
        server = subprocess.Popen(
            [str(exe), "run", "--path", str(work), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = None
        for _ in range(300):
            try:
                client = chromadb.HttpClient(host="127.0.0.1", port=port)
                client.heartbeat()
                break
            except Exception:
                time.sleep(0.2)
        assert client is not None
        pid = server.pid
    else:
        client = chromadb.PersistentClient(path=str(work))
        pid = os.getpid()
    try:
        batch = min(5000, int(client.get_max_batch_size()))
        t0 = time.perf_counter()
        cols = []
        for t in range(tenants.shape[0]):
            col = collection(client, f"tenant-{t}")
            col.add(ids=[f"v{i}" for i in range(tenants.shape[1])], embeddings=tenants[t])
            cols.append(col)
        big_col = collection(client, "big-namespace")
        for s in range(0, len(big), batch):
            chunk = big[s : s + batch]
            big_col.add(ids=[f"b{s + i}" for i in range(len(chunk))], embeddings=chunk)
        load_s = time.perf_counter() - t0
        n_t = tenants.shape[0]
        del data, tenants, big
        gc.collect()
        rng = np.random.default_rng(1)
        picks = rng.integers(0, n_t, size=len(queries))
        for i in range(20):  # warm every path
            cols[int(picks[i])].query(query_embeddings=[queries[i]], n_results=k)
            big_col.query(query_embeddings=[queries[i]], n_results=k)
        small = timed(
            lambda i: cols[int(picks[i])].query(query_embeddings=[queries[i]], n_results=k),
            len(queries),
        )
        big_ms = timed(
            lambda i: big_col.query(query_embeddings=[queries[i]], n_results=k), len(queries)
        )
        hits = 0
        for i, q in enumerate(queries[: len(truth)]):
            got = big_col.query(query_embeddings=[q], n_results=10)["ids"][0]
            hits += len({f"b{j}" for j in truth[i]} & set(got))
        out = {
            "mode": mode,
            "chromadb": chromadb.__version__,
            "load_s": load_s,
            "small_p50_ms": float(np.percentile(small, 50)),
            "small_p99_ms": float(np.percentile(small, 99)),
            "big_p50_ms": float(np.percentile(big_ms, 50)),
            "big_p99_ms": float(np.percentile(big_ms, 99)),
            "big_recall_at_10": hits / (10 * len(truth)),
            "rss_mb": tree_rss_mb(pid) if server is not None else rss_mb(pid),
            "disk_mb": du_mb(work),
        }
        print(json.dumps(out))
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
