"""Crash durability: SIGKILL the embedded server mid-write, restart, lose nothing.

Each trial starts the server in a child process over one data dir that
lives for the whole test, runs several client threads that upsert,
overwrite and delete records of their own tenant from a fixed plan, and
SIGKILLs the server at a random moment. Each client records every write the
server acknowledged (a 200) and the one write that was in flight, if any.

After the kill, before the restart: a copy of every SQLite file passes
``PRAGMA integrity_check``. After the restart (which must come up with no
repair step and log no recovery): every acknowledged write of this trial and
of every earlier trial is there, an in-flight write is either fully applied or
not at all, and re-running the plan converges to exactly the plan's final
record set (ids, values and metadata; no extras).

20 trials by default; ``TENANT_RAG_SOAK=1`` runs 100. Figures go to
``benchmarks/results/reliability_crash.json``.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ._figures import Tally, soak
from ._proc import RawIndex, ServerProcess, create_index

DIM = 8
INDEX = "crash"
CLIENTS = 3
STEPS = 30
TALLY = Tally("crash")

Op = tuple[str, list[str], int]  # ("upsert" | "delete", ids, version)


def _plan(seed: int) -> list[Op]:
    """A client's deterministic write plan: new ids, overwrites and deletes."""
    rng = random.Random(seed)
    ops: list[Op] = []
    for step in range(STEPS):
        ids = [f"doc{step}#{k}" for k in range(rng.randint(1, 6))]
        ops.append(("upsert", ids, step))
        if step >= 2 and rng.random() < 0.3:
            ops.append(("delete", [f"doc{step - 2}#0", f"doc{step - 2}#1"], step))
        if step >= 1 and rng.random() < 0.3:
            ops.append(("upsert", [f"doc{step - 1}#0"], step))  # overwrite, new version
    return ops


def _apply(state: dict[str, int], op: Op) -> None:
    kind, ids, version = op
    for i in ids:
        if kind == "upsert":
            state[i] = version
        else:
            state.pop(i, None)


def _vector(rid: str, version: int, ns: str) -> dict[str, Any]:
    seed = sum(map(ord, rid)) % 97
    values = [float(version + 1), float(seed + 1)] + [0.5] * (DIM - 2)
    return {"id": rid, "values": values, "metadata": {"v": version, "ns": ns}}


def _send(ix: RawIndex, ns: str, op: Op) -> None:
    kind, ids, version = op
    if kind == "upsert":
        ix.upsert(ns, [_vector(i, version, ns) for i in ids])
    else:
        ix.delete(ns, ids)


@dataclass
class Client:
    """One writer thread's tenant, plan and what the server acknowledged."""

    ns: str
    plan: list[Op]
    acked: int = 0  # plan[:acked] were acknowledged
    in_flight: Op | None = None
    error: str = ""
    all_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.all_ids = sorted({i for _, ids, _ in self.plan for i in ids})

    def run(self, url: str) -> None:
        ix = RawIndex(url, INDEX, timeout=5.0)
        self.error = ""
        try:
            for op in self.plan[self.acked :]:
                self.in_flight = op
                _send(ix, self.ns, op)
                self.in_flight = None
                self.acked += 1
        except Exception as exc:  # noqa: BLE001 - the server was killed under us
            self.error = type(exc).__name__
        finally:
            ix.close()

    def expected_after_ack(self) -> dict[str, int]:
        state: dict[str, int] = {}
        for op in self.plan[: self.acked]:
            _apply(state, op)
        return state

    def final(self) -> dict[str, int]:
        state: dict[str, int] = {}
        for op in self.plan:
            _apply(state, op)
        return state


def _actual(ix: RawIndex, c: Client) -> dict[str, int]:
    got = ix.fetch(c.ns, c.all_ids)
    out = {}
    for rid, vec in got.items():
        assert vec["values"] == pytest.approx(
            _vector(rid, int(vec["metadata"]["v"]), c.ns)["values"]
        )
        assert vec["metadata"]["ns"] == c.ns, "a record carries another tenant's mark"
        out[rid] = int(vec["metadata"]["v"])
    return out


def _check_acknowledged(ix: RawIndex, c: Client) -> None:
    """Every acknowledged write is there; the in-flight one is all-or-nothing per record."""
    expected, actual = c.expected_after_ack(), _actual(ix, c)
    uncertain: dict[str, int] = {}
    if c.in_flight is not None:
        after = dict(expected)
        _apply(after, c.in_flight)
        uncertain = {i: after.get(i, -1) for i in c.in_flight[1]}
    for rid in c.all_ids:
        want, got = expected.get(rid, -1), actual.get(rid, -1)
        if rid in uncertain:
            assert got in (want, uncertain[rid]), (c.ns, rid, got, want, uncertain[rid])
        else:
            assert got == want, f"{c.ns}/{rid}: acknowledged state {want}, found {got}"


def _check_converged(ix: RawIndex, c: Client) -> None:
    final = c.final()
    assert _actual(ix, c) == final
    assert sorted(ix.list_ids(c.ns)) == sorted(final), "no extra records"


def _integrity_ok(data_dir: Path, scratch: Path) -> int:
    """Copy the killed server's SQLite files (db + WAL) and run integrity_check on the copy."""
    checked = 0
    for db in data_dir.rglob("*.sqlite"):
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True)
        for suffix in ("", "-wal"):
            src = db.with_name(db.name + suffix)
            if src.exists():
                shutil.copy2(src, scratch / src.name)
        conn = sqlite3.connect(scratch / db.name)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", db
        finally:
            conn.close()
        checked += 1
    return checked


def test_sigkill_during_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    trials = 100 if soak() else 20
    data, scratch, log = tmp_path / "data", tmp_path / "scratch", tmp_path / "server.log"
    rng = random.Random(6)
    done: list[Client] = []
    srv = ServerProcess(data, log=log)
    try:
        create_index(srv.url, INDEX, DIM)
        for trial in range(trials):
            clients = [Client(f"t{trial}-c{c}", _plan(trial * 100 + c)) for c in range(CLIENTS)]
            threads = [threading.Thread(target=c.run, args=(srv.url,)) for c in clients]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.01, 0.25))
            srv.kill()  # SIGKILL mid-write (or, in a lucky trial, just after the last write)
            for t in threads:
                t.join(30)
            TALLY.add("trials")
            TALLY.add("acknowledged_writes", sum(c.acked for c in clients))
            TALLY.add("writes_in_flight_at_kill", sum(c.in_flight is not None for c in clients))
            TALLY.add("sqlite_files_checked", _integrity_ok(data, scratch))
            srv = ServerProcess(data, log=log)  # restart: no repair step, just open
            ix = RawIndex(srv.url, INDEX)
            for c in clients:
                _check_acknowledged(ix, c)
                c.run(srv.url)  # re-run the rest of the plan, from the last acknowledged write
                assert not c.error, c.error
                _check_converged(ix, c)
            if trial % 5 == 4 or trial == trials - 1:
                for c in done:  # every earlier trial's converged set is still exact
                    _check_converged(ix, c)
                c = clients[0]  # and a whole-plan re-run is idempotent
                c.acked = 0
                c.run(srv.url)
                _check_converged(ix, c)
            ix.close()
            TALLY.add("records_verified", sum(len(c.final()) for c in clients))
            done += clients
    finally:
        srv.kill()
    text = log.read_text().lower()
    for word in ("corrupt", "repair", "recover", "malformed", "traceback"):
        assert word not in text, f"server log mentions {word!r}: {text[-2000:]}"
    TALLY.extra["clients_per_trial"] = CLIENTS
    TALLY.write("pytest tests/reliability/test_crash.py -k sigkill")


# -- a killed ingest process -------------------------------------------------------------------

INGEST_CHILD = """
import os, sys
from pinecone import Pinecone
from tenant_rag.connection import ensure_index
from tenant_rag.ingestion import ingest
from tenant_rag.models.hashing import HashingTestEmbeddings
url, folder, tenant = sys.argv[1:4]
index = ensure_index(Pinecone(api_key="local", host=url), "ingest", dimension=64)
def progress(done, total, chunks):
    print(f"DONE {done}", flush=True)
ingest(index, tenant, folder, embedding=HashingTestEmbeddings(64), chunk_size=300,
       chunk_overlap=30, progress=progress, writers=2, wave_chunks=16, embed_batch_size=8,
       batch_size=8)
print("FINISHED", flush=True)
"""


def _corpus(folder: Path, docs: int, version: int) -> None:
    words = ["vacation", "office", "berlin", "expenses", "policy", "laptop", "travel"]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(docs):
        lines = [
            f"{words[(i + j + version) % 7]} rule {j} of doc {i} v{version}." for j in range(40)
        ]
        (folder / f"doc{i:03d}.md").write_text("\n".join(lines))


def _stored(index: Any, tenant: str) -> dict[str, Any]:
    from tenant_rag import PinnedIndex

    p = PinnedIndex(index, tenant)
    ids = sorted(p.list_ids())
    recs = p.fetch(ids)
    # ingested_at is when a version was written (wall clock), not part of its content
    return {
        i: (
            {k: v for k, v in recs[i].metadata.items() if k != "ingested_at"},
            [round(v, 5) for v in recs[i].values],
        )
        for i in ids
    }


def test_sigkilled_ingest_process_reruns_to_exactly_the_expected_records(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tenant_rag.connection import ensure_index
    from tenant_rag.ingestion import ingest
    from tenant_rag.local import start
    from tenant_rag.models.hashing import HashingTestEmbeddings

    emb = HashingTestEmbeddings(64)
    opts: dict[str, Any] = {"chunk_size": 300, "chunk_overlap": 30, "progress": False}
    trials = 10 if soak() else 3
    rng = random.Random(11)
    with start(tmp_path / "data") as srv:
        index = ensure_index(srv.client(), "ingest", dimension=64)
        for trial in range(trials):
            folder = tmp_path / f"corpus{trial}"
            tenant, ref = f"acme{trial}", f"ref{trial}"
            if trial % 2:  # an earlier version of the files is already in: the killed run updates
                _corpus(folder, docs=60, version=trial + 100)
                assert ingest(index, tenant, folder, embedding=emb, **opts).ok
            _corpus(folder, docs=60, version=trial)
            assert ingest(index, ref, folder, embedding=emb, **opts).ok
            child = subprocess.Popen(
                [sys.executable, "-c", INGEST_CHILD, srv.url, str(folder), tenant],
                stdout=subprocess.PIPE,
                text=True,
            )
            kill_after = rng.randint(3, 40)
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith("DONE") and int(line.split()[1]) >= kill_after:
                    break
            child.kill()  # SIGKILL mid-run
            child.wait(10)
            TALLY.add("ingest_processes_killed")
            if _stored(index, tenant) != _stored(index, ref):
                TALLY.add("ingest_kills_that_left_the_tenant_incomplete")
            rerun = ingest(index, tenant, folder, embedding=emb, **opts)
            assert rerun.ok, rerun.failed
            assert _stored(index, tenant) == _stored(index, ref), "exactly the clean run's records"
            again = ingest(index, tenant, folder, embedding=emb, **opts)
            assert again.documents_unchanged == 60 and again.chunks_upserted == 0
            TALLY.add("ingest_records_verified", len(_stored(index, ref)))
    TALLY.write("pytest tests/reliability/test_crash.py")
