"""Durability modes (``--durability process|power``): each does what it promises.

* ``process``: an acknowledged write survives the server being killed at any point;
* ``power``: it also survives an OS crash or power loss, because every commit is fsynced
  before the answer.

A power cut cannot be staged here, so ``power`` is shown at the system-call level: the
server, run under ``strace``, fsyncs at least once per acknowledged write, where ``process``
fsyncs none for the same writes. Process kills are staged for real, in both modes: at random
moments of big writes (whose commits run SQLite's automatic checkpoints), in the middle of an
explicit checkpoint (the storage layer in a child process, killed between "checkpoint
started" and "checkpoint done"), and in the middle of a backup while writers write. After
each kill: every SQLite file passes ``integrity_check`` as the kill left it, every
acknowledged write is there after the restart, and a backup is either whole and restorable
or absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tenant_rag.local.engine import Engine
from tenant_rag.local.engine.backups import Backups
from tenant_rag.local.storage.sqlite import DURABILITY_MODES

from ._figures import Tally, soak
from ._proc import RawIndex, ServerProcess, create_index

TALLY = Tally("durability")
SYNCHRONOUS = {"process": 1, "power": 2}  # PRAGMA synchronous: NORMAL, FULL


def _integrity_ok(data_dir: Path, scratch: Path) -> int:
    """Copy each SQLite file (db + WAL) as the kill left it; integrity_check the copy."""
    checked = 0
    for db in data_dir.rglob("*.sqlite"):
        shutil.rmtree(scratch, ignore_errors=True)
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


# -- the mode reaches every connection ---------------------------------------------------------


@pytest.mark.parametrize("mode", DURABILITY_MODES)
def test_every_connection_runs_in_the_mode(tmp_path: Path, mode: str) -> None:
    engine = Engine(tmp_path, mode)  # type: ignore[arg-type]
    try:
        engine.create_index(
            {
                "name": "m",
                "dimension": 2,
                "metric": "cosine",
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
            }
        )
        index_conn = engine.index("m").store.conn
        catalog_conn = engine.catalog._conn
        with Backups(engine).store._conn() as backups_conn:
            for conn in (index_conn, catalog_conn, backups_conn):
                assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                assert conn.execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS[mode]
                assert conn.execute("PRAGMA fullfsync").fetchone()[0] == (mode == "power")
    finally:
        engine.close()


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="process, power"):
        Engine(tmp_path, "fast")  # type: ignore[arg-type]


# -- power: one fsync per acknowledged write, at least --------------------------------------

_SYNC_CALL = re.compile(r"\b(fsync|fdatasync)\(")


@pytest.mark.parametrize("mode", DURABILITY_MODES)
def test_power_fsyncs_every_acknowledged_write_and_process_does_not(
    tmp_path: Path, mode: str
) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (make test installs it as root: make test-tools)")
    trace = tmp_path / "trace.txt"
    prefix = [strace, "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(trace)]
    writes = 30
    srv = ServerProcess(tmp_path / "data", durability=mode, prefix=prefix)
    try:
        create_index(srv.url, "sync", 4)
        ix = RawIndex(srv.url, "sync", timeout=30)
        ix.upsert("t", [{"id": "warm", "values": [1.0, 0.0, 0.0, 0.0]}])  # opens the file
        time.sleep(0.5)
        before = len(_SYNC_CALL.findall(trace.read_text()))
        for i in range(writes):
            ix.upsert("t", [{"id": f"r{i}", "values": [1.0, float(i), 0.0, 0.0]}])
        ix.close()
        time.sleep(0.5)
        syncs = len(_SYNC_CALL.findall(trace.read_text())) - before
    finally:
        srv.kill()
    TALLY.add(f"fsyncs_for_{writes}_writes_{mode}", syncs)
    if mode == "power":
        assert syncs >= writes, f"{syncs} fsyncs for {writes} acknowledged writes"
    else:
        assert syncs < writes // 4, f"{syncs} fsyncs for {writes} writes in process mode"


# -- kills at random moments of big writes (automatic checkpoints) -------------------------

BIG = "x" * 30_000  # 50 such records: a ~1.5 MB request; the WAL checkpoints at ~4 MB


class Writer(threading.Thread):
    """Upserts batches of big records to its own namespace; remembers what was acknowledged."""

    def __init__(self, url: str, index: str, ns: str) -> None:
        super().__init__(daemon=True)
        self.ix = RawIndex(url, index, timeout=30)
        self.ns = ns
        self.acked: list[str] = []
        self.error: Exception | None = None

    def run(self) -> None:
        batch = 0
        try:
            while True:
                ids = [f"{self.ns}-{batch}-{i}" for i in range(50)]
                rows = [
                    {"id": r, "values": [1.0, 0.5], "metadata": {"pad": BIG, "id": r}} for r in ids
                ]
                self.ix.upsert(self.ns, rows)
                self.acked += ids
                batch += 1
        except httpx.TransportError:
            pass  # the server died under it: expected
        except Exception as exc:  # a refused write would make the test prove nothing
            self.error = exc


@pytest.mark.parametrize("mode", DURABILITY_MODES)
def test_sigkill_during_big_writes_and_checkpoints(tmp_path: Path, mode: str) -> None:
    trials = 12 if soak() else 2
    data, scratch = tmp_path / "data", tmp_path / "scratch"
    rng = random.Random(16)
    acked: dict[str, list[str]] = {}
    srv = ServerProcess(data, durability=mode)
    try:
        create_index(srv.url, "big", 2)
        for trial in range(trials):
            writers = [Writer(srv.url, "big", f"t{trial}w{w}") for w in range(2)]
            for w in writers:
                w.start()
            time.sleep(rng.uniform(0.2, 1.0))
            srv.kill()
            for w in writers:
                w.join(30)
                assert w.error is None, w.error
                acked[w.ns] = w.acked
            TALLY.add(f"big_write_kills_{mode}")
            TALLY.add(f"big_write_acknowledged_{mode}", sum(len(w.acked) for w in writers))
            TALLY.add("sqlite_files_checked", _integrity_ok(data, scratch))
            srv = ServerProcess(data, durability=mode)
            ix = RawIndex(srv.url, "big", timeout=30)
            for ns, ids in acked.items():  # this trial's and every earlier one's
                lost = set(ids) - set(ix.list_ids(ns))
                assert not lost, f"{ns}: {len(lost)} acknowledged records lost"
                sample = rng.sample(ids, min(10, len(ids)))
                got = ix.fetch(ns, sample)
                assert all(got[r]["metadata"] == {"pad": BIG, "id": r} for r in sample)
            ix.close()
        assert any(acked.values()), "no write was acknowledged before the kills"
    finally:
        srv.kill()


# -- a kill in the middle of a checkpoint ----------------------------------------------------

CHECKPOINT_CHILD = r"""
import sys, threading, time
from pathlib import Path
from tenant_rag.local.storage.index_store import IndexStore

path, mode, batches = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
pad = b"\x01" * 4096
lock = threading.Lock()

def say(line):  # one write per line, under a lock: two threads' lines never interleave
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

def commit(store, ns, ids):
    with store.write():
        store.put(ns, [(i, pad, None, None) for i in ids])
        store.add_count(ns, len(ids))
    say("ACK " + " ".join(ids))

filler = IndexStore(path, mode)
filler.conn.execute("PRAGMA wal_autocheckpoint=0")  # let the WAL grow; checkpoint below
for b in range(batches):
    commit(filler, "bulk", [f"b{b}-{i}" for i in range(50)])

def keep_writing():  # another connection commits all through the checkpoint
    other = IndexStore(path, mode)
    other.conn.execute("PRAGMA wal_autocheckpoint=0")
    n = 0
    while True:
        commit(other, "live", [f"l{n}"])
        n += 1

threading.Thread(target=keep_writing, daemon=True).start()
time.sleep(0.05)
say("CHECKPOINT START")
t = time.perf_counter()
row = filler.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
say(f"CHECKPOINT DONE {time.perf_counter() - t:.4f} {row}")
time.sleep(0.2)
"""


def _checkpoint_trial(
    path: Path, mode: str, batches: int, kill_after: float | None
) -> tuple[set[str], float | None, bool]:
    """Run the child; kill it ``kill_after`` s into the checkpoint (None: let it finish).

    Returns the acknowledged ids, the checkpoint's duration if it finished, and whether
    the kill came while the checkpoint ran.
    """
    errors = path.with_name(path.name + ".stderr")
    with errors.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHECKPOINT_CHILD, str(path), mode, str(batches)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    acked: set[str] = set()
    duration = None
    started = killed_mid = False
    timer: threading.Timer | None = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("ACK "):
            acked.update(line.split()[1:])
        elif line.startswith("CHECKPOINT START"):
            started = True
            if kill_after is not None:
                timer = threading.Timer(kill_after, lambda: os.kill(proc.pid, signal.SIGKILL))
                timer.start()
        elif line.startswith("CHECKPOINT DONE"):
            duration = float(line.split()[2])
    proc.wait(60)
    if timer is not None:
        timer.join()
    killed_mid = started and duration is None and proc.returncode == -signal.SIGKILL
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"checkpoint child failed: {errors.read_text()[-2000:]}")
    return acked, duration, killed_mid


@pytest.mark.parametrize("mode", DURABILITY_MODES)
def test_sigkill_in_the_middle_of_a_checkpoint(tmp_path: Path, mode: str) -> None:
    trials = 10 if soak() else 2
    batches = 200  # 200 x 50 x 4 KB: a WAL of ~40 MB
    rng = random.Random(32)
    # calibrate: how long this machine's checkpoint of that WAL takes
    _, duration, _ = _checkpoint_trial(tmp_path / "calibrate.sqlite", mode, batches, None)
    assert duration is not None
    mid = trial = 0
    # `trials` kills, more (up to 3x) until one has landed inside a checkpoint: a loaded
    # machine can make one trial's checkpoint quicker than the calibration's
    while trial < trials or (mid == 0 and trial < 3 * trials):
        path = tmp_path / f"t{trial}" / "index.sqlite"
        path.parent.mkdir()
        acked, _, killed_mid = _checkpoint_trial(
            path, mode, batches, rng.uniform(0.05, 0.6) * duration
        )
        mid += killed_mid
        TALLY.add("sqlite_files_checked", _integrity_ok(path.parent, tmp_path / "scratch"))
        conn = sqlite3.connect(path)
        try:
            stored = {r[0] for r in conn.execute("SELECT id FROM records")}
        finally:
            conn.close()
        missing = acked - stored
        assert not missing, f"trial {trial}: {len(missing)} acknowledged records lost"
        TALLY.add(f"checkpoint_kills_{mode}")
        TALLY.add(f"checkpoint_acknowledged_{mode}", len(acked))
        trial += 1
    TALLY.add(f"checkpoint_kills_mid_checkpoint_{mode}", mid)
    TALLY.extra[f"checkpoint_seconds_{mode}"] = duration
    assert mid >= 1, f"no kill landed inside the checkpoint ({duration:.3f} s long)"


# -- a kill in the middle of a backup --------------------------------------------------------


@pytest.mark.parametrize("mode", DURABILITY_MODES)
def test_sigkill_in_the_middle_of_a_backup(tmp_path: Path, mode: str) -> None:
    trials = 6 if soak() else 2
    data, backups_dir = tmp_path / "data", tmp_path / "data" / "backups"
    rng = random.Random(48)
    srv = ServerProcess(data, durability=mode)
    try:
        create_index(srv.url, "src", 2)
        ix = RawIndex(srv.url, "src", timeout=60)
        for b in range(40):  # 2,000 records of 30 KB: a ~60 MB snapshot that takes a moment
            ix.upsert(
                "base",
                [
                    {"id": f"r{b}-{i}", "values": [1.0, 0.5], "metadata": {"pad": BIG}}
                    for i in range(50)
                ],
            )
        ix.close()
        acked: dict[str, list[str]] = {}
        snapshots = 0
        for trial in range(trials):
            writer = Writer(srv.url, "src", f"b{trial}")
            writer.start()

            def backup(url: str = srv.url, n: int = trial) -> None:
                with contextlib.suppress(Exception):
                    httpx.post(
                        f"{url}/indexes/src/backups",
                        headers={"Api-Key": "local"},
                        json={"name": f"doomed-{n}"},
                        timeout=60,
                    )

            thread = threading.Thread(target=backup)
            thread.start()
            deadline = time.monotonic() + 30
            while not list(backups_dir.glob("*.partial-*")) and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.05))
            snapshots += bool(list(backups_dir.glob("*.partial-*")))
            srv.kill()
            thread.join(60)
            writer.join(30)
            assert writer.error is None, writer.error
            acked[writer.ns] = writer.acked
            TALLY.add("sqlite_files_checked", _integrity_ok(data, tmp_path / "scratch"))
            srv = ServerProcess(data, durability=mode)
            check = RawIndex(srv.url, "src", timeout=60)
            for ns, ids in acked.items():
                assert not set(ids) - set(check.list_ids(ns)), f"{ns}: acknowledged writes lost"
            check.close()
            listed = httpx.get(
                f"{srv.url}/indexes/src/backups", headers={"Api-Key": "local"}, timeout=30
            ).json()["data"]
            for b in listed:  # a listed backup is whole: restore it and count
                assert b["status"] == "Ready", b
                name = f"restored-{trial}-{b['backup_id'][:8]}"
                r = httpx.post(
                    f"{srv.url}/backups/{b['backup_id']}/create-index",
                    headers={"Api-Key": "local"},
                    json={"name": name},
                    timeout=60,
                )
                assert r.status_code in (200, 201, 202), r.text
                stats = httpx.post(
                    f"{srv.url}/_index/{name}/describe_index_stats",
                    headers={"Api-Key": "local"},
                    json={},
                    timeout=30,
                ).json()
                assert stats["totalVectorCount"] == b["record_count"], (stats, b)
            assert not list(backups_dir.glob("*.partial-*")), "a half backup was left behind"
            TALLY.add(f"backup_kills_{mode}")
        assert snapshots >= 1, "no kill landed while a snapshot was being written"
        TALLY.add(f"backup_kills_mid_snapshot_{mode}", snapshots)
    finally:
        srv.kill()


def test_write_figures() -> None:
    """Last in the module: print the counts (and write them with TENANT_RAG_WRITE_FIGURES=1)."""
    TALLY.write("pytest tests/reliability/test_durability_modes.py")
    assert json.dumps(dict(TALLY.counts))
