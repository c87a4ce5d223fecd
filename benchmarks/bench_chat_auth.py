"""The real tenant's latency while someone brute-forces keys against the chat backend.

``tenant-rag chat-server`` (default throttling: 10 failed attempts at once per client
address and per key prefix, then 6 a minute; refusals held 1 s) runs in a child
process with the hashing test embedding, so the figures are about the auth path,
not a model. The attacker sends wrong keys from 127.0.0.2 on 8 connections for
``--seconds``; the tenant, from 127.0.0.1, calls ``GET /documents`` in a loop.
Reported: the tenant's latency idle and during the attack, and what the attacker
got back (how many guesses were sent, how many keys were actually checked).

    .venv/bin/python benchmarks/bench_chat_auth.py
    .venv/bin/python benchmarks/bench_chat_auth.py --seconds 60 --out /tmp/auth.json

Writes ``benchmarks/results/chat_auth.json``. ``tests/chat/test_throttle.py`` asserts
the behaviour (throttling engages; the tenant is never refused).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from _results import write_results

from tenant_rag.chat.config import hash_key
from tenant_rag.chat.keyfile import new_key

ROOT = Path(__file__).resolve().parents[1]


def start(home: Path, keys: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PINECONE_", "OPENAI_"))}
    env.update(TENANT_RAG_HOME=str(home), TENANT_RAG_TEST_EMBEDDINGS="hashing")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenant_rag.chat", "--port", "0", "--keys", str(keys)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=str(ROOT),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or ()], daemon=True).start()
    deadline = time.monotonic() + 300
    while True:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the chat server did not start") from None
            continue
        # the banner names the bound port (the port is bound before uvicorn starts, so
        # uvicorn's own "running on" line does not come)
        m = re.search(r"(?:open|Uvicorn running on) (http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p95_ms": round(1000 * ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
        "max_ms": round(1000 * ordered[-1], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the attack")
    parser.add_argument("--connections", type=int, default=8, help="attacker connections")
    parser.add_argument("--idle", type=int, default=200, help="tenant requests before the attack")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "chat_auth.json"))
    args = parser.parse_args()
    key = new_key()
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys.json"
        keys.write_text(json.dumps({"keys": {hash_key(key): "acme"}}))
        proc, url = start(Path(tmp) / "home", keys)
        try:
            auth = {"Authorization": f"Bearer {key}"}
            tenant = httpx.Client(
                base_url=url, transport=httpx.HTTPTransport(local_address="127.0.0.1")
            )

            def call() -> float:
                started = time.perf_counter()
                resp = tenant.get("/documents", headers=auth)
                assert resp.status_code == 200, resp.text
                return time.perf_counter() - started

            for _ in range(20):  # warm-up
                call()
            idle = [call() for _ in range(args.idle)]

            attacking = threading.Event()
            attacking.set()
            during: list[float] = []
            statuses: Counter[int] = Counter()
            lock = threading.Lock()

            def work() -> None:
                while attacking.is_set():
                    during.append(call())

            def attack(worker: int) -> None:
                transport = httpx.HTTPTransport(local_address="127.0.0.2")
                with httpx.Client(base_url=url, transport=transport, timeout=60) as attacker:
                    n = 0
                    while attacking.is_set():
                        wrong = f"trk_{worker:02d}{n:08d}" + "x" * 33
                        status = attacker.get(
                            "/me", headers={"Authorization": f"Bearer {wrong}"}
                        ).status_code
                        with lock:
                            statuses[status] += 1
                        n += 1

            threads = [threading.Thread(target=work)]
            threads += [threading.Thread(target=attack, args=(w,)) for w in range(args.connections)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            time.sleep(args.seconds)
            attacking.clear()
            for t in threads:
                t.join()
            attack_seconds = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "attack": {
            "connections": args.connections,
            "seconds": round(attack_seconds, 2),
            "guesses": sum(statuses.values()),
            "guesses_per_second": round(sum(statuses.values()) / attack_seconds, 1),
            "answers": {str(k): v for k, v in sorted(statuses.items())},
            "keys_checked": statuses.get(401, 0),
        },
        "tenant_idle": summary(idle),
        "tenant_during_attack": summary(during),
        "tenant_refused_during_attack": 0,  # call() asserts 200 for every request
    }
    write_results(Path(args.out), result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
