"""How long ``tenant-rag`` commands take, as a user types them, against a running server.

Set-up: a fresh data dir, the shipped sample corpus ingested for ``acme`` and
``globex`` with the default local model, then ``tenant-rag serve`` over it in
its own process. Each command then runs as a new process (interpreter start,
imports, model load when the command needs one, the request, the output),
``--runs`` times after one warm-up run, and the median wall time is reported:

* ``tenants``, ``stats -t acme``, ``docs -t acme``: no model (goal < 1 s);
* ``search -t acme``: loads the embedding model (goal < 2 s);
* ``ask -t acme``: retrieval plus the local extractive answerer;
* ``tenants`` with no server running (the command starts one in its process);
* ``tenants --server URL`` of a server that is down (fails fast; goal < 1 s).

Python writes bytecode caches for these runs even when the caller's
environment says not to (``PYTHONDONTWRITEBYTECODE``): a user's installed
package has them, and without them every run would recompile every module.

Usage: ``python benchmarks/bench_cli.py [--runs 5] [--quick]``; prints a table and
writes ``benchmarks/results/cli.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import write_results

from tenant_rag.local.process import serve_process

RESULTS = Path(__file__).resolve().parent / "results" / "cli.json"
EXE = str(Path(sys.executable).with_name("tenant-rag"))
GOALS = {"tenants": 1.0, "stats": 1.0, "docs": 1.0, "search": 2.0, "dead server": 1.0}


def env_for(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PINECONE_", "OPENAI_", "TENANT_RAG_"))
        and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["TENANT_RAG_HOME"] = str(home)
    return env


def timed(args: list[str], env: dict[str, str], *, expect: int = 0) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    if proc.returncode != expect:
        raise RuntimeError(f"tenant-rag {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return seconds, proc.stderr


def median_of(args: list[str], env: dict[str, str], runs: int, expect: int = 0) -> dict[str, Any]:
    timed(args, env, expect=expect)  # warm-up: bytecode caches, the OS's file cache
    times = [timed(args, env, expect=expect)[0] for _ in range(runs)]
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "runs": runs,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command")
    parser.add_argument("--quick", action="store_true", help="2 runs per command")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    from tenant_rag.ingestion import sample_corpus

    corpus = sample_corpus()
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        home = Path(tmp) / "home"
        env = env_for(home)
        for tenant in ("acme", "globex"):
            timed(["ingest", "-t", tenant, "--no-progress", str(corpus / tenant)], env)
        rows["tenants (no server: starts its own)"] = median_of(["tenants"], env, runs)
        with serve_process(home) as server:
            _, stderr = timed(["tenants"], env)
            assert f"tenant-rag serve at {server.url}" in stderr, stderr
            commands = {
                "tenants": ["tenants"],
                "stats": ["stats", "-t", "acme"],
                "docs": ["docs", "-t", "acme"],
                "search": ["search", "-t", "acme", "how many vacation days"],
                "ask": ["ask", "-t", "acme", "How many vacation days do employees get?"],
            }
            for name, argv in commands.items():
                rows[name] = median_of(argv, env, runs)
        dead = f"http://127.0.0.1:{free_port()}"
        rows["dead server"] = median_of(["--server", dead, "tenants"], env, runs, expect=3)
    for name, row in rows.items():
        goal = GOALS.get(name)
        row["goal_s"] = goal
        row["met"] = None if goal is None else row["median_s"] < goal
    result = {
        "benchmark": "cli",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "corpus": "the shipped sample corpus (acme, globex), default local model",
        "commands": rows,
    }
    write_results(RESULTS, result)
    print(f"{'command':40s} {'median':>8s} {'min':>7s} {'max':>7s}  goal")
    for name, row in rows.items():
        goal = (
            ""
            if row["goal_s"] is None
            else f"< {row['goal_s']:g} s " + ("met" if row["met"] else "MISSED")
        )
        print(
            f"{name:40s} {row['median_s']:7.2f}s {row['min_s']:6.2f}s {row['max_s']:6.2f}s  {goal}"
        )
    print(f"load average at the end: {result['load_average_at_end']}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
