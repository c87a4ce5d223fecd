"""Journals: how an import, copy or move killed half-way knows, on the rerun, where it was.

Pinecone has no transactions, so a long transfer cannot be all-or-nothing in
the index. Instead every write is idempotent (record ids are the source's, so
writing a page twice writes the same records) and a small JSON journal records
how far the transfer got and which phase it is in. A rerun of the same
transfer (same source, same destination) finds its journal and continues: it
does not refuse the destination it had itself half-filled under
``on_existing="fail"``, skips what is known to be written, and repeats the
verification. The journal is replaced atomically (write, fsync, rename) after
each step, so a ``kill -9`` leaves either the old or the new state.

Journals hold positions and names (index, tenant, namespace, file names,
checksums), never record contents. They live in ``journal_dir``, by default
``$TENANT_RAG_STATE_DIR``, else ``transfers/`` in tenant_rag's data dir
(``$TENANT_RAG_HOME``, else ``./.tenant_rag``); never inside an export, whose
sub-directories Pinecone's bulk import would read.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def state_dir() -> Path:
    """Where copy and move journals go by default."""
    explicit = os.environ.get("TENANT_RAG_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    # the embedded server's data dir rule, without importing the server
    home = os.environ.get("TENANT_RAG_HOME") or ".tenant_rag"
    return Path(home).expanduser().resolve() / "transfers"


class Journal:
    """One transfer's journal file: ``<dir>/<kind>-<key>.json``."""

    def __init__(self, directory: Path, kind: str, identity: Mapping[str, Any]) -> None:
        self.identity = dict(identity)
        key = hashlib.sha256(
            json.dumps(self.identity, sort_keys=True, default=str).encode()
        ).hexdigest()[:20]
        self.path = Path(directory) / f"{kind}-{key}.json"
        self.state: dict[str, Any] = {}

    def load(self) -> dict[str, Any] | None:
        """The saved state of this same transfer, or None when there is none."""
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:  # a journal cut short cannot happen (atomic rename); be safe anyway
            return None
        if raw.get("identity") != json.loads(json.dumps(self.identity, default=str)):
            return None
        self.state = dict(raw.get("state") or {})
        return self.state

    def save(self, **changes: Any) -> None:
        """Merge ``changes`` into the state and replace the file atomically."""
        self.state.update(changes)
        self.state["updated_at"] = time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp-{os.getpid()}")
        payload = {"identity": self.identity, "state": self.state}
        with tmp.open("w") as f:
            json.dump(payload, f, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.state = {}
        self.path.unlink(missing_ok=True)


__all__ = ["Journal", "state_dir"]
