"""grpcio's sync thread-pool server against ``grpc.aio``, as the pinecone SDK sees them.

Why: at 1,000,000 x 384 the gRPC p50 is the engine's query plus a round trip, and the sync
server hands each call from its polling thread to a pool thread; an ``aio`` server runs the
handler on its event loop (or hands it to an executor). This measures only that difference:
three servers in child processes answer ``Query`` with one fixed 10-match ``QueryResponse``
(API 2025-04 messages, generated in this repository) after spinning ``--busy`` ms of CPU (the
stand-in for the engine), and one client process (pinecone SDK 7.3.0 ``PineconeGRPC``) sends
them the same 384-float queries in turns, blocks of 50. Reports p50/p90 per server and the
server's CPU per request (from /proc).

Usage: ``python benchmarks/bench_grpc_server_modes.py [--busy MS] [--out PATH]``; writes
``benchmarks/results/grpc_server_modes.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from _results import write_results

RESULTS = Path(__file__).resolve().parent / "results" / "grpc_server_modes.json"
MODES = ("sync", "aio", "aio-executor")


def serve(mode: str, busy_ms: float) -> None:
    """Child: one server of ``mode``; prints its port."""
    from tenant_rag.local.api import grpc_versions

    v = grpc_versions.resolve("2025-04")
    request_cls, response_cls = v.message("QueryRequest"), v.message("QueryResponse")
    canned = response_cls(namespace="m")
    canned.usage.read_units = 5
    for i in range(10):
        canned.matches.add(id=f"m-{i}", score=0.5)

    def work(_request: Any) -> Any:
        start = time.thread_time()
        while time.thread_time() - start < busy_ms / 1000:
            pass
        out = response_cls()
        out.CopyFrom(canned)
        return out

    def handler(call: Any) -> grpc.GenericRpcHandler:
        method = grpc.unary_unary_rpc_method_handler(
            call, request_cls.FromString, lambda m: m.SerializeToString()
        )
        return grpc.method_handlers_generic_handler("VectorService", {"Query": method})

    if mode == "sync":

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            dict(context.invocation_metadata())
            return work(request)

        server = grpc.server(futures.ThreadPoolExecutor(8), handlers=[handler(call)])
        print(server.add_insecure_port("127.0.0.1:0"), flush=True)
        server.start()
        server.wait_for_termination()
        return
    executor = futures.ThreadPoolExecutor(4)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def acall(request: Any, context: Any) -> Any:
            dict(context.invocation_metadata())
            if mode == "aio-executor":
                return await loop.run_in_executor(executor, work, request)
            return work(request)

        server = grpc.aio.server(handlers=[handler(acall)])
        print(server.add_insecure_port("127.0.0.1:0"), flush=True)
        await server.start()
        await server.wait_for_termination()

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(busy_ms: float) -> dict[str, Any]:
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    rng = np.random.default_rng(1)
    queries = [q.tolist() for q in rng.standard_normal((300, 384), dtype=np.float32)]
    servers: dict[str, tuple[subprocess.Popen[str], Any]] = {}
    try:
        for mode in MODES:
            proc = subprocess.Popen(
                [sys.executable, __file__, "--serve", mode, "--busy", str(busy_ms)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout is not None
            port = proc.stdout.readline().strip()
            index = PineconeGRPC(api_key="bench").Index(
                name="i", host=f"127.0.0.1:{port}", grpc_config=GRPCClientConfig(secure=False)
            )
            servers[mode] = (proc, index)
        for _, index in servers.values():
            for q in queries[:30]:
                index.query(vector=q, top_k=10, namespace="m")
        lat: dict[str, list[float]] = {m: [] for m in MODES}
        cpu: dict[str, float] = dict.fromkeys(MODES, 0.0)
        for block in range(6):
            for mode, (proc, index) in servers.items():
                c = cpu_seconds(proc.pid)
                for q in queries[block * 50 : (block + 1) * 50]:
                    t = time.perf_counter()
                    index.query(vector=q, top_k=10, namespace="m")
                    lat[mode].append((time.perf_counter() - t) * 1000)
                cpu[mode] += cpu_seconds(proc.pid) - c
        return {
            mode: {
                "p50_ms": float(np.percentile(lat[mode], 50)),
                "p90_ms": float(np.percentile(lat[mode], 90)),
                "server_cpu_ms_per_request": cpu[mode] * 1000 / len(lat[mode]),
            }
            for mode in MODES
        }
    finally:
        for proc, _ in servers.values():
            proc.kill()
            proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--busy", type=float, action="append", help="server CPU per call, ms")
    p.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    busy = args.busy or [0.0, 3.0]
    if args.serve:
        serve(args.serve, busy[0])
        return
    result: dict[str, Any] = {"loadavg_start": os.getloadavg()}
    for b in busy:
        result[f"busy_{b:g}_ms"] = client(b)
        for mode, row in result[f"busy_{b:g}_ms"].items():
            print(f"busy {b:g} ms, {mode}: {json.dumps(row)}", flush=True)
    result["loadavg_end"] = os.getloadavg()
    write_results(args.out, result)


if __name__ == "__main__":
    main()
