"""Load: 16 concurrent clients over 100 tenants on the embedded server, mixed query/upsert/delete.

Half the clients are threads calling the sync tenant stores, half are asyncio
tasks on one event loop calling the async ones (``asimilarity_search``,
``aadd_texts``, ``adelete``). The mix is 80% query, 10% upsert, 10% delete. Every operation picks a random tenant; every
query result is checked to hold only that tenant's records (each record
carries its owner's mark), so a cross-tenant result is counted, not missed.

The server runs in a child process, so its RSS (sampled once a second with
psutil) is the server's alone. Warm-up is the first quarter of the run; the
report gives the RSS at the end of warm-up, the highest after it and the
last sample.

    .venv/bin/python benchmarks/bench_load.py              # 20 s
    TENANT_RAG_SOAK=1 .venv/bin/python benchmarks/bench_load.py   # 600 s
    .venv/bin/python benchmarks/bench_load.py --seconds 60 --out /tmp/load.json

Writes ``benchmarks/results/load.json``. ``run_load()`` is also used by the
bounded smoke test in ``tests/reliability/test_load.py`` (which asserts zero
errors and zero cross-tenant results, never timings).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil

from tenant_rag.connection import ensure_index
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.stores.langchain import tenant_vector_store

DIM = 64
WORDS = ["vacation", "office", "berlin", "expenses", "policy", "laptop", "travel", "badge"]
SERVER = (
    "import os, sys\n"
    "from tenant_rag.local import start\n"
    "srv = start(sys.argv[1])\n"
    "print('READY', srv.url, flush=True)\n"
    "sys.stdin.read()  # EOF when the benchmark exits, however it exits\n"
    "os._exit(0)\n"
)


class Server:
    """The embedded server in a child process (so its RSS is its own)."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError("server did not start")
        self.url = line.split()[1]
        self.ps = psutil.Process(self.proc.pid)

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Stats:
    """Latencies per operation, errors and cross-tenant results, shared by all clients."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.cross_tenant = 0

    def record(self, op: str, seconds: float) -> None:
        with self.lock:
            self.lat[op].append(seconds)

    def error(self, op: str, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{op}: {type(exc).__name__}: {str(exc)[:200]}")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def _text(tenant: str, n: int) -> str:
    return f"{WORDS[n % len(WORDS)]} {WORDS[(n * 3) % len(WORDS)]} note {n} of {tenant}"


def _check(docs: list[Any], tenant: str, stats: Stats) -> None:
    bad = sum(1 for d in docs if d.metadata.get("owner") != tenant)
    if bad:
        with stats.lock:
            stats.cross_tenant += bad


def _choose(rng: random.Random) -> str:
    r = rng.random()
    return "query" if r < 0.8 else "upsert" if r < 0.9 else "delete"


#: Each client writes to SLOTS ids per tenant and deletes from the same ids, at equal rates:
#: the data settles at a steady size within a minute, so RSS growth after warm-up is not
#: simply the data growing (an earlier mix with more upserts than deletes grew ~1.5 MB/min).
SLOTS = 2


def _sync_client(cid: int, stores: dict[str, Any], stop: threading.Event, stats: Stats) -> None:
    rng = random.Random(cid)
    tenants = list(stores)
    n = 0
    while not stop.is_set():
        tenant, op, n = rng.choice(tenants), _choose(rng), n + 1
        store, rid = stores[tenant], f"c{cid}-{rng.randrange(SLOTS)}"
        t0 = time.perf_counter()
        try:
            if op == "query":
                _check(store.similarity_search(WORDS[n % len(WORDS)], k=4), tenant, stats)
            elif op == "upsert":
                store.add_texts([_text(tenant, n)], ids=[rid], metadatas=[{"owner": tenant}])
            else:
                store.delete(ids=[rid])
            stats.record(op, time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            stats.error(op, exc)


async def _async_client(
    cid: int, stores: dict[str, Any], stop: threading.Event, stats: Stats
) -> None:
    rng = random.Random(cid)
    tenants = list(stores)
    n = 0
    while not stop.is_set():
        tenant, op, n = rng.choice(tenants), _choose(rng), n + 1
        store, rid = stores[tenant], f"a{cid}-{rng.randrange(SLOTS)}"
        t0 = time.perf_counter()
        try:
            if op == "query":
                docs = await store.asimilarity_search(WORDS[n % len(WORDS)], k=4)
                _check(docs, tenant, stats)
            elif op == "upsert":
                await store.aadd_texts([_text(tenant, n)], ids=[rid], metadatas=[{"owner": tenant}])
            else:
                await store.adelete(ids=[rid])
            stats.record(f"async_{op}", time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            stats.error(f"async_{op}", exc)


def run_load(
    seconds: float = 20.0,
    *,
    thread_clients: int = 8,
    async_clients: int = 8,
    tenants: int = 100,
    seed_records: int = 20,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the mixed load for ``seconds`` and return the figures (see the module docs)."""
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="tenant-rag-load-")
        data_dir = Path(tmp.name)
    server = Server(data_dir)
    try:
        from pinecone import Pinecone

        pc = Pinecone(api_key="local", host=server.url)
        index = ensure_index(pc, "load", dimension=DIM)
        emb = HashingTestEmbeddings(dimension=DIM)
        names = [f"tenant-{i:03d}" for i in range(tenants)]
        stores = {t: tenant_vector_store(index, t, emb) for t in names}
        for t, store in stores.items():
            store.add_texts(
                [_text(t, n) for n in range(seed_records)],
                ids=[f"seed-{n}" for n in range(seed_records)],
                metadatas=[{"owner": t}] * seed_records,
            )
        stats, stop = Stats(), threading.Event()
        rss: list[tuple[float, float]] = []
        threads = [
            threading.Thread(target=_sync_client, args=(c, stores, stop, stats))
            for c in range(thread_clients)
        ]

        def async_main() -> None:
            async def main() -> None:
                await asyncio.gather(
                    *(_async_client(100 + c, stores, stop, stats) for c in range(async_clients))
                )

            asyncio.run(main())

        threads.append(threading.Thread(target=async_main))
        started = time.perf_counter()
        for th in threads:
            th.start()
        while (elapsed := time.perf_counter() - started) < seconds:
            rss.append((round(elapsed, 1), round(server.rss_mb(), 1)))
            time.sleep(min(1.0, max(0.0, seconds - elapsed)))
        stop.set()
        for th in threads:
            th.join(60)
        wall = time.perf_counter() - started
        rss.append((round(wall, 1), round(server.rss_mb(), 1)))
    finally:
        server.stop()
        if tmp is not None:
            tmp.cleanup()
    all_lat = [x for v in stats.lat.values() for x in v]
    queries = stats.lat["query"] + stats.lat["async_query"]
    warm = [r for t, r in rss if t >= seconds / 4]
    warm_end = warm[0] if warm else rss[-1][1]
    return {
        "clients": {"threads": thread_clients, "asyncio": async_clients},
        "tenants": tenants,
        "seconds": round(wall, 1),
        "operations": len(all_lat),
        "ops_per_second": round(len(all_lat) / wall, 1),
        "errors": len(stats.errors),
        "error_samples": stats.errors[:5],
        "cross_tenant_results": stats.cross_tenant,
        "latency_ms": {
            "all": _summary(all_lat),
            "all_queries": _summary(queries),
            **{op: _summary(v) for op, v in sorted(stats.lat.items())},
        },
        "p99_over_p50": round(_pct(all_lat, 0.99) / max(_pct(all_lat, 0.5), 1e-9), 2),
        "server_rss_mb": {
            "after_warmup": warm_end,
            "max_after_warmup": max(warm) if warm else warm_end,
            "last": rss[-1][1],
            "growth_after_warmup": round((rss[-1][1] - warm_end), 1),
            "samples": rss,
        },
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(_pct(values, 0.5) * 1000, 2),
        "p99": round(_pct(values, 0.99) * 1000, 2),
        "max": round(max(values, default=0.0) * 1000, 2),
    }


def main() -> None:
    soak = os.environ.get("TENANT_RAG_SOAK", "") not in ("", "0", "false")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0 if soak else 20.0)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "load.json")
    args = parser.parse_args()
    result = run_load(args.seconds, tenants=args.tenants)
    result.update(
        command="python benchmarks/bench_load.py"
        + (f" --seconds {args.seconds:g}" if args.seconds not in (20.0, 600.0) else "")
        + (" (TENANT_RAG_SOAK=1)" if soak else ""),
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        python=platform.python_version(),
        cpus=os.cpu_count(),
        load_average=os.getloadavg(),
    )
    from _results import write_results  # a script's neighbour; tests import run_load alone

    write_results(args.out, result)
    q, a = result["latency_ms"]["all_queries"], result["latency_ms"]["all"]
    print(
        f"{result['operations']} ops in {result['seconds']} s ({result['ops_per_second']}/s), "
        f"errors {result['errors']}, cross-tenant {result['cross_tenant_results']}; "
        f"all p50 {a['p50']} ms p99 {a['p99']} ms (x{result['p99_over_p50']}); "
        f"query p50 {q['p50']} p99 {q['p99']}; server RSS {result['server_rss_mb']['after_warmup']}"
        f" -> {result['server_rss_mb']['last']} MB  -> {args.out}"
    )


if __name__ == "__main__":
    main()
