"""Write throughput of the embedded server in each durability mode (``--durability process|power``).

``process`` commits with SQLite ``synchronous=NORMAL`` (the commit is written to the WAL
before the answer; fsync only at checkpoints); ``power`` with ``synchronous=FULL`` (every
commit fsyncs the WAL before the answer). What each survives is in docs/reliability.md; this
measures what each costs, on this machine's disk, for the writes the project makes:

* ``single``: one 384-d record per upsert request, one client (a chatbot saving one chunk);
* ``batch``: 100 records of 384-d per request, one client (ingestion's bulk upserts);
* ``concurrent``: one record per request from 8 client threads (many tenants at once).

Each workload runs against ``tenant-rag serve --durability MODE`` in a child process over a
fresh data dir on the same disk, with the modes interleaved (process, power, process, power,
...) so a busy machine weighs on both alike; the figure is the median of the rounds. Also
measured: one ``fsync`` of a 4 KB write on that disk, the floor under every ``power`` commit.

    .venv/bin/python benchmarks/bench_durability.py            # 3 rounds (--rounds N)
    .venv/bin/python benchmarks/bench_durability.py --quick    # 1 round, fewer requests

Writes ``benchmarks/results/durability.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _results import write_results

from tenant_rag.local.process import serve_process
from tenant_rag.local.storage.sqlite import DEFAULT_DURABILITY, DURABILITY_MODES

HERE = Path(__file__).resolve().parent
DIM = 384


def _vector(i: int) -> list[float]:
    return [((i * 7919 + j) % 1000) / 1000.0 + 0.001 for j in range(DIM)]


def fsync_latency(folder: Path, n: int = 200) -> float:
    """Median seconds for write(4 KB) + fsync on ``folder``'s disk."""
    path = folder / "fsync-probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for i in range(n):
            os.pwrite(fd, os.urandom(4096), (i % 16) * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


def _setup(url: str) -> httpx.Client:
    http = httpx.Client(base_url=url, headers={"Api-Key": "bench"}, timeout=60)
    r = http.post(
        "/indexes",
        json={
            "name": "dur",
            "dimension": DIM,
            "metric": "cosine",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
        },
    )
    r.raise_for_status()
    return http


def _single(http: httpx.Client, n: int) -> dict[str, float]:
    lat = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        http.post(
            "/_index/dur/vectors/upsert", json={"vectors": [{"id": f"s{i}", "values": _vector(i)}]}
        ).raise_for_status()
        lat.append(time.perf_counter() - t)
    took = time.perf_counter() - start
    return {
        "records_per_s": n / took,
        "requests_per_s": n / took,
        "p50_ms": 1000 * statistics.median(lat),
    }


def _batch(http: httpx.Client, n: int) -> dict[str, float]:
    size = 100
    bodies = [
        {"vectors": [{"id": f"b{b}-{i}", "values": _vector(b * size + i)} for i in range(size)]}
        for b in range(n)
    ]
    lat = []
    start = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        http.post("/_index/dur/vectors/upsert", json=body).raise_for_status()
        lat.append(time.perf_counter() - t)
    took = time.perf_counter() - start
    return {
        "records_per_s": n * size / took,
        "requests_per_s": n / took,
        "p50_ms": 1000 * statistics.median(lat),
    }


def _concurrent(http: httpx.Client, n: int, threads: int = 8) -> dict[str, float]:
    lat: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        t = time.perf_counter()
        http.post(
            "/_index/dur/vectors/upsert",
            json={"vectors": [{"id": f"c{i}", "values": _vector(i)}], "namespace": f"t{i % 50}"},
        ).raise_for_status()
        with lock:
            lat.append(time.perf_counter() - t)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(n)))
    took = time.perf_counter() - start
    return {
        "records_per_s": n / took,
        "requests_per_s": n / took,
        "p50_ms": 1000 * statistics.median(lat),
    }


WORKLOADS: dict[str, Callable[[httpx.Client, int], dict[str, float]]] = {
    "single": _single,
    "batch": _batch,
    "concurrent": _concurrent,
}


def run_round(mode: str, sizes: dict[str, int], scratch: Path) -> dict[str, dict[str, float]]:
    out = {}
    for name, fn in WORKLOADS.items():
        data = Path(tempfile.mkdtemp(prefix=f"dur-{mode}-{name}-", dir=scratch))
        with serve_process(data, "--durability", mode, "--api-key", "bench") as server:
            http = _setup(server.url)
            try:
                fn(http, max(5, sizes[name] // 10))  # warm-up: connections, first pages
                out[name] = fn(http, sizes[name])
            finally:
                http.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, fewer requests")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "durability.json")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    sizes = (
        {"single": 100, "batch": 10, "concurrent": 200}
        if args.quick
        else {"single": 500, "batch": 40, "concurrent": 1000}
    )
    # a folder on the disk the data normally lives on (not a tmpfs /tmp)
    scratch = Path(tempfile.mkdtemp(prefix="bench-durability-", dir=HERE.parent))
    try:
        fsync_s = fsync_latency(scratch)
        results: dict[str, list[dict[str, dict[str, float]]]] = {m: [] for m in DURABILITY_MODES}
        for r in range(rounds):
            for mode in DURABILITY_MODES:
                results[mode].append(run_round(mode, sizes, scratch))
                print(f"round {r + 1}/{rounds} {mode}: done", flush=True)
    finally:
        for path in sorted(scratch.rglob("*"), key=lambda p: -len(p.parts)):
            path.rmdir() if path.is_dir() else path.unlink()
        scratch.rmdir()

    table: dict[str, Any] = {}
    for name in WORKLOADS:
        row: dict[str, Any] = {}
        for mode in DURABILITY_MODES:
            rps = [rd[name]["records_per_s"] for rd in results[mode]]
            p50 = [rd[name]["p50_ms"] for rd in results[mode]]
            row[mode] = {
                "records_per_s": statistics.median(rps),
                "p50_ms": statistics.median(p50),
                "rounds_records_per_s": rps,
            }
        row["power_over_process"] = row["power"]["records_per_s"] / row["process"]["records_per_s"]
        table[name] = row

    print(f"\nfsync of a 4 KB write on this disk: median {1000 * fsync_s:.2f} ms")
    print(
        f"{'workload':<12}{'process rec/s':>15}{'p50 ms':>9}{'power rec/s':>14}{'p50 ms':>9}{'power/process':>15}"
    )
    for name, row in table.items():
        print(
            f"{name:<12}{row['process']['records_per_s']:>15.0f}{row['process']['p50_ms']:>9.2f}"
            f"{row['power']['records_per_s']:>14.0f}{row['power']['p50_ms']:>9.2f}"
            f"{row['power_over_process']:>14.2f}x"
        )
    load = os.getloadavg()
    report = {
        "benchmark": "durability",
        "command": "python benchmarks/bench_durability.py"
        + (" --quick" if args.quick else "")
        + (f" --rounds {args.rounds}" if not args.quick and args.rounds != 3 else ""),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_at_end": [round(x, 2) for x in load],
        },
        "default": DEFAULT_DURABILITY,
        "rounds": rounds,
        "requests": sizes,
        "fsync_4k_median_ms": 1000 * fsync_s,
        "workloads": table,
    }
    write_results(args.out, report)
    print(f"wrote {args.out} (load average {load[0]:.1f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
