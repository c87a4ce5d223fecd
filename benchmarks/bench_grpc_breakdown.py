"""What a gRPC query costs outside the engine, as SDK 7.3.0's client sees it: ours against a
server that does nothing.

Why: ``bench_server.py``'s small-tenant gRPC p50 sits well above ``bench_grpc_server_modes.py``'s
fixed answer through the same client, which suggested a millisecond of our own between grpcio
and the engine that every query pays (figures: docs/scale.md, seventh pass). This puts the two
side by side, in one client process, taking turns in blocks of 50 queries:

* **ours**: ``tenant-rag serve`` over a data dir holding one 1,000 x 384 cosine namespace
  (exact search), and with ``--million`` also the 1,000,000 x 384 namespace of
  ``bench_server.py --only million`` (same seed, approximate index; its build is waited for);
* **fixed**: grpcio's sync server answering one fixed 10-match ``QueryResponse``
  (``bench_grpc_server_modes.serve``), with no work (``--busy`` 0) and, for the 1M rows,
  spinning ``--busy`` ms of CPU per call (the stand-in for the engine).

Each target is called two ways: the SDK's ``GRPCIndex.query`` (request build, call, response
parse into OpenAPI models), and its bare stub (``index.runner.run(index.stub.Query, ...)``:
the same request message and metadata, no parsing). Reported per cell: p50 / p90 (ms), the
server's CPU per request and the client process's CPU per request (both from the kernel's
accounting).

Usage: ``python benchmarks/bench_grpc_breakdown.py [--million] [--busy MS] [--out PATH]``;
writes ``benchmarks/results/grpc_breakdown.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _ann_state import wait_until_approximate
from _results import write_results
from bench_server import DIM, TOP_K, cpu_seconds, percentile, populate

from tenant_rag.local.process import serve_process

RESULTS = Path(__file__).resolve().parent / "results" / "grpc_breakdown.json"
BLOCK = 50


@contextlib.contextmanager
def fixed_server(busy_ms: float) -> Iterator[tuple[int, str]]:
    """``bench_grpc_server_modes.py``'s sync server (fixed answer); yields (pid, target)."""
    script = Path(__file__).resolve().parent / "bench_grpc_server_modes.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--serve", "sync", "--busy", str(busy_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.pid, f"127.0.0.1:{proc.stdout.readline().strip()}"
    finally:
        proc.kill()
        proc.wait()


def _index(target: str, name: str) -> Any:
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    return PineconeGRPC(api_key="bench").Index(
        name=name, host=target, grpc_config=GRPCClientConfig(secure=False)
    )


def _calls(index: Any, namespace: str) -> dict[str, Callable[[list[float]], Any]]:
    """The SDK's query, and its stub with the same request message and metadata."""
    from pinecone.core.grpc.protos.db_data_2025_04_pb2 import QueryRequest

    def sdk(q: list[float]) -> Any:
        return index.query(vector=q, top_k=TOP_K, namespace=namespace)

    def stub(q: list[float]) -> Any:
        request = QueryRequest(vector=q, top_k=TOP_K, namespace=namespace)
        return index.runner.run(index.stub.Query, request)

    return {"sdk": sdk, "stub": stub}


def run_cells(
    cells: dict[str, tuple[Callable[[list[float]], Any], int]], queries: list[list[float]]
) -> dict[str, dict[str, float]]:
    """Every cell answers every query; cells take turns in blocks of ``BLOCK``."""
    for call, _ in cells.values():  # warm each channel and server
        for q in queries[:30]:
            call(q)
    lat: dict[str, list[float]] = {c: [] for c in cells}
    server_cpu = dict.fromkeys(cells, 0.0)
    client_cpu = dict.fromkeys(cells, 0.0)
    for start in range(0, len(queries), BLOCK):
        for name, (call, pid) in cells.items():
            s0, c0 = cpu_seconds(pid), time.process_time()
            for q in queries[start : start + BLOCK]:
                t = time.perf_counter()
                call(q)
                lat[name].append((time.perf_counter() - t) * 1000)
            client_cpu[name] += time.process_time() - c0
            server_cpu[name] += cpu_seconds(pid) - s0
    return {
        name: {
            "p50_ms": percentile(v, 50),
            "p90_ms": percentile(v, 90),
            "server_cpu_ms_per_request": server_cpu[name] * 1000 / len(v),
            "client_cpu_ms_per_request": client_cpu[name] * 1000 / len(v),
        }
        for name, v in lat.items()
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--million", action="store_true", help="also the 1,000,000 x 384 namespace")
    p.add_argument("--busy", type=float, default=3.0, help="fixed server's CPU per call, ms")
    p.add_argument("--queries", type=int, default=600)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    result: dict[str, Any] = {"loadavg_start": os.getloadavg(), "queries": args.queries}
    rng = np.random.default_rng(0)  # bench_server.py --only million's draws, in its order
    million_queries = rng.standard_normal((200, DIM), dtype=np.float32)
    work = Path(tempfile.mkdtemp(prefix="bench-grpc-breakdown-"))
    try:
        small = np.random.default_rng(7).standard_normal((1000, DIM), dtype=np.float32)
        populate(work, "small", {"t1": small})
        if args.million:
            million = rng.standard_normal((1_000_000, DIM), dtype=np.float32)
            populate(work, "million", {"m": million})
            del million
        random_q = np.random.default_rng(1).standard_normal((args.queries, DIM), dtype=np.float32)
        small_queries = [q.tolist() for q in random_q]
        with contextlib.ExitStack() as stack:
            ours = stack.enter_context(serve_process(work, grpc=True))
            assert ours.grpc_target is not None
            idle_pid, idle_target = stack.enter_context(fixed_server(0.0))
            cells: dict[str, tuple[Callable[[list[float]], Any], int]] = {}
            for way, call in _calls(_index(ours.grpc_target, "small"), "t1").items():
                cells[f"ours_small_{way}"] = (call, ours.pid)
            for way, call in _calls(_index(idle_target, "i"), "m").items():
                cells[f"fixed_{way}"] = (call, idle_pid)
            result["small"] = run_cells(cells, small_queries)
            if args.million:
                busy_pid, busy_target = stack.enter_context(fixed_server(args.busy))
                big = _calls(_index(ours.grpc_target, "million"), "m")
                q0 = million_queries[0].tolist()
                big["sdk"](q0)  # loads the namespace and starts the build
                result["million_ann_ready_after_s"] = wait_until_approximate(
                    ours.url, "million", "m"
                )
                cells = {f"ours_million_{way}": (call, ours.pid) for way, call in big.items()}
                for way, call in _calls(_index(busy_target, "i"), "m").items():
                    cells[f"fixed_busy_{args.busy:g}ms_{way}"] = (call, busy_pid)
                lists = [q.tolist() for q in million_queries]
                big_queries = (lists * (args.queries // len(lists) + 1))[: args.queries]
                result["million"] = run_cells(cells, big_queries)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["loadavg_end"] = os.getloadavg()
    for part in ("small", "million"):
        for name, row in result.get(part, {}).items():
            print(
                f"{name:28s} p50 {row['p50_ms']:.3f} ms  p90 {row['p90_ms']:.3f} ms  server CPU "
                f"{row['server_cpu_ms_per_request']:.3f} ms  client CPU "
                f"{row['client_cpu_ms_per_request']:.3f} ms"
            )
    write_results(args.out, result)


if __name__ == "__main__":
    main()
