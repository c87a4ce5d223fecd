"""Fault injection: with 20% of data-plane requests failing, every path still lands exactly.

The embedded server runs with ``tenant_rag.local.faults`` at a 20% rate over
all kinds (429, 500, 503, slow, a connection dropped before the request is
applied, and one dropped *after* it was applied). Ingestion, queries over
every retrieval path and offboarding must then end in exactly the records a
fault-free run produces: no duplicate, nothing lost, no failed call.
Errors that retrying cannot fix (400, 401, 404) must surface at once with a
message that says what is wrong.

Figures go to ``benchmarks/results/reliability_faults.json``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tenant_rag import offboard, per_request_retriever, tenant_retriever, tenant_vector_store
from tenant_rag.connection import ensure_index
from tenant_rag.ingestion import RetryPolicy, delete_document, ingest
from tenant_rag.local import LocalServer, start
from tenant_rag.local.faults import FaultConfig
from tenant_rag.models.embeddings import HashingTestEmbeddings
from tenant_rag.tenancy.pinned import PinnedIndex

from ._figures import Tally, soak

DIM = 64
RATE = 0.2
TALLY = Tally("faults")
SMALL: dict[str, Any] = {"chunk_size": 200, "chunk_overlap": 20, "progress": False}


@pytest.fixture(scope="module", autouse=True)
def _write_figures() -> Iterator[None]:
    yield
    TALLY.extra["fault_rate"] = RATE
    TALLY.write("pytest tests/reliability/test_faults.py")


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """An embedded server (REST and gRPC) whose fault mode is on (rate set with ``faults_at``)."""
    srv = start(tmp_path_factory.mktemp("faults"), grpc=True, faults=FaultConfig(rate=0.0))
    try:
        yield srv
    finally:
        assert srv.faults is not None
        for kind, n in srv.faults.counts.items():
            TALLY.add(f"injected_{kind}" if kind != "requests" else "requests_seen", n)
        srv.stop()


def faults_at(srv: LocalServer, rate: float, seed: int = 1) -> None:
    assert srv.faults is not None
    srv.faults.config = FaultConfig(rate=rate, slow=0.05, seed=seed)
    srv.faults.__post_init__()  # reseed


@pytest.fixture(scope="module")
def emb() -> HashingTestEmbeddings:
    return HashingTestEmbeddings(dimension=DIM)


@pytest.fixture(scope="module")
def index(faulty: LocalServer) -> Any:
    return ensure_index(faulty.client(), "faults", dimension=DIM)


def fast_retry() -> RetryPolicy:
    return RetryPolicy(attempts=10, base=0.01, cap=0.2, rng=random.Random(3))


def corpus(version: int, n: int = 24) -> list[tuple[str, str]]:
    words = ["vacation", "office", "berlin", "expenses", "policy", "laptop", "travel"]
    return [
        (
            f"doc{i}",
            " ".join(
                f"{words[(i + j + version) % 7]} item{i} v{version} line{j}." for j in range(12)
            ),
        )
        for i in range(n)
    ]


def stored(index: Any, tenant: str, mode: str = "namespace") -> dict[str, Any]:
    """Every record of the tenant: id -> (metadata, values), read without faults."""
    p = PinnedIndex(index, tenant, isolation=mode)  # type: ignore[arg-type]
    ids = sorted(p.list_ids())
    recs = p.fetch(ids)
    assert sorted(recs) == ids
    # ingested_at is when a version was written (wall clock), not part of its content
    return {
        i: (
            {k: v for k, v in recs[i].metadata.items() if k != "ingested_at"},
            [round(v, 5) for v in recs[i].values],
        )
        for i in ids
    }


@pytest.mark.parametrize("mode", ["namespace", "metadata"])
def test_ingest_and_delete_document_under_faults_land_exactly(
    faulty: LocalServer, index: Any, emb: Any, mode: str
) -> None:
    faults_at(faulty, 0.0)
    for version in (1, 2):
        docs = corpus(version)
        ref = ingest(index, f"ref-{mode}", docs, embedding=emb, isolation=mode, **SMALL)
        assert ref.ok
        faults_at(faulty, RATE, seed=version)
        policy = fast_retry()
        report = ingest(
            index, f"acme-{mode}", docs, embedding=emb, isolation=mode, retry=policy,
            batch_size=8, **SMALL,
        )  # fmt: skip
        assert report.ok, report.failed
        n = delete_document(index, f"acme-{mode}", "doc3", isolation=mode, retry=policy)
        assert n > 0
        faults_at(faulty, 0.0)
        delete_document(index, f"ref-{mode}", "doc3", isolation=mode)
        got, want = stored(index, f"acme-{mode}", mode), stored(index, f"ref-{mode}", mode)
        assert got == want, "same ids (none lost, none extra), same vectors and metadata"
        TALLY.add("ingest_runs")
        TALLY.add("records_checked", len(want))
        TALLY.add("retries_by_ingestion", policy.retries)
    for t in (f"acme-{mode}", f"ref-{mode}"):
        offboard(t, index, isolation=mode, wait=5.0)


def test_grpc_ingest_delete_and_query_under_faults_land_exactly(
    faulty: LocalServer, index: Any, emb: Any
) -> None:
    """The same faults on the gRPC data plane (``GrpcFaults``): aborted calls, calls applied
    whose answer is lost (the SDK's channel re-sends them), slow calls; the records must
    equal a fault-free REST run's, and queries must return exactly the tenant's records."""
    grpc_index = faulty.grpc_index("faults")
    faults_at(faulty, 0.0)
    for version in (1, 2):
        docs = corpus(version)
        assert ingest(index, "ref-grpc", docs, embedding=emb, **SMALL).ok
        faults_at(faulty, RATE, seed=40 + version)
        policy = fast_retry()
        report = ingest(
            grpc_index, "acme-grpc", docs, embedding=emb, retry=policy, batch_size=8, **SMALL
        )
        assert report.ok, report.failed
        assert delete_document(grpc_index, "acme-grpc", "doc3", retry=policy) > 0
        faults_at(faulty, 0.0)
        delete_document(index, "ref-grpc", "doc3")
        want = stored(index, "ref-grpc")
        assert stored(index, "acme-grpc") == want, "none lost, none extra, same content"
        TALLY.add("grpc_ingest_runs")
        TALLY.add("grpc_records_checked", len(want))
        TALLY.add("grpc_retries_by_ingestion", policy.retries)
    pinned = PinnedIndex(grpc_index, "acme-grpc", retry=fast_retry())
    faults_at(faulty, RATE, seed=77)
    for r in range(12):
        hits = pinned.query(vector=emb.embed_query(f"vacation item{r}"), top_k=100)
        assert {h.id for h in hits} == set(want) and len(hits) == len(want)
        TALLY.add("grpc_queries_under_faults")
    faults_at(faulty, 0.0)
    for t in ("acme-grpc", "ref-grpc"):
        offboard(t, index, wait=5.0)


def test_queries_under_faults_return_exactly_the_tenants_records(
    faulty: LocalServer, index: Any, emb: Any
) -> None:
    faults_at(faulty, 0.0)
    for t in ("qa", "qb"):
        assert ingest(index, t, corpus(1, n=8), embedding=emb, **SMALL).ok
    expected = {t: stored(index, t) for t in ("qa", "qb")}
    store = tenant_vector_store(index, "qa", emb)
    retriever = tenant_retriever(index, "qa", emb, k=100)
    per_request = per_request_retriever(index, emb, k=100)
    cfg = {"configurable": {"tenant_id": "qa"}}
    reads = {
        "similarity_search": lambda q: store.similarity_search(q, k=100),
        "mmr": lambda q: store.max_marginal_relevance_search(q, k=5, fetch_k=100),
        "get_by_ids": lambda q: store.get_by_ids(sorted(expected["qa"])),
        "retriever": lambda q: retriever.invoke(q),
        "per_request": lambda q: per_request.invoke(q, config=cfg),
        "async_similarity": lambda q: asyncio.run(store.asimilarity_search(q, k=100)),
        "async_per_request": lambda q: asyncio.run(per_request.ainvoke(q, config=cfg)),
    }
    faults_at(faulty, RATE, seed=11)
    rounds = 60 if soak() else 12
    for r in range(rounds):
        for name, read in reads.items():
            docs = read(f"vacation item{r % 8}")
            TALLY.add("queries_under_faults")
            ids = {d.id for d in docs}
            assert ids <= set(expected["qa"]), (name, ids - set(expected["qa"]))
            if name in ("similarity_search", "get_by_ids", "retriever", "per_request"):
                assert ids == set(expected["qa"]), f"{name}: every own record, once"
                assert len(docs) == len(ids), f"{name}: no duplicates"
    faults_at(faulty, 0.0)
    assert stored(index, "qb") == expected["qb"]


@pytest.mark.parametrize("mode", ["namespace", "metadata"])
def test_offboard_under_faults_removes_exactly_one_tenant(
    faulty: LocalServer, index: Any, emb: Any, mode: str
) -> None:
    faults_at(faulty, 0.0)
    for t in ("gone", "kept"):
        assert ingest(
            index, f"{t}-{mode}", corpus(2, n=10), embedding=emb, isolation=mode, **SMALL
        ).ok
    kept = stored(index, f"kept-{mode}", mode)
    for seed in range(3 if not soak() else 20):
        faults_at(faulty, RATE, seed=100 + seed)
        report = offboard(f"gone-{mode}", index, isolation=mode, wait=10.0)
        assert report.verified
        TALLY.add("offboards_under_faults")
    faults_at(faulty, 0.0)
    assert stored(index, f"gone-{mode}", mode) == {}
    assert stored(index, f"kept-{mode}", mode) == kept
    offboard(f"kept-{mode}", index, isolation=mode, wait=5.0)


def test_errors_retrying_cannot_fix_surface_at_once_with_a_clear_message(
    faulty: LocalServer, index: Any, emb: Any, tmp_path: Any
) -> None:
    """400, 401 and 404 are raised on the first try (no retry), naming the problem."""
    faults_at(faulty, 0.0)
    policy = RetryPolicy(attempts=5, base=0.01)
    pinned = PinnedIndex(index, "clear", retry=policy)
    with pytest.raises(Exception) as bad_dim:  # 400: a 3-d vector on a 64-d index
        pinned.query(vector=[0.1, 0.2, 0.3], top_k=3)
    assert getattr(bad_dim.value, "status", None) == 400
    assert "dimension" in str(bad_dim.value).lower()
    gone = ensure_index(faulty.client(), "soon-gone", dimension=DIM)
    faulty.client().delete_index("soon-gone", timeout=-1)
    with pytest.raises(Exception) as missing:  # 404: the index no longer exists
        PinnedIndex(gone, "clear", retry=policy).query(vector=[0.1] * DIM, top_k=3)
    assert getattr(missing.value, "status", None) == 404
    assert "soon-gone" in str(missing.value) or "not found" in str(missing.value).lower()
    with start(tmp_path / "keyed", api_key="right-key-0123456789") as keyed:
        from pinecone import Pinecone

        wrong = Pinecone(api_key="wrong-key-0123456789", host=keyed.url)
        with pytest.raises(Exception) as unauthorized:  # 401: wrong API key
            ensure_index(wrong, "keyed", dimension=DIM)
        assert getattr(unauthorized.value, "status", None) == 401
        assert "api key" in str(unauthorized.value).lower()
        assert "wrong-key-0123456789" not in str(unauthorized.value)
    assert policy.retries == 0, "nothing that cannot succeed was retried"
    TALLY.add("non_retryable_cases", 3)


def test_fault_mode_is_off_unless_asked_for(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANT_RAG_FAULTS", raising=False)
    with start(tmp_path / "a") as srv:
        assert srv.faults is None
    monkeypatch.setenv("TENANT_RAG_FAULTS", "rate=0.5,kinds=429+drop,seed=3,slow=0")
    with start(tmp_path / "b") as srv:
        assert srv.faults is not None
        assert srv.faults.config == FaultConfig(rate=0.5, kinds=("429", "drop"), slow=0.0, seed=3)
    for bad in ("rate=2", "kinds=teapot", "rate", "speed=1"):
        with pytest.raises(ValueError):
            FaultConfig.from_env(bad)
    assert FaultConfig.from_env("") is None
