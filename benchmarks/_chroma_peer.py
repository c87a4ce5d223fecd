"""Chroma's side of ``bench_peers.py``; runs in the side venv that has chromadb.

``python _chroma_peer.py http|persistent WORK_DIR DATA.npz`` loads the same data as the
tenant_rag side (one collection per tenant, plus one big collection), prints one JSON line
``{"ready": ..., "load_s": ...}``, then answers commands on stdin, one JSON line each, so
the caller can interleave its queries with tenant_rag's (every system sees the same load):

* ``small TENANT QUERY`` / ``big QUERY``: one query (top_k from the data file), timed
  here around the client call: ``{"ms": ..., "ids": [...]}``
* ``big10 QUERY``: the big collection's top 10 ids (recall), untimed
* ``stats``: ``{"rss_mb": ..., "disk_mb": ..., "chromadb": ...}``; ``quit``

``http`` starts ``chroma run`` and talks to it with ``HttpClient`` (RSS: the server's process
tree); ``persistent`` uses ``PersistentClient`` in this process (RSS: this process).
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


def main() -> None:
    mode, work, data_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    import chromadb

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = np.load(data_path)
    tenants, big, queries = data["tenants"], data["big"], data["queries"]
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
        del data, tenants, big
        gc.collect()
        print(json.dumps({"ready": True, "load_s": load_s}), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                break
            if cmd[0] == "stats":
                rss = tree_rss_mb(pid) if server is not None else rss_mb(pid)
                reply: dict[str, Any] = {
                    "rss_mb": rss,
                    "disk_mb": du_mb(work),
                    "chromadb": chromadb.__version__,
                }
            else:
                col = cols[int(cmd[1])] if cmd[0] == "small" else big_col
                q = queries[int(cmd[-1])]
                n = 10 if cmd[0] == "big10" else k
                t = time.perf_counter()
                res = col.query(query_embeddings=[q], n_results=n)
                reply = {"ms": (time.perf_counter() - t) * 1000, "ids": res["ids"][0]}
            print(json.dumps(reply), flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
