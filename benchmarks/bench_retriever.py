"""Overhead of the tenant-pinned retriever over a raw ``Index.query`` (same vector, same run).

What is measured, against ``tenant-rag serve`` in a separate process (so the
server does not share the client's GIL), through the real SDK over REST:

* **raw**: ``index.query(vector=v, top_k=4, namespace=tenant, include_metadata=True)``;
* **retriever**: ``tenant_retriever(index, tenant, emb, k=4).invoke(q)``, the
  whole LangChain runnable (callbacks, config checks, PinnedIndex, guard
  proxy, usage events, Documents with scores);
* **store**: ``store.similarity_search_by_vector_with_score(v, k=4)``, the
  pinned store without LangChain's runnable machinery, to show where the
  overhead lives.

Embedding time is excluded: the retriever's embedding is a lookup table of
precomputed vectors (:class:`PrecomputedEmbeddings`), so it queries exactly
the vector the raw call sends. The two are interleaved (ABBA order, per
query) so drift on the machine hits both alike. The same is done for
metadata isolation (the raw call then sends the same tenant filter).

Async, measured to decide how the store's async methods should work:
``retriever.ainvoke`` (pinned sync path in a worker thread) against a raw
``PineconeAsyncio`` ``IndexAsyncio.query`` on one long-lived session and
against upstream langchain-pinecone's own ``asimilarity_search``, one at a
time and 32 at once with ``asyncio.gather`` (errors counted).

Access lists (issue 14), in the same run: one tenant of 10,000 chunks, a
quarter without an access list, a quarter for the whole tenant, half for one
of 200 groups (some also for one of 50 users); the same query through
``tenant_retriever`` with no principal, as ``TENANT_ADMIN`` (no condition at
all) and for a principal with 20 groups, beside the raw query, interleaved.
Target: the principal costs at most 10% over the query without one. The
embedded server evaluates a filter once per change of the namespace (see
`tenant_rag.local.engine.matrix`); the first query after a write pays the
whole evaluation, measured apart ("after a write").

Usage: ``python benchmarks/bench_retriever.py [--quick] [--only acl]``; prints a table and
writes ``benchmarks/results/retriever.json`` (``--only acl``: ``retriever_acl.json``).
Target: median overhead <= 5%.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results
from langchain_core.embeddings import Embeddings

from tenant_rag.local.process import serve_process

DIM = 384
TOP_K = 4
RECORDS_PER_TENANT = 2000
TENANTS = ["acme", "globex", "initech", "umbrella"]
RESULTS = Path(__file__).resolve().parent / "results" / "retriever.json"
ACL_RESULTS = RESULTS.with_name("retriever_acl.json")
ACL_CHUNKS = 10_000
ACL_GROUPS = 200
ACL_TARGET_PCT = 10.0


class PrecomputedEmbeddings(Embeddings):
    """Looks texts up in a table of ready vectors: embedding time is ~0 by construction."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table[text]


@contextlib.contextmanager
def server_process(data_dir: Path) -> Iterator[str]:
    """``tenant-rag serve`` over ``data_dir`` in its own process; yields its URL."""
    with serve_process(data_dir) as server:
        yield server.url


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.standard_normal((n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def summary(ms: list[float]) -> dict[str, float]:
    arr = np.asarray(ms)
    return {
        "p50_ms": round(float(np.median(arr)), 4),
        "p90_ms": round(float(np.percentile(arr, 90)), 4),
        "p99_ms": round(float(np.percentile(arr, 99)), 4),
        "mean_ms": round(float(arr.mean()), 4),
        "n": len(ms),
    }


def interleaved(
    fns: dict[str, Callable[[int], Any]], n_queries: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Time each fn on query i, in an order that alternates per round (ABBA...).

    Returns wall-clock ms and this process's CPU ms per call. CPU time is what
    our layers add on the client; it barely moves when other processes load
    the machine, unlike wall-clock time.
    """
    names = list(fns)
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    clock, cpu_clock = time.perf_counter, time.process_time
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        i = r % n_queries
        for name in order:
            fn = fns[name]
            c0 = cpu_clock()
            t0 = clock()
            fn(i)
            wall[name].append((clock() - t0) * 1000.0)
            cpu[name].append((cpu_clock() - c0) * 1000.0)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (smoke run)")
    parser.add_argument(
        "--only", choices=["all", "acl"], default="all", help="acl: only the access-list rows"
    )
    args = parser.parse_args()
    rounds = 400 if args.quick else 3000
    warmup = 50 if args.quick else 300
    if args.only == "acl":
        out = run_acl_only(rounds, warmup)
        write_results(ACL_RESULTS, out)
        print_acl(out)
        print(f"wrote {ACL_RESULTS}")
        return

    from pinecone import Pinecone

    from tenant_rag import tenant_retriever, tenant_vector_store
    from tenant_rag.connection import ensure_index

    rng = np.random.default_rng(7)
    queries = unit_rows(rng, 200)
    table = {f"q{i}": [float(x) for x in row] for i, row in enumerate(queries)}
    qvecs = [table[f"q{i}"] for i in range(len(queries))]

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, server_process(Path(tmp)) as url:
        pc = Pinecone(api_key="local", host=url)
        index = ensure_index(pc, "bench", dimension=DIM)
        # load: every tenant in its own namespace and in the shared namespace
        for mode in ("namespace", "metadata"):
            for t in TENANTS:
                rows = unit_rows(rng, RECORDS_PER_TENANT)
                texts = [f"{t} passage {i} " + "lorem ipsum " * 15 for i in range(len(rows))]
                emb = PrecomputedEmbeddings(
                    {tx: [float(x) for x in r] for tx, r in zip(texts, rows, strict=True)}
                )
                store = tenant_vector_store(index, t, emb, isolation=mode)
                store.add_texts(texts, ids=[f"doc-{i}#0" for i in range(len(rows))], batch_size=100)

        time.sleep(3.0)  # let the server settle after the bulk load
        emb = PrecomputedEmbeddings(table)
        results: dict[str, Any] = {}
        for mode in ("namespace", "metadata"):
            retriever = tenant_retriever(index, "acme", emb, k=TOP_K, isolation=mode)
            store = retriever.vectorstore
            scope = store.scope
            raw_kwargs: dict[str, Any] = {
                "top_k": TOP_K,
                "namespace": scope.namespace,
                "include_metadata": True,
            }
            pinned = scope.pinned_filter(None)
            if pinned:
                raw_kwargs["filter"] = pinned

            def raw(i: int, kw: dict[str, Any] = raw_kwargs) -> Any:
                return index.query(vector=qvecs[i], **kw)

            def via_retriever(i: int, r: Any = retriever) -> Any:
                return r.invoke(f"q{i}")

            def via_store(i: int, s: Any = store) -> Any:
                return s.similarity_search_by_vector_with_score(qvecs[i], k=TOP_K)

            fns = {"raw_query": raw, "tenant_retriever": via_retriever, "pinned_store": via_store}
            # same answers: the retriever returns exactly what the raw query returns
            for i in range(5):
                raw_ids = [scope.public_id(m.id) for m in raw(i).matches]
                assert [d.id for d in via_retriever(i)] == raw_ids
            interleaved(fns, len(qvecs), warmup)
            samples, cpu = interleaved(fns, len(qvecs), rounds)
            stats = {k: summary(v) for k, v in samples.items()}
            for k, v in cpu.items():
                stats[k]["client_cpu_mean_ms"] = round(float(np.mean(v)), 4)
            base = stats["raw_query"]["p50_ms"]
            for k in ("tenant_retriever", "pinned_store"):
                stats[k]["overhead_vs_raw_p50_pct"] = round(
                    100.0 * (stats[k]["p50_ms"] - base) / base, 2
                )
            # paired per-round differences are less noisy than a difference of medians
            for k in ("tenant_retriever", "pinned_store"):
                diffs = [a - b for a, b in zip(samples[k], samples["raw_query"], strict=True)]
                paired = statistics.median(diffs)
                stats[k]["paired_median_diff_ms"] = round(paired, 4)
                stats[k]["overhead_paired_pct"] = round(100.0 * paired / base, 2)
                cpu_extra = (
                    stats[k]["client_cpu_mean_ms"] - stats["raw_query"]["client_cpu_mean_ms"]
                )
                stats[k]["client_cpu_extra_ms"] = round(cpu_extra, 4)
            results[mode] = stats

        results["async"] = asyncio.run(bench_async(url, index, emb, qvecs, rounds // 3))
        results["acl"] = bench_acl(pc, rng, rounds, warmup)

    results["meta"] = {
        "what": "median latency of tenant_retriever(...).invoke vs raw index.query, same vector",
        "target_overhead_pct": 5.0,
        "dimension": DIM,
        "top_k": TOP_K,
        "records_per_tenant": RECORDS_PER_TENANT,
        "tenants": len(TENANTS),
        "rounds": rounds,
        "transport": "REST (pinecone 7.3.0, urllib3) to tenant-rag serve in a separate process",
        "embedding": "excluded (precomputed-vector lookup)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "note": (
            "other processes share this machine; wall-clock medians move with their load, "
            "the paired per-round difference and client CPU time much less"
        ),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_results(RESULTS, results)
    print_table(results)
    print_acl(results["acl"])


def run_acl_only(rounds: int, warmup: int) -> dict[str, Any]:
    """The access-list rows alone, against their own server."""
    from pinecone import Pinecone

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, server_process(Path(tmp)) as url:
        pc = Pinecone(api_key="local", host=url)
        out = bench_acl(pc, np.random.default_rng(11), rounds, warmup)
    out["meta"]["load_average_1m_before_after"] = [
        round(load_before[0], 2),
        round(os.getloadavg()[0], 2),
    ]
    return out


def bench_acl(pc: Any, rng: np.random.Generator, rounds: int, warmup: int) -> dict[str, Any]:
    """A principal with 20 groups vs the same query without a principal, 10,000 chunks."""
    from tenant_rag import TENANT_ADMIN, PinnedIndex, Principal, tenant_retriever
    from tenant_rag.connection import ensure_index

    load_before = os.getloadavg()
    index = ensure_index(pc, "bench-acl", dimension=DIM)
    tenant = "bigco"
    writer = PinnedIndex(index, tenant, principal=TENANT_ADMIN)
    rows = unit_rows(rng, ACL_CHUNKS)
    records = []
    for i, row in enumerate(rows):
        md: dict[str, Any] = {"text": f"passage {i} " + "lorem ipsum " * 15, "doc_id": f"d{i}"}
        kind = i % 4
        if kind == 1:
            md["acl"] = ["tenant"]
        elif kind == 2:
            md["acl"] = [f"group:g{i % ACL_GROUPS}"]
        elif kind == 3:
            md["acl"] = [f"group:g{(i * 7) % ACL_GROUPS}", f"user:u{i % 50}"]
        records.append({"id": f"d{i}#0", "values": [float(x) for x in row], "metadata": md})
    for start in range(0, len(records), 100):
        writer.upsert(records[start : start + 100])
    time.sleep(2.0)

    queries = unit_rows(rng, 200)
    table = {f"q{i}": [float(x) for x in row] for i, row in enumerate(queries)}
    qvecs = [table[f"q{i}"] for i in range(len(queries))]
    emb = PrecomputedEmbeddings(table)
    principal = Principal("u7", [f"g{g}" for g in range(0, ACL_GROUPS, ACL_GROUPS // 20)])
    readers = {"no_principal": None, "tenant_admin": TENANT_ADMIN, "principal_20_groups": principal}
    retrievers = {
        name: tenant_retriever(index, tenant, emb, k=TOP_K, principal=reader)
        for name, reader in readers.items()
    }
    raw_kwargs = {"top_k": TOP_K, "namespace": tenant, "include_metadata": True}

    def raw(i: int) -> Any:
        return index.query(vector=qvecs[i], **raw_kwargs)

    fns: dict[str, Callable[[int], Any]] = {"raw_query": raw}
    for name, r in retrievers.items():
        fns[name] = lambda i, r=r: r.invoke(f"q{i}")
    # how many chunks each reader may read (the corpus is known: counted here, not queried)
    tokens = {"tenant", "user:u7", *(f"group:{g}" for g in principal.groups)}
    visible = {
        "no_principal": sum(
            1 for r in records if r["metadata"].get("acl", ["tenant"]) == ["tenant"]
        ),
        "tenant_admin": len(records),
        "principal_20_groups": sum(
            1 for r in records if "acl" not in r["metadata"] or tokens & set(r["metadata"]["acl"])
        ),
    }
    interleaved(fns, len(qvecs), warmup)
    samples, cpu = interleaved(fns, len(qvecs), rounds)
    stats = {k: summary(v) for k, v in samples.items()}
    for k, v in cpu.items():
        stats[k]["client_cpu_mean_ms"] = round(float(np.mean(v)), 4)

    def paired(a: str, b: str) -> float:
        diffs = [x - y for x, y in zip(samples[a], samples[b], strict=True)]
        return 100.0 * statistics.median(diffs) / stats[b]["p50_ms"]

    overheads = {
        "principal_vs_no_principal_paired_pct": round(
            paired("principal_20_groups", "no_principal"), 2
        ),
        "principal_vs_no_principal_p50_pct": round(
            100.0
            * (stats["principal_20_groups"]["p50_ms"] - stats["no_principal"]["p50_ms"])
            / stats["no_principal"]["p50_ms"],
            2,
        ),
        "principal_vs_tenant_admin_paired_pct": round(
            paired("principal_20_groups", "tenant_admin"), 2
        ),
        "no_principal_vs_tenant_admin_paired_pct": round(paired("no_principal", "tenant_admin"), 2),
        "tenant_admin_vs_raw_paired_pct": round(paired("tenant_admin", "raw_query"), 2),
    }
    # the first query after a write evaluates the condition over every record again
    after_write: list[float] = []
    r = retrievers["principal_20_groups"]
    for n in range(max(20, rounds // 30)):
        writer.upsert(
            [
                {
                    "id": "churn#0",
                    "values": qvecs[n % len(qvecs)],
                    "metadata": {"n": n, "text": "churn"},
                }
            ]
        )
        t0 = time.perf_counter()
        r.invoke(f"q{n % len(qvecs)}")
        after_write.append((time.perf_counter() - t0) * 1000.0)
    return {
        "stats": stats,
        "overheads": overheads,
        "after_a_write": summary(after_write),
        "meta": {
            "what": (
                "tenant_retriever(...).invoke for a principal with 20 groups vs the same "
                "query with no principal (and as TENANT_ADMIN, and raw), one tenant"
            ),
            "chunks": ACL_CHUNKS,
            "groups_in_corpus": ACL_GROUPS,
            "principal_groups": len(principal.groups),
            "target_overhead_pct": ACL_TARGET_PCT,
            "rounds": rounds,
            "load_average_1m_before_after": [
                round(load_before[0], 2),
                round(os.getloadavg()[0], 2),
            ],
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "chunks_visible": visible,
    }


def print_acl(out: dict[str, Any]) -> None:
    print(f"access lists, {out['meta']['chunks']:,} chunks in one tenant:")
    for path, s in out["stats"].items():
        print(
            f"  {path:<22} p50 {s['p50_ms']:>7.3f} ms  p90 {s['p90_ms']:>7.3f} ms  "
            f"client cpu {s['client_cpu_mean_ms']:.3f} ms"
        )
    for k, v in out["overheads"].items():
        print(f"  {k:<42} {v:+.2f}%")
    aw = out["after_a_write"]
    print(f"  first query after a write: p50 {aw['p50_ms']:.3f} ms (n={aw['n']})")
    print("  load average (1 min) before/after:", out["meta"]["load_average_1m_before_after"])


async def bench_async(url: str, index: Any, emb: Any, qvecs: list, rounds: int) -> dict[str, Any]:
    from langchain_pinecone import PineconeVectorStore
    from pinecone import PineconeAsyncio

    from tenant_rag import tenant_retriever

    retriever = tenant_retriever(index, "acme", emb, k=TOP_K)
    host = index.config.host
    out: dict[str, Any] = {}
    async with PineconeAsyncio(api_key="local", host=url) as apc:  # noqa: SIM117 - aidx needs apc
        async with apc.IndexAsyncio(host=host) as aidx:

            async def raw_async(i: int) -> Any:
                return await aidx.query(
                    vector=qvecs[i], top_k=TOP_K, namespace="acme", include_metadata=True
                )

            async def ret_async(i: int) -> Any:
                return await retriever.ainvoke(f"q{i}")

            for _ in range(30):
                await raw_async(0)
                await ret_async(0)
            seq: dict[str, list[float]] = {"raw_asyncio_query": [], "retriever_ainvoke": []}
            for r in range(rounds):
                i = r % len(qvecs)
                pairs = [("raw_asyncio_query", raw_async), ("retriever_ainvoke", ret_async)]
                for name, fn in pairs if r % 2 == 0 else pairs[::-1]:
                    t0 = time.perf_counter()
                    await fn(i)
                    seq[name].append((time.perf_counter() - t0) * 1000.0)
            out["sequential"] = {k: summary(v) for k, v in seq.items()}

            # upstream langchain-pinecone 0.2.13's own async path, unpinned, same namespace
            upstream = PineconeVectorStore(index=index, embedding=emb, namespace="acme")

            async def upstream_async(i: int) -> Any:
                return await upstream.asimilarity_search(f"q{i}", k=TOP_K)

            up_ms = []
            for r in range(min(rounds, 100)):
                t0 = time.perf_counter()
                await upstream_async(r % len(qvecs))
                up_ms.append((time.perf_counter() - t0) * 1000.0)
            out["sequential"]["upstream_asimilarity_search"] = summary(up_ms)

            batches = max(10, rounds // 32)
            conc: dict[str, Any] = {}
            for name, fn in (
                ("raw_asyncio_query", raw_async),
                ("retriever_ainvoke", ret_async),
                ("upstream_asimilarity_search", upstream_async),
            ):
                errors: list[str] = []
                t0 = time.perf_counter()
                for b in range(batches):
                    res = await asyncio.gather(
                        *(fn((b * 32 + j) % len(qvecs)) for j in range(32)),
                        return_exceptions=True,
                    )
                    errors += [f"{type(e).__name__}: {e}" for e in res if isinstance(e, Exception)]
                conc[name] = {
                    "queries_per_s": round(batches * 32 / (time.perf_counter() - t0), 1),
                    "errors": len(errors),
                    "first_error": errors[0][:120] if errors else None,
                }
            out["gather_32"] = conc
    return out


def print_table(results: dict[str, Any]) -> None:
    print(
        f"{'mode':<10} {'path':<18} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'p50 over':>9} {'paired':>8} {'cpu ms':>7}"
    )
    for mode in ("namespace", "metadata"):
        for path, s in results[mode].items():
            over = s.get("overhead_vs_raw_p50_pct")
            paired = s.get("overhead_paired_pct")
            over_s = f"{over:+.1f}%" if over is not None else ""
            paired_s = f"{paired:+.1f}%" if paired is not None else ""
            print(
                f"{mode:<10} {path:<18} {s['p50_ms']:>8.3f} {s['p90_ms']:>8.3f} "
                f"{s['p99_ms']:>8.3f} {over_s:>9} {paired_s:>8} {s['client_cpu_mean_ms']:>7.3f}"
            )
    print("load average (1 min) before/after:", results["meta"]["load_average_1m_before_after"])
    a = results["async"]
    for path, s in a["sequential"].items():
        print(
            f"{'async':<10} {path:<18} {s['p50_ms']:>8.3f} {s['p90_ms']:>8.3f} {s['p99_ms']:>8.3f}"
        )
    for path, g in a["gather_32"].items():
        print(f"async gather(32) {path}: {g['queries_per_s']} q/s, {g['errors']} errors")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
