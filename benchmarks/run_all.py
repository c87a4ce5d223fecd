"""Run every benchmark in turn and print where each wrote its figures.

    python benchmarks/run_all.py            # full sizes (several minutes on 2 cores)
    python benchmarks/run_all.py --quick    # smoke sizes

Benchmarks run one at a time: on a 2-core machine two of them at once would
measure each other. Each script writes ``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: script -> accepts --quick
SCRIPTS = {
    "bench_server.py": True,
    "bench_retriever.py": True,
    "bench_ingest.py": True,
    "bench_ingest_defaults.py": True,
    "bench_embeddings.py": True,
    "bench_load.py": True,
    "bench_durability.py": True,
    "bench_demo.py": False,
    "bench_cli.py": True,
    "bench_chat_auth.py": False,
    "bench_chat_jobs.py": False,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes")
    parser.add_argument("--only", nargs="*", help="script names to run (default: all)")
    args = parser.parse_args()
    failed = []
    for script, takes_quick in SCRIPTS.items():
        if args.only and script not in args.only and script.removesuffix(".py") not in args.only:
            continue
        path = HERE / script
        if not path.exists():
            print(f"-- {script}: not present, skipped")
            continue
        cmd = [sys.executable, str(path)] + (["--quick"] if args.quick and takes_quick else [])
        print(f"-- {' '.join(cmd[1:])}", flush=True)
        start = time.monotonic()
        if subprocess.run(cmd, cwd=HERE.parent).returncode != 0:
            failed.append(script)
        print(f"-- {script}: {time.monotonic() - start:.0f} s", flush=True)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
