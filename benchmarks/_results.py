"""Where a benchmark's figures go: one indented JSON file, usually under ``benchmarks/results/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_results(path: str | Path, result: dict[str, Any]) -> None:
    """Write ``result`` as indented JSON to ``path`` (creating its folder) and print where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
