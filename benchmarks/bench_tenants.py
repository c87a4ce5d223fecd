"""Many tenants in one index: namespace listing, stats and memory of the embedded server.

100,000 namespaces x 2 vectors x 384 (cosine) written through the engine (setup), then a
``tenant-rag serve`` child process: ``list_namespaces_paginated(limit=100)`` (first page and
a page from the middle), ``describe_index_stats()`` over REST and gRPC (SDK time included),
the same two requests as raw HTTP (the server's share, without the SDK's model parsing),
``describe_index_stats()`` through the newest SDK generation too (pinecone 10.2.0 from
``.venv-sdk/10.2.0``, made by ``make sdk-venvs``, in a child process: it decodes answers with
msgspec rather than validating one OpenAPI model per namespace), then 1,000 tenants each
queried once, and the server's RSS.

Usage: ``python benchmarks/bench_tenants.py [--tenants N] [--sdk-python PATH]``; writes
``benchmarks/results/tenants.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results

from tenant_rag.local.process import serve_process

DIM = 384
RESULTS = Path(__file__).resolve().parent / "results" / "tenants.json"
NEWEST_SDK = Path(__file__).resolve().parent.parent / ".venv-sdk" / "10.2.0" / "bin" / "python"
# run by the newest SDK's interpreter: ten describe_index_stats() calls, their times in ms
NEWEST_SDK_STATS = """
import json, sys, time
from pinecone import Pinecone, __version__
index = Pinecone(api_key="bench", host=sys.argv[1]).index(host=sys.argv[2])
assert len(index.describe_index_stats().namespaces) == int(sys.argv[3])
times = []
for _ in range(10):
    t = time.perf_counter()
    index.describe_index_stats()
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"version": __version__, "ms": times}))
"""


def ms_series(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tenants", type=int, default=100_000)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--sdk-python",
        type=Path,
        default=NEWEST_SDK,
        help="interpreter with the newest pinecone SDK (skipped when missing)",
    )
    args = p.parse_args()
    from pinecone import Pinecone
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    from tenant_rag.local.engine import Engine

    work = Path(tempfile.mkdtemp(prefix="bench-tenants-"))
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((2, DIM), dtype=np.float32).tolist()
    out: dict[str, Any] = {"tenants": args.tenants, "loadavg_start": os.getloadavg()}
    try:
        t = time.perf_counter()
        engine = Engine(work)
        engine.create_index(
            {
                "name": "many",
                "dimension": DIM,
                "metric": "cosine",
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
            }
        )
        index = engine.index("many")
        for i in range(args.tenants):
            index.upsert(f"tenant-{i:06d}", [{"id": f"v{j}", "values": vecs[j]} for j in range(2)])
        engine.close()
        out["setup_s"] = time.perf_counter() - t
        with serve_process(work, grpc=True) as srv:
            out["idle_rss_mb"] = rss_mb(srv.pid)
            rest = Pinecone(api_key="bench", host=srv.url).Index(name="many")
            grpc = PineconeGRPC(api_key="bench").Index(
                name="many", host=srv.grpc_target, grpc_config=GRPCClientConfig(secure=False)
            )
            first = rest.list_namespaces_paginated(limit=100)
            assert len(first.namespaces) == 100
            token = first.pagination.next
            for _ in range(args.tenants // 200 - 1):  # walk to the middle of the list
                token = rest.list_namespaces_paginated(
                    limit=100, pagination_token=token
                ).pagination.next
            out["list_first_page_p50_ms"] = float(
                np.percentile(ms_series(lambda: rest.list_namespaces_paginated(limit=100), 50), 50)
            )
            out["list_middle_page_p50_ms"] = float(
                np.percentile(
                    ms_series(
                        lambda: rest.list_namespaces_paginated(limit=100, pagination_token=token),
                        50,
                    ),
                    50,
                )
            )
            stats = rest.describe_index_stats()
            assert len(stats.namespaces) == args.tenants
            out["stats_rest_p50_ms"] = float(
                np.percentile(ms_series(rest.describe_index_stats, 10), 50)
            )
            out["stats_grpc_p50_ms"] = float(
                np.percentile(ms_series(grpc.describe_index_stats, 10), 50)
            )
            host = f"{srv.url}/_index/many"  # the same requests without the SDK's parsing

            def raw(
                method: str, path: str, body: bytes | None = None, version: str = "2025-04"
            ) -> bytes:
                req = urllib.request.Request(
                    host + path,
                    data=body,
                    method=method,
                    headers={"Api-Key": "bench", "X-Pinecone-API-Version": version},
                )
                with urllib.request.urlopen(req) as resp:
                    return bytes(resp.read())

            out["list_first_page_raw_http_p50_ms"] = float(
                np.percentile(ms_series(lambda: raw("GET", "/namespaces?limit=100"), 50), 50)
            )
            # 2025-10 adds total_count: every namespace matching the prefix is counted
            listed = json.loads(raw("GET", "/namespaces?limit=100", version="2025-10"))
            assert listed["total_count"] == args.tenants
            out["list_first_page_2025_10_total_count_raw_http_p50_ms"] = float(
                np.percentile(
                    ms_series(lambda: raw("GET", "/namespaces?limit=100", version="2025-10"), 50),
                    50,
                )
            )
            out["list_prefix_page_2025_10_raw_http_p50_ms"] = float(
                np.percentile(
                    ms_series(
                        lambda: raw(
                            "GET", "/namespaces?limit=100&prefix=tenant-05", version="2025-10"
                        ),
                        50,
                    ),
                    50,
                )
            )
            body = raw("POST", "/describe_index_stats", b"{}")
            out["stats_response_bytes"] = len(body)
            out["stats_raw_http_p50_ms"] = float(
                np.percentile(
                    ms_series(lambda: raw("POST", "/describe_index_stats", b"{}"), 10), 50
                )
            )
            # the SDK's own share: turning the same bytes into its response model (what its
            # deserializer does after the HTTP call), no I/O
            from pinecone.config.openapi_configuration import Configuration
            from pinecone.core.openapi.db_data.models import IndexDescription
            from pinecone.openapi_support.model_utils import validate_and_convert_types

            def sdk_model() -> None:
                validate_and_convert_types(
                    json.loads(body),
                    (IndexDescription,),
                    ["received_data"],
                    True,
                    True,
                    configuration=Configuration(),
                )

            out["stats_sdk_model_from_bytes_ms"] = float(np.percentile(ms_series(sdk_model, 3), 50))
            if args.sdk_python.exists():
                newest = json.loads(
                    subprocess.run(
                        [str(args.sdk_python), "-c", NEWEST_SDK_STATS, srv.url, host,
                         str(args.tenants)],
                        check=True, capture_output=True, text=True,
                    ).stdout
                )  # fmt: skip
                out["stats_newest_sdk_version"] = newest["version"]
                out["stats_newest_sdk_rest_p50_ms"] = float(np.percentile(newest["ms"], 50))
            picks = rng.choice(args.tenants, size=min(1000, args.tenants), replace=False)
            q = rng.standard_normal(DIM, dtype=np.float32).tolist()
            lat = []
            for i in picks:
                t = time.perf_counter()
                rest.query(vector=q, top_k=2, namespace=f"tenant-{int(i):06d}")
                lat.append((time.perf_counter() - t) * 1000)
            out["cold_tenant_query_p50_ms"] = float(np.percentile(lat, 50))
            out["rss_after_1000_tenants_mb"] = rss_mb(srv.pid)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["loadavg_end"] = os.getloadavg()
    print(json.dumps(out, indent=2))
    write_results(args.out, out)


if __name__ == "__main__":
    main()
