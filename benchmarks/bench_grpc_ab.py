"""A/B of the gRPC data plane: this tree's server against another revision's, alternating.

Why: a change to the gRPC layer must not cost upsert or query throughput, and on a
shared 2-core machine wall-clock figures swing with other people's jobs. This runs
``tenant-rag serve --grpc-port 0`` from each source tree in turn (``--rounds`` times),
drives it with the SDK 7.3.0 gRPC client (30 batches of 1,000 × 384, then 300
queries, top_k 10) and reports, besides wall figures, the **server process's CPU time**
per 1,000-vector upsert and per query, which load disturbs far less.

    git archive <rev> | tar -x -C /tmp/old-src
    .venv/bin/python benchmarks/bench_grpc_ab.py --old-src /tmp/old-src --rounds 4
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

DIM = 384
BATCHES = 30
QUERIES = 300


def run_once(src: Path | None) -> tuple[float, float, float, float]:
    """(upsert vectors/s, query p50 ms, server CPU ms per 1,000 upserted, per query)."""
    from pinecone import Pinecone
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    data = tempfile.mkdtemp(prefix="bench-grpc-ab-")
    cmd = [sys.executable, "-c", "from tenant_rag.cli.app import main; main()", "serve"]
    cmd += ["--port", "0", "--data", data, "--grpc-port", "0", "--log-level", "warning"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd="/"
    )
    try:
        url = target = None
        assert proc.stdout is not None
        while url is None or target is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the server exited before reporting its address")
            if m := re.search(r"serving (https?://[\d.]+:\d+)", line):
                url = m.group(1)
            if m := re.search(r"gRPC data plane on ([\d.]+:\d+)", line):
                target = m.group(1)
        Pinecone(api_key="b", host=url).create_index(
            name="ab",
            dimension=DIM,
            metric="cosine",
            spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
            timeout=-1,
        )
        index = PineconeGRPC(api_key="b").Index(
            name="ab", host=target, grpc_config=GRPCClientConfig(secure=False)
        )
        rng = np.random.default_rng(0)
        vecs = rng.standard_normal((BATCHES * 1000, DIM), dtype=np.float32)
        payloads = [
            [(f"g{b}-{i}", row) for i, row in enumerate(vecs[b * 1000 : (b + 1) * 1000].tolist())]
            for b in range(BATCHES)
        ]
        server = psutil.Process(proc.pid)

        def cpu() -> float:
            t = server.cpu_times()
            return float(t.user + t.system)

        index.upsert(vectors=payloads[0], namespace="warm")
        c0, t0 = cpu(), time.perf_counter()
        for p in payloads:
            index.upsert(vectors=p, namespace="ab")
        rate = BATCHES * 1000 / (time.perf_counter() - t0)
        upsert_cpu = (cpu() - c0) / BATCHES * 1000
        queries = rng.standard_normal((QUERIES, DIM), dtype=np.float32).tolist()
        for q in queries[:10]:
            index.query(vector=q, top_k=10, namespace="ab")
        ms = []
        c0 = cpu()
        for q in queries:
            t0 = time.perf_counter()
            index.query(vector=q, top_k=10, namespace="ab", include_metadata=True)
            ms.append((time.perf_counter() - t0) * 1000)
        query_cpu = (cpu() - c0) / QUERIES * 1000
        return rate, statistics.median(ms), upsert_cpu, query_cpu
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old-src", type=Path, required=True, help="the other source tree")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float, float]]] = {"old": [], "new": []}
    for _ in range(args.rounds):
        for name, src in (("old", args.old_src), ("new", None)):
            results[name].append(run_once(src))
            r = results[name][-1]
            print(
                f"{name}: upsert {r[0]:,.0f} vectors/s, query p50 {r[1]:.2f} ms, server CPU "
                f"{r[2]:.1f} ms per 1,000 upserted, {r[3]:.2f} ms per query "
                f"(load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    for name, rows in results.items():
        med = [statistics.median(r[i] for r in rows) for i in range(4)]
        print(
            f"{name} medians: upsert {med[0]:,.0f} vectors/s, query p50 {med[1]:.2f} ms, "
            f"server CPU {med[2]:.1f} ms per 1,000 upserted, {med[3]:.2f} ms per query"
        )


if __name__ == "__main__":
    main()
