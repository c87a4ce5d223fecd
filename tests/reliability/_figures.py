"""Counters the reliability suite writes to ``benchmarks/results/`` for docs/reliability.md.

Each test module adds what it tried (cases, operations, trials) under its own
name; :func:`write` merges them into one JSON file per module so that the
figures quoted in the docs always come from a run, never from memory.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def soak() -> bool:
    """True when ``TENANT_RAG_SOAK=1``: longer runs, same assertions."""
    return os.environ.get("TENANT_RAG_SOAK", "") not in ("", "0", "false")


class Tally:
    """A named counter set, written as ``benchmarks/results/reliability_<name>.json``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: Counter[str] = Counter()
        self.extra: dict[str, Any] = {}

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def write(self, command: str) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"reliability_{self.name}.json"
        body = {
            "name": self.name,
            "command": command,
            "soak": soak(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "counts": dict(sorted(self.counts.items())),
            **self.extra,
        }
        path.write_text(json.dumps(body, indent=2) + "\n")
        print(f"\n[reliability] {self.name}: {dict(self.counts)} -> {path}")
        return path
