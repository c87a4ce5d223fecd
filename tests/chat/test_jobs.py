"""Uploads are ingested by background jobs: 202 at once, progress, fairness, lifetime.

A gated embedding model holds ingestion at a point the test chooses, so "the
upload answered before ingestion finished" and "another tenant was served while
the job ran" are observed states, not timings. How fast another tenant is
served during a large upload with the real model is measured in
``benchmarks/bench_chat_jobs.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant_rag.chat import ChatLimits, KeyRing
from tenant_rag.chat.jobs import UPLOAD_PREFIX, sweep_stale_uploads
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings

from .conftest import (
    ACME_KEY,
    DIM,
    GLOBEX_KEY,
    Backend,
    answer_of,
    make_backend,
    parse_sse,
    sources_of,
)


class GatedEmbeddings(HashingTestEmbeddings):
    """Document embedding waits for ``gate``; questions are embedded at once."""

    def __init__(self) -> None:
        super().__init__(DIM)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()
        self.batches: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        self.waiting.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return super().embed_documents(texts)


@pytest.fixture
def gated(shared_local_server: LocalServer, keyring: KeyRing) -> Iterator[Backend]:
    b = make_backend(shared_local_server, keyring, embedding=GatedEmbeddings())
    with b.client:
        try:
            yield b
        finally:
            b.embedding.gate.set()  # type: ignore[attr-defined]


def _gate(b: Backend) -> GatedEmbeddings:
    emb = b.embedding
    assert isinstance(emb, GatedEmbeddings)
    return emb


def test_upload_answers_202_before_ingestion_and_the_job_finishes(gated: Backend) -> None:
    gated.upload(GLOBEX_KEY, ("other.md", "Globex notes."))  # globex has data too
    gate = _gate(gated)
    gate.gate.clear()
    resp = gated.submit(ACME_KEY, ("zephyr.md", "Zephyr ships on Tuesdays."))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    job = body["job"]
    assert body["tenant"] == "acme" and body["documents"] == ["zephyr.md"]
    assert resp.headers["location"] == f"/jobs/{job['id']}"
    assert job["status"] in ("queued", "running") and job["report"] is None
    assert gate.waiting.wait(30)
    running = gated.client.get(f"/jobs/{job['id']}", headers=gated.as_(ACME_KEY)).json()
    assert running["status"] == "running" and running["started"] is not None
    assert "zephyr.md" not in gated.docs(ACME_KEY)  # nothing written while it waits
    gate.gate.set()
    done = gated.wait(ACME_KEY, job["id"])
    assert done["status"] == "succeeded", done
    assert done["report"]["documents_written"] == 1
    assert done["progress"] == {"documents_done": 1, "documents_total": 1, "chunks_upserted": 1}
    assert gated.docs(ACME_KEY) == {"zephyr.md": 1}


def test_another_tenant_is_served_while_a_job_runs(gated: Backend) -> None:
    assert gated.upload(GLOBEX_KEY, ("plan.md", "Globex ships by sea.")).status_code == 200
    gate = _gate(gated)
    gate.gate.clear()
    job = gated.submit(ACME_KEY, ("big.md", "Acme text. " * 2000)).json()["job"]
    assert gate.waiting.wait(30)
    # acme's job is stuck inside ingestion; globex chats, lists and deletes meanwhile
    events = parse_sse(gated.chat(GLOBEX_KEY, "How does Globex ship?").text)
    assert "ships by sea" in answer_of(events)
    assert [s["doc_id"] for s in sources_of(events)] == ["plan.md"]
    assert gated.docs(GLOBEX_KEY) == {"plan.md": 1}
    # ... and acme itself can still chat and see its (not yet ingested) documents
    assert gated.chat(ACME_KEY, "anything?").status_code == 200
    status = gated.client.get(f"/jobs/{job['id']}", headers=gated.as_(ACME_KEY)).json()["status"]
    assert status == "running"
    gate.gate.set()
    assert gated.wait(ACME_KEY, job["id"])["status"] == "succeeded"


def test_progress_events_stream_until_done(gated: Backend) -> None:
    files = [(f"doc{n}.md", f"Document number {n} about topic {n}. " * 50) for n in range(4)]
    resp = gated.submit(ACME_KEY, *files)
    assert resp.status_code == 202
    job_id = resp.json()["job"]["id"]
    events = gated.client.get(f"/jobs/{job_id}/events", headers=gated.as_(ACME_KEY))
    assert events.headers["content-type"].startswith("text/event-stream")
    parsed = parse_sse(events.text)
    kinds = [e for e, _ in parsed]
    assert kinds[-1] == "done" and set(kinds[:-1]) <= {"progress"} and len(kinds) >= 2
    final = parsed[-1][1]
    assert final["status"] == "succeeded" and final["progress"]["documents_done"] == 4
    dones = [d["progress"]["documents_done"] for _, d in parsed]
    assert dones == sorted(dones)


def test_each_tenants_jobs_run_in_order_and_tenants_take_turns(gated: Backend) -> None:
    gate = _gate(gated)
    gate.gate.clear()
    first = gated.submit(ACME_KEY, ("a1.md", "acme one")).json()["job"]["id"]
    assert gate.waiting.wait(30)  # a1 is running; the rest queue behind it
    a2 = gated.submit(ACME_KEY, ("a2.md", "acme two")).json()["job"]["id"]
    a3 = gated.submit(ACME_KEY, ("a3.md", "acme three")).json()["job"]["id"]
    g1 = gated.submit(GLOBEX_KEY, ("g1.md", "globex one")).json()["job"]["id"]
    gate.gate.set()
    jobs = {
        name: (gated.wait(key, job_id))
        for name, key, job_id in (
            ("a1", ACME_KEY, first),
            ("a2", ACME_KEY, a2),
            ("a3", ACME_KEY, a3),
            ("g1", GLOBEX_KEY, g1),
        )
    }
    order = sorted(jobs, key=lambda n: jobs[n]["started"])
    assert order == ["a1", "g1", "a2", "a3"], order
    assert [b[0] for b in gate.batches] == ["acme one", "globex one", "acme two", "acme three"]


def test_too_many_pending_jobs_is_429(shared_local_server: LocalServer, keyring: KeyRing) -> None:
    emb = GatedEmbeddings()
    b = make_backend(shared_local_server, keyring, ChatLimits(max_pending_jobs=2), embedding=emb)
    with b.client:
        emb.gate.clear()
        try:
            assert b.submit(ACME_KEY, ("1.md", "one")).status_code == 202
            assert b.submit(ACME_KEY, ("2.md", "two")).status_code == 202
            refused = b.submit(ACME_KEY, ("3.md", "three"))
            assert refused.status_code == 429 and refused.json()["code"] == "too_many_jobs"
            assert refused.headers["retry-after"] == "10"
            assert b.submit(GLOBEX_KEY, ("g.md", "globex")).status_code == 202  # per tenant
        finally:
            emb.gate.set()


def test_unknown_job_says_jobs_do_not_survive_a_restart(backend: Backend) -> None:
    resp = backend.client.get("/jobs/feedface", headers=backend.as_(ACME_KEY))
    assert resp.status_code == 404
    assert resp.json()["code"] == "unknown_job"
    assert "do not survive a restart" in resp.json()["detail"]
    assert (
        backend.client.get("/jobs/feedface/events", headers=backend.as_(ACME_KEY)).status_code
        == 404
    )


def test_shutdown_fails_queued_jobs_and_removes_their_files(
    shared_local_server: LocalServer, keyring: KeyRing
) -> None:
    emb = GatedEmbeddings()
    b = make_backend(shared_local_server, keyring, embedding=emb)
    emb.gate.clear()
    with b.client:
        running = b.submit(ACME_KEY, ("r.md", "running")).json()["job"]["id"]
        assert emb.waiting.wait(30)
        queued = b.submit(ACME_KEY, ("q.md", "queued")).json()["job"]["id"]
        manager = b.app.state.jobs
        queued_root = manager.get("acme", queued).root
        assert queued_root is not None and queued_root.exists()
        threading.Timer(0.5, emb.gate.set).start()  # the running job ends within the grace
    # leaving the client ran the app's shutdown
    assert manager.get("acme", queued).status == "failed"
    assert manager.get("acme", queued).error["code"] == "server_stopped"
    assert not queued_root.exists()
    assert manager.get("acme", running).status == "succeeded"


def test_upload_dirs_of_dead_processes_are_swept() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(proc.stdout)
    stale = Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{dead}-"))
    (stale / "left.md").write_text("left behind by a killed server")
    mine = Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-"))
    try:
        assert sweep_stale_uploads() >= 1
        assert not stale.exists() and mine.exists()
    finally:
        mine.rmdir()


def test_foreground_gate_waits_for_questions_and_times_out() -> None:
    from tenant_rag.chat.service import ForegroundGate

    gate = ForegroundGate()
    assert gate.wait_idle(0.0) is True
    gate.enter()
    assert gate.busy and gate.wait_idle(0.05) is False
    threading.Timer(0.2, gate.leave).start()
    started = time.monotonic()
    assert gate.wait_idle(10.0) is True  # returns when the question ends, not at the timeout
    assert time.monotonic() - started < 5.0 and not gate.busy


def test_chats_release_the_gate_however_they_end(seeded: Backend) -> None:
    """Answered, refused (422) and cut off mid-stream: no question stays counted."""
    gate = seeded.app.state.service.foreground
    assert seeded.chat(ACME_KEY, "vacation days?").status_code == 200
    assert seeded.chat(ACME_KEY, "").status_code == 422
    with seeded.client.stream(
        "POST", "/chat", json={"question": "office?"}, headers=seeded.as_(ACME_KEY)
    ) as resp:
        next(resp.iter_lines())  # read a little, then hang up
    deadline = time.monotonic() + 10
    while gate.busy and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not gate.busy


def test_local_model_for_jobs_calls_the_hook_before_each_batch() -> None:
    from tenant_rag.models.local_minilm import LocalMiniLMEmbeddings

    calls: list[int] = []
    base = LocalMiniLMEmbeddings()
    twin = base.with_threads(1, before_embed=lambda: calls.append(1))
    texts = ["Zephyr ships on Tuesdays.", "Support runs from Lisbon."]
    assert twin.embed_documents(texts) == base.embed_documents(texts)  # same vectors
    assert calls == [1]
    from tenant_rag.ingestion.chunking import embedding_fingerprint

    assert embedding_fingerprint(twin) == embedding_fingerprint(base)  # same content hashes
