"""Another tenant's answer latency during a large upload to the chat backend.

``tenant-rag chat-server`` runs in a child process with its defaults (the
embedded server, the local MiniLM model, the extractive answerer). globex has
one document; acme uploads a large markdown file (600 KB by default, the size
of the report in issue 12). The script measures:

* globex's answer latency (``POST /chat``, the whole SSE answer read) when idle;
* how long acme's upload takes to be answered (the ``202`` with the job);
* globex's answer latency while acme's job runs, and how long the job takes.

    .venv/bin/python benchmarks/bench_chat_jobs.py
    .venv/bin/python benchmarks/bench_chat_jobs.py --kb 200 --out /tmp/jobs.json   # quicker
    .venv/bin/python benchmarks/bench_chat_jobs.py --source ../main --out /tmp/old.json

``--source DIR`` runs the chat server of another source tree (``PYTHONPATH=DIR``), for
an A/B on the same machine: a tree whose upload is synchronous (answers ``200`` with
the report after ingesting) is measured the same way, with the upload running in a
thread while globex asks. Keys are written hashed, or plain for a tree without hashed keys files.

Writes ``benchmarks/results/chat_jobs.json``. The test that asserts the behaviour
(another tenant is served while a job runs) is ``tests/chat/test_jobs.py``.
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
from pathlib import Path
from typing import Any

import httpx
from _results import write_results

from tenant_rag.chat.config import hash_key
from tenant_rag.chat.keyfile import new_key

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tenant_rag" / "data" / "sample"


def prose(kb: int) -> str:
    """About ``kb`` KB of varied prose (the sample corpus, paragraphs numbered)."""
    texts = [p.read_text() for p in sorted((SAMPLE / "acme").glob("*.md"))]
    texts += [p.read_text() for p in sorted((SAMPLE / "globex").glob("*.md"))]
    paragraphs = [p.strip() for t in texts for p in t.split("\n\n") if len(p.strip()) > 80]
    out, n = [], 0
    while sum(len(p) for p in out) < kb * 1024:
        out.append(f"Section {n}. {paragraphs[n % len(paragraphs)]}")
        n += 1
    return "\n\n".join(out)


class ChatServer:
    def __init__(self, home: Path, keys: Path, source: Path | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PINECONE_", "OPENAI_"))}
        env["TENANT_RAG_HOME"] = str(home)
        if source is not None:
            env["PYTHONPATH"] = str(source.resolve())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tenant_rag.chat", "--port", "0", "--keys", str(keys)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            # python -m puts the working directory first on sys.path: run from the tree measured
            cwd=str(source.resolve()) if source is not None else str(ROOT),
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(x) for x in self.proc.stdout or ()], daemon=True
        ).start()
        deadline = time.monotonic() + 300
        self.url = ""
        while not self.url:
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the chat server did not start") from None
                continue
            # today's banner says "open <url>/" (the port is bound before uvicorn starts, so
            # uvicorn's own line does not come); older source trees (the A/B) print uvicorn's
            m = re.search(r"(?:open|Uvicorn running on) (http://127\.0\.0\.1:\d+)", line)
            self.url = m.group(1) if m else ""

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def ask(client: httpx.Client, key: str, question: str) -> float:
    started = time.perf_counter()
    resp = client.post("/chat", json={"question": question}, headers=_auth(key))
    assert resp.status_code == 200 and "event: done" in resp.text, resp.text[:300]
    return time.perf_counter() - started


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_job(client: httpx.Client, key: str, job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}", headers=_auth(key)).json()
        if job["status"] in ("succeeded", "partial", "failed"):
            return job
        time.sleep(0.2)


def _sync_upload(url: str, key: str, body: bytes, ask_one: Any) -> tuple[float, float, str, int]:
    """An older tree: the upload holds its request until ingested; ask while it runs."""
    result: dict[str, Any] = {}

    def upload() -> None:
        started = time.perf_counter()
        with httpx.Client(base_url=url, timeout=3600) as c:
            resp = c.post("/documents", files={"files": ("big.md", body)}, headers=_auth(key))
        result["seconds"] = time.perf_counter() - started
        result["resp"] = resp

    thread = threading.Thread(target=upload)
    thread.start()
    n = 0
    while thread.is_alive():
        ask_one(n)
        n += 1
    thread.join()
    resp = result["resp"]
    report = resp.json().get("report", {}) if resp.status_code == 200 else {}
    status = "succeeded" if resp.status_code == 200 else f"HTTP {resp.status_code}"
    return result["seconds"], result["seconds"], status, int(report.get("chunks_upserted", 0))


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50_s": round(statistics.median(ordered), 4),
        "p95_s": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 4),
        "max_s": round(ordered[-1], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=int, default=600, help="size of acme's upload")
    parser.add_argument("--idle-questions", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "chat_jobs.json"))
    parser.add_argument("--source", type=Path, help="run this source tree's chat server")
    args = parser.parse_args()
    acme, globex = new_key(), new_key()
    questions = ["How long does shipping take?", "What is the returns policy?", "Where is support?"]
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys.json"
        old = args.source is not None and not (args.source / "tenant_rag/chat/jobs.py").exists()
        plain = (
            args.source is not None and not (args.source / "tenant_rag/chat/keyfile.py").exists()
        )
        stored = (lambda k: k) if plain else hash_key
        keys.write_text(json.dumps({"keys": {stored(acme): "acme", stored(globex): "globex"}}))
        server = ChatServer(Path(tmp) / "home", keys, args.source)
        try:
            with httpx.Client(base_url=server.url, timeout=600) as client:
                guide = (SAMPLE / "globex/shipping-guide.md").read_bytes()
                files = {"files": ("shipping-guide.md", guide)}
                first = client.post("/documents", files=files, headers=_auth(globex))
                if first.status_code == 202:
                    wait_job(client, globex, first.json()["job"]["id"])
                for q in questions:  # warm-up
                    ask(client, globex, q)
                idle = [ask(client, globex, questions[n % 3]) for n in range(args.idle_questions)]

                body = prose(args.kb).encode()
                during: list[float] = []
                if old:
                    accepted, job_seconds, status, chunks = _sync_upload(
                        server.url,
                        acme,
                        body,
                        lambda n: during.append(ask(client, globex, questions[n % 3])),
                    )
                else:
                    started = time.perf_counter()
                    resp = client.post(
                        "/documents", files={"files": ("big.md", body)}, headers=_auth(acme)
                    )
                    accepted = time.perf_counter() - started
                    assert resp.status_code == 202, resp.text
                    job_id = resp.json()["job"]["id"]
                    n = 0
                    while True:
                        state = client.get(f"/jobs/{job_id}", headers=_auth(acme)).json()
                        if state["status"] in ("succeeded", "partial", "failed"):
                            break
                        during.append(ask(client, globex, questions[n % 3]))
                        n += 1
                    job_seconds = (state["finished"] or 0) - (state["started"] or 0)
                    status, chunks = state["status"], state["progress"]["chunks_upserted"]
        finally:
            server.stop()
    result = {
        "command": " ".join(["python", *sys.argv]),
        "source": str(args.source) if args.source else "this tree",
        "upload_api": "synchronous (200 after ingesting)" if old else "background job (202)",
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "upload_bytes": len(body),
        "upload_answered_s": round(accepted, 3),
        "job_status": status,
        "job_seconds": round(job_seconds, 1),
        "chunks": chunks,
        "characters_per_second": round(len(body) / job_seconds) if job_seconds else None,
        "other_tenant_idle": summary(idle),
        "other_tenant_during_upload": summary(during) if during else None,
    }
    write_results(Path(args.out), result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
