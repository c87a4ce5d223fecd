"""A/B the embedded server's REST query path between two source trees, on a busy machine.

Absolute latencies on a shared 2-core machine swing with other people's jobs, so
comparing one run today against a figure measured yesterday says little. This
runs both trees' ``tenant-rag serve`` at once over identical data and sends the
same queries through the same SDK client in interleaved blocks (order swapped
every block), so both see the same load; it reports p50/p99 and the server
process's own CPU time per query (from ``/proc``), which load inflates less.

    git archive <base-commit> | tar -x -C /tmp/before
    python benchmarks/ab_rest_query.py --before /tmp/before --after . [--blocks 40]

Namespaces: ``small`` (1,000 x 384, the per-tenant case, dominated by per-request
overhead) and ``big`` (``--big`` rows x 384, default 20,000, dominated by the search).

``--mixed`` alternates one small and one big query (as ``bench_peers.py`` does) instead of
blocks of each: whatever a big query leaves running (say, idle OpenMP workers spinning)
then lands on the small query after it. ``--warm S`` keeps querying ``big`` for S seconds
before measuring, so a background-built approximate index is serving by then.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
SIZES = {"small": 1_000, "big": 20_000}
REPS = {"small": 100, "big": 20}
MIXED_PAIRS = 40  # small+big pairs per block in --mixed
_POPULATE = r"""
import sys, numpy as np
from pathlib import Path
from tenant_rag.local.engine import Engine
e = Engine(Path(sys.argv[1]))
e.create_index({"name": "ab", "dimension": 384, "metric": "cosine",
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}})
ix = e.index("ab")
rng = np.random.default_rng(0)
for ns, n in ((k, int(v)) for k, v in (a.split("=") for a in sys.argv[2:])):
    m = rng.standard_normal((n, 384)).astype("float32")
    for s in range(0, n, 1000):
        ix.upsert(ns, [{"id": f"r{i}", "values": m[i].tolist()} for i in range(s, min(n, s + 1000))])
e.close()
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _serve(tree: Path, data: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    sizes = [f"{k}={v}" for k, v in SIZES.items()]
    subprocess.run([sys.executable, "-c", _POPULATE, str(data), *sizes], env=env, check=True)
    exe = Path(sys.executable).with_name("tenant-rag")
    cmd = [str(exe), "serve", "--port", "0", "--data", str(data), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"tenant-rag serve from {tree} exited")
        if m := re.search(r"serving (http://[\d.]+:\d+)", line):
            return proc, m.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--big", type=int, default=SIZES["big"], help="rows in the big namespace")
    parser.add_argument("--mixed", action="store_true", help="alternate small and big queries")
    parser.add_argument("--warm", type=float, default=0.0, help="seconds of big queries first")
    args = parser.parse_args()
    SIZES["big"] = args.big
    from pinecone import Pinecone

    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    dirs = {t: Path(tempfile.mkdtemp(prefix=f"ab-{t}-")) for t in trees}
    servers = {t: _serve(p, dirs[t]) for t, p in trees.items()}
    try:
        rng = np.random.default_rng(1)
        queries = [rng.standard_normal(DIM).astype("float32").tolist() for _ in range(50)]
        index = {
            t: Pinecone(api_key="ab", host=url).Index(host=f"{url}/_index/ab")
            for t, (_, url) in servers.items()
        }
        for ix in index.values():  # warm up: load namespaces, open connections
            for ns in SIZES:
                for q in queries[:10]:
                    ix.query(vector=q, top_k=10, namespace=ns)
        until = time.monotonic() + args.warm
        while time.monotonic() < until:
            for ix in index.values():
                ix.query(vector=queries[0], top_k=10, namespace="big")
        wall: dict[tuple[str, str], list[float]] = {(t, ns): [] for t in index for ns in SIZES}
        cpu: dict[tuple[str, str], float] = dict.fromkeys(wall, 0.0)
        pair_cpu = dict.fromkeys(index, 0.0)
        for block in range(args.blocks):
            for t in ("before", "after") if block % 2 else ("after", "before"):
                pid = servers[t][0].pid
                if args.mixed:  # /proc counts 10 ms ticks: CPU is per pair, not per query
                    c0 = _cpu_seconds(pid)
                    for i in range(MIXED_PAIRS):
                        for ns in SIZES:
                            t0 = time.perf_counter()
                            index[t].query(vector=queries[i % 50], top_k=10, namespace=ns)
                            wall[(t, ns)].append((time.perf_counter() - t0) * 1000)
                    pair_cpu[t] += _cpu_seconds(pid) - c0
                    continue
                for ns in SIZES:
                    c0 = _cpu_seconds(pid)
                    for i in range(REPS[ns]):
                        t0 = time.perf_counter()
                        index[t].query(vector=queries[i % 50], top_k=10, namespace=ns)
                        wall[(t, ns)].append((time.perf_counter() - t0) * 1000)
                    cpu[(t, ns)] += _cpu_seconds(pid) - c0
        report: dict[str, Any] = {
            "load_average": os.getloadavg(),
            "big_rows": args.big,
            "mode": "mixed" if args.mixed else "blocks",
        }
        for (t, ns), xs in wall.items():
            report[f"{t} {ns}"] = {
                "queries": len(xs),
                "p50_ms": round(float(np.percentile(xs, 50)), 3),
                "p99_ms": round(float(np.percentile(xs, 99)), 3),
            }
            if not args.mixed:
                report[f"{t} {ns}"]["server_cpu_ms_per_query"] = round(
                    cpu[(t, ns)] * 1000 / len(xs), 3
                )
        if args.mixed:
            for t, used in pair_cpu.items():
                pairs = len(wall[(t, "small")])
                report[f"{t} server_cpu_ms_per_small_big_pair"] = round(used * 1000 / pairs, 3)
        for t, (proc, _) in servers.items():
            report[f"{t} server_rss_mb"] = _rss_mb(proc.pid)
        print(json.dumps(report, indent=2))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(30)
        for d in dirs.values():
            shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
