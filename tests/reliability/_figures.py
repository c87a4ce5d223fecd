"""Counters the reliability suite writes to ``benchmarks/results/`` for docs/reliability.md.

Each test module adds what it tried (cases, operations, trials) under its own
name; :meth:`Tally.write` prints them and, with ``TENANT_RAG_WRITE_FIGURES=1``,
writes one JSON file per module, so that the figures quoted in docs/reliability.md
always come from a run, never from memory.
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

    def write(self, command: str) -> Path | None:
        """Print the counts; with ``TENANT_RAG_WRITE_FIGURES=1`` also write the JSON file.

        Off by default so that an ordinary test run leaves the checked-in figures (and
        everyone's working tree) alone.
        """
        if os.environ.get("TENANT_RAG_WRITE_FIGURES", "") in ("", "0", "false"):
            print(f"\n[reliability] {self.name}: {dict(self.counts)}")
            return None
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"reliability_{self.name}.json"
        body = {
            "name": self.name,
            "command": f"TENANT_RAG_WRITE_FIGURES=1 {command}",
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
