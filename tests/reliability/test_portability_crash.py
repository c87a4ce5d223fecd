"""``kill -9`` of an import and of a move, then a rerun: exactly the source's records, no loss.

A child process runs `import_tenant` or `move_tenant` against the embedded
server of this process and is SIGKILLed at a random point (a random page of
the copy, the verification or the deletion). Then:

* right after the kill, no record is lost: for a move, each of the source's
  records is still in the source or already in the destination with its
  content (the source is deleted only after verification);
* the same call, run again, resumes from its journal and ends with exactly
  the source's records in the destination (same ids, values, metadata; the
  count equal, so no duplicate) and, for a move, an empty source.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tenant_rag.connection import ensure_index
from tenant_rag.lifecycle import export_tenant, import_tenant, move_tenant
from tenant_rag.lifecycle.portability.checksum import canonical_metadata
from tenant_rag.local import start
from tenant_rag.tenancy import PinnedIndex

from ._figures import Tally, soak

TALLY = Tally("portability_crash")
DIM = 16
N = 2400

CHILD = """
import sys
from pinecone import Pinecone
from tenant_rag.connection import ensure_index
from tenant_rag.lifecycle import import_tenant, move_tenant
url, op, src, dst, export_dir = sys.argv[1:6]
pc = Pinecone(api_key="local", host=url)
source = ensure_index(pc, src, dimension=16)
target = ensure_index(pc, dst, dimension=16)
def tick(*args):
    print("PAGE", args[-2] if len(args) == 3 else args[0], flush=True)
if op == "import":
    import_tenant(target, "acme", export_dir, progress=tick)
else:
    move_tenant(source, target, "acme", progress=tick)
print("FINISHED", flush=True)
"""


def _records(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"rec-{i:05d}",
            "values": [rng.uniform(-1, 1) for _ in range(DIM)],
            "metadata": {"text": f"record {i} of trial {seed}", "n": i},
        }
        for i in range(n)
    ]


def _state(index: Any) -> dict[str, tuple[bytes, bytes]]:
    pinned = PinnedIndex(index, "acme")
    ids = list(pinned.list_ids())
    out = {}
    for start_at in range(0, len(ids), 500):
        for rid, rec in pinned.fetch(ids[start_at : start_at + 500]).items():
            out[rid] = (
                np.asarray(rec.values, dtype=np.float32).tobytes(),
                canonical_metadata(rec.metadata),
            )
    return out


def _kill_midway(args: list[str], after_pages: int, env: dict[str, str]) -> bool:
    """Run the child until it reported ``after_pages`` pages, SIGKILL it; True if it finished."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    pages, finished = 0, False
    for line in child.stdout:
        if line.startswith("FINISHED"):
            finished = True
            break
        if line.startswith("PAGE"):
            pages += 1
            if pages >= after_pages:
                break
    child.kill()  # SIGKILL: no cleanup runs
    child.wait(10)
    return finished


def test_killed_import_and_move_rerun_to_exactly_the_source(tmp_path: Path) -> None:
    import os

    trials = 6 if soak() else 3
    rng = random.Random(13)
    env = {**os.environ, "TENANT_RAG_STATE_DIR": str(tmp_path / "state")}
    os.environ["TENANT_RAG_STATE_DIR"] = env["TENANT_RAG_STATE_DIR"]
    try:
        with start(tmp_path / "data") as srv:
            pc = srv.client()
            for trial in range(trials):
                src = ensure_index(pc, f"src-{trial}", dimension=DIM)
                PinnedIndex(src, "acme").upsert(_records(N, trial), batch_size=200)
                original = _state(src)
                export_dir = tmp_path / f"export-{trial}"
                export_tenant(src, "acme", export_dir)

                # -- import, killed and rerun ---------------------------------------------
                imp = ensure_index(pc, f"imp-{trial}", dimension=DIM)
                args = [srv.url, "import", f"src-{trial}", f"imp-{trial}", str(export_dir)]
                if not _kill_midway(args, rng.randint(1, 4), env):
                    TALLY.add("imports_killed")
                partial = _state(imp)
                assert all(original[rid] == rec for rid, rec in partial.items())
                report = import_tenant(imp, "acme", export_dir)
                assert report.verified and report.resumed  # it found the killed run's journal
                assert _state(imp) == original
                assert PinnedIndex(imp, "acme").count() == N
                TALLY.add("import_reruns_exact")

                # -- move, killed and rerun ------------------------------------------------
                dst = ensure_index(pc, f"dst-{trial}", dimension=DIM)
                args = [srv.url, "move", f"src-{trial}", f"dst-{trial}", str(export_dir)]
                # pages: ~N/page in the copy, as many to verify, then the deletion pages
                if not _kill_midway(args, rng.randint(1, 12), env):
                    TALLY.add("moves_killed")
                in_src, in_dst = _state(src), _state(dst)
                for rid, rec in original.items():  # nothing lost at the moment of the kill
                    assert in_src.get(rid) == rec or in_dst.get(rid) == rec, rid
                if len(in_src) < N:
                    TALLY.add("moves_killed_while_deleting")
                report = move_tenant(src, dst, "acme")
                assert report.verified and report.resumed
                assert _state(dst) == original
                assert PinnedIndex(dst, "acme").count() == N
                assert PinnedIndex(src, "acme").count() == 0
                TALLY.add("move_reruns_exact")
    finally:
        os.environ.pop("TENANT_RAG_STATE_DIR", None)
    TALLY.write("pytest tests/reliability/test_portability_crash.py")
