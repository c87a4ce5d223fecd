"""The embedded server's own settings from the environment, read strictly.

Why: a value that could not be read used to fall back to its default without a word, so
``TENANT_RAG_LOCAL_MAX_RESIDENT_MB=2GB`` ran with no memory cap at all. A value that
cannot be read is now a ``ValueError`` naming the variable, what it holds and what it takes,
and ``LocalServer`` reads every setting once before it opens anything (`check_settings`),
so a bad one stops the server at start instead of surfacing on some later query.
"""

from __future__ import annotations

import math
import os

ANN_MIN_ROWS_ENV = "TENANT_RAG_LOCAL_ANN_MIN_ROWS"
# Below this, exact search is about as fast as the quantised scan plus re-scoring
# (benchmarks/FIGURES.md).
DEFAULT_ANN_MIN_ROWS = 20_000
RESIDENT_BUDGET_ENV = "TENANT_RAG_LOCAL_MAX_RESIDENT_MB"


def _env_number(name: str, what: str, *, whole: bool) -> float | None:
    """The variable's value as a number >= 0, None when unset or empty; else ValueError."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(int(raw)) if whole else float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}={raw!r} cannot be read: it takes {what}")
    return value


def ann_min_rows() -> int:
    """Rows from which a namespace gets an approximate index (env overrides; 0 disables)."""
    value = _env_number(
        ANN_MIN_ROWS_ENV,
        f"a whole number of records (0 keeps every search exact; unset: {DEFAULT_ANN_MIN_ROWS:,})",
        whole=True,
    )
    return DEFAULT_ANN_MIN_ROWS if value is None else int(value)


def resident_budget() -> int:
    """Bytes of namespaces one index may hold in memory; 0 (the default) means no limit."""
    value = _env_number(
        RESIDENT_BUDGET_ENV, "a number of MiB, such as 512 or 0.5 (unset or 0: no cap)", whole=False
    )
    return int(value * 2**20) if value else 0


def check_settings() -> None:
    """Read every setting once; the first that cannot be read raises its ValueError."""
    ann_min_rows()
    resident_budget()
