"""Bounded load smoke test: 16 clients over 100 tenants for a few seconds, no error, no leak.

It runs ``benchmarks/bench_load.py``'s ``run_load`` (server in a child
process, 8 client threads + 8 asyncio tasks, 80% query / 10% upsert / 10%
delete) and asserts behaviour only: zero errors and zero cross-tenant
results. Timing figures (p50, p99, RSS) come from the benchmark itself.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from ._figures import Tally, soak

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_load.py"


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_load", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module
    spec.loader.exec_module(module)
    return module


def test_sixteen_clients_over_a_hundred_tenants_no_error_no_cross_tenant_result(
    tmp_path: Path,
) -> None:
    result = _bench().run_load(
        60.0 if soak() else 4.0, tenants=100, seed_records=3, data_dir=tmp_path
    )
    assert result["errors"] == 0, result["error_samples"]
    assert result["cross_tenant_results"] == 0
    assert result["latency_ms"]["query"]["n"] > 0
    assert result["latency_ms"]["async_query"]["n"] > 0
    assert result["latency_ms"]["upsert"]["n"] + result["latency_ms"]["async_upsert"]["n"] > 0
    tally = Tally("load_smoke")
    tally.add("operations", result["operations"])
    tally.add("errors", result["errors"])
    tally.add("cross_tenant_results", result["cross_tenant_results"])
    tally.extra["clients"], tally.extra["tenants"] = result["clients"], result["tenants"]
    tally.write("pytest tests/reliability/test_load.py")
