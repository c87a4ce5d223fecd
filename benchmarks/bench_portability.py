"""Throughput and memory of exporting and importing a 100,000-record tenant on the embedded server.

Against ``tenant-rag serve --grpc-port 0`` in a separate process (REST and gRPC, as
the embedded server of `tenant_rag.connection.connect` serves), a tenant of 100,000
records × 384 dimensions with ~300 bytes of metadata each (a chunk's text,
doc id, chunk number), in the same run:

* **raw list+fetch** (the limit for export): every id listed and every record
  fetched, page by page, through the same pinned, lean transport the export
  uses, parsed the same way (values straight into float32, ``pages(float32=True)``),
  and nothing else done with them;
* **export**: `export_tenant` (the same listing and fetching, plus float32
  conversion, the content checksum and Parquet writing);
* **lean upsert path** (the limit for import): the same records, prebuilt
  as dicts in memory, upserted in byte-aware batches through
  ``PinnedIndex(lean_handle(index)).upsert``, ingestion's path;
* **import**: `import_tenant` of the export into an empty index (file checks,
  Parquet reading, the upserts, the journal, and the read-back verification:
  every record fetched back and compared, on a worker thread beside the
  writes, then the count; the read-back fetches over the server's gRPC port,
  which its REST handle finds through ``GET /_local/grpc/<index>``). Unlike the baseline, the import keeps two upsert
  requests in flight (``inflight.py``), and sends each record's values as the
  Parquet file's float32 row (`tenant_rag.tenancy.float32`) rather than as a
  list of Python floats. The baseline stays the lean path as ingestion uses it,
  one request at a time with Python float lists (it got cheaper on 2026-12-01
  too: write units are metered by the request body's size instead of by
  encoding every record a second time).
* **export tail / import tail**: the import's ``verify_seconds``, the part of
  the verification left after the last write (the read-back's tail and the
  count check).

The two of each pair alternate (A B B A) so the machine's load drift (2 shared
cores) falls on both alike; the ratio is of the summed times.

Memory: export and import each run once more in a fresh child process, which
first fetches one page (recording with ``tracemalloc`` the peak the page costs
the Python heap: response bytes and parsed records, what streaming must hold
at least once), then measures its idle RSS, resets the peak (``clear_refs``),
runs the operation and reads the peak RSS (``VmHWM``). Target: peak - idle <
2 × one page.

Targets: export ≥ 0.8 × raw list+fetch; import ≥ 0.8 × the lean upsert path.

Usage: ``python benchmarks/bench_portability.py [--quick] [--records N]``; prints a
table and writes ``benchmarks/results/portability.json``.
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
from _results import write_results

RESULTS = Path(__file__).resolve().parent / "results" / "portability.json"
DIM = 384
TENANT = "acme"

MEMORY_CHILD = r"""
import json, os, sys, tracemalloc, gc
from pinecone import Pinecone
from tenant_rag.connection import ensure_index
from tenant_rag.lifecycle.portability import export_tenant, import_tenant
from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint

url, op, src_name, dst_name, folder = sys.argv[1:6]
pc = Pinecone(api_key="local", host=url)
src = ensure_index(pc, src_name, dimension=384)

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)

# one page, as the export fetches it: what it costs the Python heap at its peak
endpoint = TenantEndpoint(src, "acme")
ids = next(endpoint.id_pages())
endpoint.fetch(ids)  # warm the connection and the code paths
gc.collect()
tracemalloc.start()
page = endpoint.fetch(ids)
page_bytes = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
del page
gc.collect()
if op == "import":
    dst = ensure_index(pc, dst_name, dimension=384)
idle = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM to the current RSS
if op == "export":
    export_tenant(src, "acme", folder)
else:
    import_tenant(dst, "acme", folder)
peak = status("VmHWM")
print(json.dumps({"page_records": len(ids), "page_bytes": page_bytes, "idle_rss": idle,
                  "peak_rss": peak}))
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clock:
    """Wall time, and the CPU time of this process plus the server's, of one measured call."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid

    def __enter__(self) -> Clock:
        self.wall = time.perf_counter()
        self.cpu = time.process_time() + cpu_seconds(self.pid)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() + cpu_seconds(self.pid) - self.cpu


def make_records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    words = "tenant index vector namespace query answer source chunk record upsert".split()
    out = []
    for start in range(0, n, 10_000):
        m = rng.standard_normal((min(10_000, n - start), DIM)).astype(np.float32)
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        for j, row in enumerate(m.tolist()):
            i = start + j
            text = " ".join(words[(i + k) % len(words)] for k in range(40))
            out.append(
                {
                    "id": f"doc-{i // 10:06d}.md#{i % 10}",
                    "values": row,
                    "metadata": {"text": text, "doc_id": f"doc-{i // 10:06d}.md", "chunk": i % 10},
                }
            )
    return out


def lean_upsert(index: Any, records: list[dict[str, Any]]) -> float:
    from tenant_rag.ingestion.sdk import lean_handle
    from tenant_rag.tenancy.batching import record_batches
    from tenant_rag.tenancy.pinned import PinnedIndex, index_name_of

    pinned = PinnedIndex(lean_handle(index), TENANT, index_name=index_name_of(index))
    start = time.perf_counter()
    for batch in record_batches(records):
        pinned.upsert(batch)
    return time.perf_counter() - start


def raw_list_fetch(index: Any) -> tuple[float, int]:
    from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint

    endpoint = TenantEndpoint(index, TENANT)
    start = time.perf_counter()
    # the pages exactly as the export reads them (values parsed as float32): the limit
    n = sum(len(page.records) for page in endpoint.pages(float32=True))
    return time.perf_counter() - start, n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records")
    parser.add_argument("--records", type=int, default=None)
    args = parser.parse_args()
    n = args.records or (10_000 if args.quick else 100_000)

    from pinecone import Pinecone

    from tenant_rag.connection import ensure_index
    from tenant_rag.lifecycle.portability import export_tenant, import_tenant
    from tenant_rag.local.process import serve_process

    work = Path(tempfile.mkdtemp(prefix="bench-portability-"))
    results: dict[str, Any] = {
        "records": n,
        "dimension": DIM,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "command": "python benchmarks/bench_portability.py" + (" --quick" if args.quick else ""),
    }
    try:
        # gRPC on, as the embedded server of `connect()` always serves it: the import's
        # read-back fetches over it (docs/portability.md); the baselines use REST only
        with serve_process(work / "data", grpc=True) as server:
            pc = Pinecone(api_key="local", host=server.url)
            records = make_records(n)
            src = ensure_index(pc, "bench-src", dimension=DIM)
            seeded = lean_upsert(src, records)
            results["seed_seconds"] = round(seeded, 2)
            print(f"seeded {n:,} records in {seeded:.1f} s", flush=True)

            # export vs raw list+fetch, A B B A
            clock = Clock(server.pid)
            times: dict[str, list[tuple[float, float]]] = {"raw": [], "export": []}
            for round_no, order in enumerate((("raw", "export"), ("export", "raw"))):
                for what in order:
                    with clock:
                        if what == "raw":
                            _, got = raw_list_fetch(src)
                        else:
                            got = export_tenant(src, TENANT, work / f"export-{round_no}").records
                    assert got == n, got
                    times[what].append((clock.wall, clock.cpu))
                    print(f"  {what}: {clock.wall:.2f} s, {clock.cpu:.2f} s CPU", flush=True)

            # import vs the lean upsert path, A B B A, each into a fresh index
            verify_seconds: list[float] = []
            for round_no, order in enumerate((("upsert", "import"), ("import", "upsert"))):
                for what in order:
                    name = f"bench-{what}-{round_no}"
                    dst = ensure_index(pc, name, dimension=DIM)
                    with clock:
                        if what == "upsert":
                            lean_upsert(dst, records)
                        else:
                            report = import_tenant(
                                dst, TENANT, work / "export-0", journal_dir=work / f"j-{round_no}"
                            )
                            assert report.verified and report.written == n
                            verify_seconds.append(report.verify_seconds)
                    times.setdefault(what, []).append((clock.wall, clock.cpu))
                    pc.delete_index(name)
                    print(f"  {what}: {clock.wall:.2f} s, {clock.cpu:.2f} s CPU", flush=True)
            del records

            memory = {}
            for op in ("export", "import"):
                if op == "import":
                    ensure_index(pc, "bench-mem-import", dimension=DIM)
                folder = work / ("export-mem" if op == "export" else "export-0")
                proc = subprocess.run(
                    [sys.executable, "-c", MEMORY_CHILD, server.url, op, "bench-src",
                     "bench-mem-import", str(folder)],
                    capture_output=True, text=True, check=True,
                    env={**os.environ, "TENANT_RAG_STATE_DIR": str(work / "state")},
                )  # fmt: skip
                m = json.loads(proc.stdout.strip().splitlines()[-1])
                m["above_idle"] = m["peak_rss"] - m["idle_rss"]
                m["ratio_to_page"] = round(m["above_idle"] / m["page_bytes"], 2)
                memory[op] = m
                print(
                    f"  memory {op}: peak - idle {m['above_idle'] / 2**20:.1f} MiB, one page "
                    f"({m['page_records']} records) {m['page_bytes'] / 2**20:.1f} MiB: "
                    f"{m['ratio_to_page']}x",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def total(what: str, k: int) -> float:
        return sum(t[k] for t in times[what])

    results.update(
        {
            "seconds": {w: [round(t[0], 2) for t in ts] for w, ts in times.items()},
            "cpu_seconds_client_and_server": {
                w: [round(t[1], 2) for t in ts] for w, ts in times.items()
            },
            "records_per_second": {w: round(len(ts) * n / total(w, 0)) for w, ts in times.items()},
            "export_vs_raw": round(total("raw", 0) / total("export", 0), 3),
            "export_vs_raw_cpu": round(total("raw", 1) / total("export", 1), 3),
            "import_vs_lean_upsert": round(total("upsert", 0) / total("import", 0), 3),
            "import_vs_lean_upsert_cpu": round(total("upsert", 1) / total("import", 1), 3),
            "import_verify_seconds": [round(v, 2) for v in verify_seconds],
            # the import up to its last write (the read-back runs beside the writes)
            "import_until_last_write_vs_lean_upsert": round(
                total("upsert", 0) / (total("import", 0) - sum(verify_seconds)), 3
            ),
            "memory": memory,
            "load_average_after": os.getloadavg(),
        }
    )
    rps = results["records_per_second"]
    rows = [
        ("raw list+fetch", f"{rps['raw']:,} records/s", ""),
        ("export", f"{rps['export']:,} records/s",
         f"{results['export_vs_raw']}x raw (CPU: {results['export_vs_raw_cpu']}x) (target >= 0.8)"),
        ("lean upsert path", f"{rps['upsert']:,} records/s", ""),
        ("import, verification included", f"{rps['import']:,} records/s",
         f"{results['import_vs_lean_upsert']}x lean upsert "
         f"(CPU: {results['import_vs_lean_upsert_cpu']}x) (target >= 0.8)"),
        ("import, until its last write", "",
         f"{results['import_until_last_write_vs_lean_upsert']}x lean upsert "
         f"(verification after the last write: {sum(verify_seconds):.1f} of "
         f"{total('import', 0):.1f} s)"),
    ]  # fmt: skip
    for op, m in memory.items():
        rows.append(
            (
                f"memory, {op}",
                f"{m['above_idle'] / 2**20:.1f} MiB above idle",
                f"{m['ratio_to_page']}x one page of {m['page_records']} "
                f"({m['page_bytes'] / 2**20:.1f} MiB) (target < 2)",
            )
        )
    width = max(len(r[0]) for r in rows)
    print(
        f"\n{n:,} records x {DIM}, load average before {results['load_average_before']}, "
        f"after {results['load_average_after']}"
    )
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>28}  {note}")
    write_results(RESULTS, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
