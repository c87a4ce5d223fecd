"""Wait until a namespace's approximate index serves, as the server reports it.

Why: the benchmarks time a big namespace's queries once its index, built in the background
after the first query, is serving. They used to infer that from latencies (five queries in a
row under 40% of the exact search's p50); on a run where the host slowed the exact phase the
threshold let a half-built index pass, and 300 "approximate" queries were timed at 109 ms.
The server's own state route (``GET /_local/indexes/{index}/namespaces/{ns}/search``,
``tenant_rag.local.api.search_state``) says which path answers, so nothing is guessed.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any


def search_state(url: str, index: str, namespace: str, api_key: str = "bench") -> dict[str, Any]:
    """The server's answer for ``index``/``namespace`` (``url``: its REST base URL)."""
    request = urllib.request.Request(
        f"{url}/_local/indexes/{index}/namespaces/{namespace}/search",
        headers={"Api-Key": api_key},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        state: dict[str, Any] = json.load(answer)
    return state


def wait_until_approximate(
    url: str, index: str, namespace: str, *, api_key: str = "bench", timeout: float = 1800.0
) -> float:
    """Seconds until ``namespace`` is searched approximately. The namespace must be loaded
    (query it first); a state that cannot become approximate raises at once, naming it."""
    t0 = time.monotonic()
    while True:
        state = search_state(url, index, namespace, api_key)
        if state["search"] == "approximate":
            return time.monotonic() - t0
        if state["search"] != "building":
            raise RuntimeError(
                f"{index}/{namespace} will not be searched approximately: {state} "
                "(query the namespace first to load it; check TENANT_RAG_LOCAL_ANN_MIN_ROWS)"
            )
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{index}/{namespace} still building after {timeout:.0f} s")
        time.sleep(0.1)
