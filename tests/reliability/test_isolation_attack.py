"""Isolation under attack: random interleavings across tenants, then hostile inputs.

Part 1 is a hypothesis state machine. Two tenants hold *identical* ids and
texts, so the only thing that tells their records apart is the ``owner``
mark each writes; a leak of any kind (a wrong namespace, a missing filter
pin, an id-prefix collision) shows up as a result carrying the other
tenant's mark, or as a record the model says the reader does not have. The
machine interleaves writes (LangChain ``add_texts``, raw ``PinnedIndex``
upserts, ``update_record``, deletes, ``offboard``, ingestion and
``delete_document`` when that module is present) with reads over every path
(similarity, MMR, score threshold, fetch, ``get_by_ids``, pinned retriever,
per-request retriever, sync and async, REST and gRPC) and checks every read.

Part 2 feeds each public entry point the inputs an attacker would try:
invalid tenant ids, filters that name the tenant field or try to widen with
``$or``, namespace overrides in kwargs / ``search_kwargs`` / config, and ids
whose prefixes collide. Each must be refused with a clear error or be
harmless (checked by reading the victim's data afterwards).

Figures (examples, operations, cases) go to
``benchmarks/results/reliability_isolation.json``. ``TENANT_RAG_SOAK=1`` runs
ten times more examples.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tenant_rag import (
    InvalidTenantError,
    PinnedIndex,
    TenantIsolationError,
    TenantRagError,
    TenantScope,
    offboard,
    per_request_retriever,
    tenant_retriever,
    tenant_vector_store,
    update_record,
)
from tenant_rag.connection import ensure_index
from tenant_rag.ingestion import delete_document, ingest
from tenant_rag.lifecycle import onboard
from tenant_rag.local import LocalServer
from tenant_rag.models.embeddings import HashingTestEmbeddings
from tenant_rag.tenancy.records import belongs, record_id

from ._figures import Tally, soak

DIM = 64
IDS = ["doc1", "doc10", "a#b", "a", "doc1#0", "doc10#0", "a#b#0"]
DOCS = ["doc1", "doc10", "a", "a#b"]  # ingested as {doc}#0: collide with IDS on purpose
READ_IDS = [*IDS, "a#0"]  # every id any writer can produce
WORDS = ["vacation", "office", "berlin", "expenses", "policy"]
MODES = ["namespace", "metadata"]
TALLY = Tally("isolation")


@pytest.fixture(scope="module", autouse=True)
def _write_figures() -> Iterator[None]:
    yield
    TALLY.write("pytest tests/reliability/test_isolation_attack.py")


@pytest.fixture(scope="module")
def emb() -> HashingTestEmbeddings:
    return HashingTestEmbeddings(dimension=DIM)


@pytest.fixture(scope="module")
def index(shared_local_server: LocalServer) -> Any:
    """A REST data-plane handle on a fresh index of the session's embedded server."""
    pc = shared_local_server.client()
    return ensure_index(pc, f"iso-{uuid.uuid4().hex[:10]}", dimension=DIM)


@pytest.fixture(scope="module")
def grpc_index(shared_local_server: LocalServer, index: Any) -> Any:
    """The same index over the gRPC data plane."""
    name = index._tenant_rag_index_name if hasattr(index, "_tenant_rag_index_name") else None
    assert name, "ensure_index records the index name on its handle"
    return shared_local_server.grpc_index(name)


# -- part 1: random interleavings -------------------------------------------------------------

READS = [
    "similarity",
    "threshold",
    "mmr",
    "fetch",
    "get_by_ids",
    "retriever",
    "per_request",
    "async_similarity",
    "async_mmr",
    "async_get_by_ids",
    "async_per_request",
    "grpc_fetch",
    "grpc_query",
]


def _text(rid: str, word: str) -> str:
    return f"{word} note {rid}"


class IsolationMachine(RuleBasedStateMachine):
    """Two tenants with the same ids and texts; a model of what each holds."""

    index: Any
    grpc_index: Any
    emb: HashingTestEmbeddings
    mode: str

    def __init__(self) -> None:
        super().__init__()
        tag = uuid.uuid4().hex[:8]
        self.tenants = [f"acme-{tag}", f"globex-{tag}"]
        self.model: list[dict[str, str]] = [{}, {}]
        self.stores = [
            tenant_vector_store(self.index, t, self.emb, isolation=self.mode) for t in self.tenants
        ]
        self.pinned = [PinnedIndex(self.index, s.scope) for s in self.stores]
        self.grpc_pinned = [PinnedIndex(self.grpc_index, s.scope) for s in self.stores]
        self.per_request = per_request_retriever(
            self.index, self.emb, k=len(READ_IDS), isolation=self.mode
        )
        TALLY.add(f"examples_{self.mode}")

    def _op(self, name: str) -> None:
        TALLY.add("operations")
        TALLY.add(f"op_{name}")

    # -- writes ---------------------------------------------------------------------------
    @rule(who=st.integers(0, 1), rid=st.sampled_from(IDS), word=st.sampled_from(WORDS))
    def add_texts(self, who: int, rid: str, word: str) -> None:
        self._op("add_texts")
        t = self.tenants[who]
        self.stores[who].add_texts([_text(rid, word)], ids=[rid], metadatas=[{"owner": t}])
        self.model[who][rid] = _text(rid, word)

    @rule(who=st.integers(0, 1), rid=st.sampled_from(IDS), word=st.sampled_from(WORDS))
    def upsert_raw(self, who: int, rid: str, word: str) -> None:
        self._op("upsert")
        t, text = self.tenants[who], _text(rid, word)
        vec = self.emb.embed_query(text)
        self.pinned[who].upsert(
            [{"id": rid, "values": vec, "metadata": {"owner": t, "text": text}}]
        )
        self.model[who][rid] = text

    @rule(who=st.integers(0, 1), rid=st.sampled_from(IDS), word=st.sampled_from(WORDS))
    def update(self, who: int, rid: str, word: str) -> None:
        if rid not in self.model[who]:
            return
        self._op("update")
        text = _text(rid, word) + " (edited)"
        update_record(
            self.index, self.tenants[who], rid, metadata={"text": text}, isolation=self.mode
        )
        self.model[who][rid] = text

    @rule(who=st.integers(0, 1), ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=3))
    def delete(self, who: int, ids: list[str]) -> None:
        self._op("delete")
        self.stores[who].delete(ids=ids)
        for rid in ids:
            self.model[who].pop(rid, None)

    @rule(who=st.integers(0, 1), doc=st.sampled_from(DOCS), word=st.sampled_from(WORDS))
    def ingest(self, who: int, doc: str, word: str) -> None:
        """Ingestion's ``{doc}#0`` ids collide on purpose with ids the other writers use."""
        self._op("ingest")
        t, text = self.tenants[who], f"{word} document {doc}"
        report = ingest(
            self.index, t, [(doc, text, {"owner": t})], embedding=self.emb,
            isolation=self.mode, progress=False,
        )  # fmt: skip
        assert report.ok, report.failed
        if not report.documents_unchanged:
            self.model[who][record_id(doc, 0)] = text

    @rule(who=st.integers(0, 1), doc=st.sampled_from(DOCS))
    def delete_document(self, who: int, doc: str) -> None:
        self._op("delete_document")
        n = delete_document(self.index, self.tenants[who], doc, isolation=self.mode)
        gone = [rid for rid in self.model[who] if belongs(rid, doc)]
        assert n == len(gone), (doc, n, gone)
        for rid in gone:
            del self.model[who][rid]

    @rule(who=st.integers(0, 1))
    def offboard(self, who: int) -> None:
        self._op("offboard")
        report = offboard(self.tenants[who], self.index, isolation=self.mode, wait=5.0)
        assert report.verified
        assert report.deleted == len(self.model[who])
        self.model[who].clear()

    # -- reads ------------------------------------------------------------------------------
    @rule(who=st.integers(0, 1), how=st.sampled_from(READS), word=st.sampled_from(WORDS))
    def read(self, who: int, how: str, word: str) -> None:
        self._check_read(who, how, word)

    @invariant()
    def every_step_reads_clean(self) -> None:
        """After every step both tenants read through the next path in turn (all paths rotate)."""
        self.turn = getattr(self, "turn", -1) + 1
        for who in (0, 1):
            how = READS[(self.turn * 2 + who) % len(READS)]
            self._check_read(who, how, WORDS[self.turn % len(WORDS)])

    def _check_read(self, who: int, how: str, word: str) -> None:
        self._op(f"read_{how}")
        docs = self._read(who, how, word)
        t, mine = self.tenants[who], self.model[who]
        for rid, owner, text in docs:
            assert owner == t, f"{how}: tenant {t} got {owner}'s record {rid}"
            assert mine.get(rid) == text, f"{how}: {rid!r}={text!r}, model {mine}"
        if how in ("similarity", "fetch", "get_by_ids", "per_request", "grpc_fetch"):
            assert {rid for rid, _, _ in docs} == set(mine), f"{how}: own records all visible"

    def _read(self, who: int, how: str, word: str) -> list[tuple[str, str, str]]:
        store, k, t = self.stores[who], len(READ_IDS), self.tenants[who]
        cfg = {"configurable": {"tenant_id": t}}
        if how.startswith("grpc_"):
            p = self.grpc_pinned[who]
            recs = (
                list(p.fetch(READ_IDS).values())
                if how == "grpc_fetch"
                else p.query(vector=self.emb.embed_query(word), top_k=k)
            )
            return [(r.id, r.metadata.get("owner"), r.metadata.get("text")) for r in recs]
        if how == "fetch":
            recs = self.pinned[who].fetch(READ_IDS)
            return [(r.id, r.metadata.get("owner"), r.metadata.get("text")) for r in recs.values()]
        docs: list[Any]
        if how == "similarity":
            docs = store.similarity_search(word, k=k)
        elif how == "threshold":
            pairs = store.similarity_search_with_relevance_scores(word, k=k, score_threshold=0.0)
            docs = [d for d, _ in pairs]
        elif how == "mmr":
            docs = store.max_marginal_relevance_search(word, k=2, fetch_k=k)
        elif how == "get_by_ids":
            docs = store.get_by_ids(READ_IDS)
        elif how == "retriever":
            docs = tenant_retriever(self.index, t, self.emb, k=k, isolation=self.mode).invoke(word)
        elif how == "per_request":
            docs = self.per_request.invoke(word, config=cfg)
        elif how == "async_similarity":
            docs = asyncio.run(store.asimilarity_search(word, k=k))
        elif how == "async_mmr":
            docs = asyncio.run(store.amax_marginal_relevance_search(word, k=2, fetch_k=k))
        elif how == "async_get_by_ids":
            docs = asyncio.run(store.aget_by_ids(READ_IDS))
        else:
            docs = asyncio.run(self.per_request.ainvoke(word, config=cfg))
        return [(d.id, d.metadata.get("owner"), d.page_content) for d in docs]

    @invariant()
    def counts_match_model(self) -> None:
        """After every step each tenant's own count is exactly what it wrote (nothing leaked in)."""
        for who, p in enumerate(self.pinned):
            assert p.count() == len(self.model[who]), (self.tenants[who], self.model[who])

    def teardown(self) -> None:
        for t in self.tenants:
            offboard(t, self.index, isolation=self.mode, wait=5.0)


@pytest.mark.parametrize("mode", MODES)
def test_random_interleavings_never_cross_tenants(
    mode: str, index: Any, grpc_index: Any, emb: HashingTestEmbeddings
) -> None:
    machine = type(
        f"IsolationMachine_{mode}",
        (IsolationMachine,),
        {"index": index, "grpc_index": grpc_index, "emb": emb, "mode": mode},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=400 if soak() else 40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=not soak(),
        ),
    )


# -- part 2: hostile inputs -------------------------------------------------------------------

BAD_TENANTS: list[Any] = [
    "",
    "__default__",
    " ",
    "\t",
    " acme",
    "acme ",
    "ac\x00me",
    "acme\n",
    "a" * 513,
    "\u0430cme",  # Cyrillic a
    "\uff41cme",  # fullwidth a
    "acme\u200b",  # zero-width space
    "ACME\u0301",  # combining accent
    ".",
    "..",
    None,
    42,
    b"acme",
]


def _tenant_entry_points(index: Any, emb: Any) -> dict[str, Callable[[Any], Any]]:
    """Every public way to name a tenant, as a one-argument call."""
    from tenant_rag.llamaindex import tenant_vector_store as li_store

    pr = per_request_retriever(index, emb)
    entry: dict[str, Callable[[Any], Any]] = {
        "TenantScope": lambda t: TenantScope(t),
        "TenantScope(metadata)": lambda t: TenantScope(t, "metadata"),
        "PinnedIndex": lambda t: PinnedIndex(index, t),
        "tenant_vector_store": lambda t: tenant_vector_store(index, t, emb),
        "tenant_vector_store(metadata)": lambda t: tenant_vector_store(
            index, t, emb, isolation="metadata"
        ),
        "tenant_retriever": lambda t: tenant_retriever(index, t, emb),
        "per_request.invoke": lambda t: pr.invoke("q", config={"configurable": {"tenant_id": t}}),
        "offboard": lambda t: offboard(t, index, wait=0),
        "onboard": lambda t: onboard(index, t),
        "update_record": lambda t: update_record(index, t, "doc1", metadata={"x": 1}),
        "llamaindex.tenant_vector_store": lambda t: li_store(index, t),
    }
    entry["ingest"] = lambda t: ingest(index, t, [("doc1", "text")], embedding=emb, progress=False)
    entry["delete_document"] = lambda t: delete_document(index, t, "doc1")
    return entry


def test_invalid_tenant_ids_are_refused_everywhere(index: Any, emb: Any) -> None:
    victim = f"victim-{uuid.uuid4().hex[:6]}"
    store = tenant_vector_store(index, victim, emb)
    store.add_texts(["victim secret"], ids=["doc1"], metadatas=[{"owner": victim}])
    before = index.describe_index_stats().total_vector_count
    entry = _tenant_entry_points(index, emb)
    for name, call in entry.items():
        for bad in BAD_TENANTS:
            TALLY.add("adversarial_cases")
            TALLY.add("adversarial_tenant_ids")
            with pytest.raises((InvalidTenantError, TenantIsolationError)) as err:
                call(bad)
            msg = str(err.value)
            assert "tenant" in msg.lower(), (name, bad, msg)
            if not isinstance(bad, str) or bad in ("", "__default__"):
                continue
            assert len(msg) < 1200, "the message names the rule, it does not dump the input"
    assert index.describe_index_stats().total_vector_count == before, "nothing was written"
    assert [d.page_content for d in store.get_by_ids(["doc1"])] == ["victim secret"]


ODD_BUT_VALID = ["../victim", "a/../victim", "victim/", "%2e%2e", "victim?x=1", "victim#f", "*"]


@pytest.mark.parametrize("mode", MODES)
def test_path_like_tenant_ids_are_harmless(mode: str, index: Any, emb: Any) -> None:
    """Tenant ids that look like paths or URL syntax stay opaque names: no route confusion."""
    tag = uuid.uuid4().hex[:6]
    victim = f"victim{tag}"
    vstore = tenant_vector_store(index, victim, emb, isolation=mode)
    vstore.add_texts(["same text"], ids=["doc1"], metadatas=[{"owner": victim}])
    for odd in ODD_BUT_VALID:
        tenant = odd.replace("victim", victim)
        TALLY.add("adversarial_cases")
        s = tenant_vector_store(index, tenant, emb, isolation=mode)
        s.add_texts(["same text"], ids=["doc1"], metadatas=[{"owner": tenant}])
        assert [d.metadata["owner"] for d in s.similarity_search("same text", k=5)] == [tenant]
        report = offboard(tenant, index, isolation=mode, wait=5.0)
        assert report.verified and report.deleted == 1
        got = vstore.similarity_search("same text", k=5)
        assert [(d.id, d.metadata["owner"]) for d in got] == [("doc1", victim)], tenant
    offboard(victim, index, isolation=mode, wait=5.0)


def _widening_filters(other: str) -> list[dict[str, Any]]:
    return [
        {"tenant_id": other},
        {"tenant_id": {"$eq": other}},
        {"tenant_id": {"$ne": "nobody"}},
        {"tenant_id": {"$in": [other]}},
        {"tenant_id": {"$exists": True}},
        {"$or": [{"tenant_id": other}, {"owner": other}]},
        {"$or": [{"owner": {"$exists": True}}, {"tenant_id": {"$exists": False}}]},
        {"$and": [{"$or": [{"tenant_id": {"$eq": other}}]}]},
    ]


@pytest.mark.parametrize("mode", MODES)
def test_filters_never_widen_the_pin(mode: str, index: Any, emb: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    me, other = f"me-{tag}", f"other-{tag}"
    for t in (me, other):
        tenant_vector_store(index, t, emb, isolation=mode).add_texts(
            ["shared text"], ids=["doc1"], metadatas=[{"owner": t}]
        )
    store = tenant_vector_store(index, me, emb, isolation=mode)
    pinned = PinnedIndex(index, store.scope)
    pr = per_request_retriever(index, emb, isolation=mode)
    harmless_or = {"$or": [{"owner": {"$exists": True}}, {"owner": other}]}
    vec = emb.embed_query("shared text")
    calls: dict[str, Callable[[dict[str, Any]], list[str]]] = {
        "similarity_search": lambda f: [
            d.metadata["owner"] for d in store.similarity_search("shared text", k=5, filter=f)
        ],
        "mmr": lambda f: [
            d.metadata["owner"]
            for d in store.max_marginal_relevance_search("shared text", k=2, filter=f)
        ],
        "as_retriever": lambda f: [
            d.metadata["owner"]
            for d in store.as_retriever(search_kwargs={"filter": f}).invoke("shared text")
        ],
        "tenant_retriever": lambda f: [
            d.metadata["owner"]
            for d in tenant_retriever(index, me, emb, filter=f, isolation=mode).invoke("shared")
        ],
        "per_request(search_kwargs)": lambda f: [
            d.metadata["owner"]
            for d in per_request_retriever(index, emb, isolation=mode, filter=f).invoke(
                "shared", config={"configurable": {"tenant_id": me}}
            )
        ],
        "per_request(config)": lambda f: [
            d.metadata["owner"]
            for d in pr.invoke(
                "shared",
                config={"configurable": {"tenant_id": me, "search_kwargs": {"filter": f}}},
            )
        ],
        "PinnedIndex.query": lambda f: [
            r.metadata["owner"] for r in pinned.query(vector=vec, top_k=5, filter=f)
        ],
        "PinnedIndex.delete_by_filter": lambda f: (pinned.delete_by_filter(f), [])[1],
    }
    for name, call in calls.items():
        for f in [*_widening_filters(other), harmless_or]:
            TALLY.add("adversarial_cases")
            TALLY.add("adversarial_filters")
            try:
                owners = call(f)
            except TenantIsolationError as exc:
                assert mode == "metadata" and "tenant" in str(exc), (name, f, exc)
                continue
            except TenantRagError as exc:  # pragma: no cover - any other refusal must be explicit
                pytest.fail(f"{name} {f}: unexpected {type(exc).__name__}: {exc}")
            assert set(owners) <= {me}, (name, f, owners)
            if mode == "metadata" and name != "per_request(config)":
                # (a filter in a per-request call's config is not applied at all: harmless)
                assert "tenant_id" not in str(f), f"{name} accepted a tenant-field filter {f}"
        # the other tenant's record survived whatever delete_by_filter did
        other_store = tenant_vector_store(index, other, emb, isolation=mode)
        assert [d.metadata["owner"] for d in other_store.get_by_ids(["doc1"])] == [other], name
        store.add_texts(["shared text"], ids=["doc1"], metadatas=[{"owner": me}])
    for t in (me, other):
        offboard(t, index, isolation=mode, wait=5.0)


NAMESPACE_ESCAPES: list[Any] = [None, "", "__default__", "other", "tenant-shared", " me"]


@pytest.mark.parametrize("mode", MODES)
def test_namespace_overrides_are_refused(mode: str, index: Any, emb: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    me, other = f"me-{tag}", f"other-{tag}"
    tenant_vector_store(index, other, emb, isolation=mode).add_texts(
        ["secret"], ids=["doc1"], metadatas=[{"owner": other}]
    )
    store = tenant_vector_store(index, me, emb, isolation=mode)
    store.add_texts(["secret"], ids=["doc1"], metadatas=[{"owner": me}])
    retr = store.as_retriever()
    pr = per_request_retriever(index, emb, isolation=mode)
    from tenant_rag.llamaindex import tenant_vector_store as li_store

    def escapes(ns: Any) -> dict[str, Callable[[], Any]]:
        return {
            "similarity_search(namespace=)": lambda: store.similarity_search("s", namespace=ns),
            "similarity_search_by_vector(namespace=)": lambda: store.similarity_search_by_vector(
                emb.embed_query("s"), namespace=ns
            ),
            "mmr(namespace=)": lambda: store.max_marginal_relevance_search("s", namespace=ns),
            "add_texts(namespace=)": lambda: store.add_texts(["x"], ids=["x"], namespace=ns),
            "delete(namespace=)": lambda: store.delete(delete_all=True, namespace=ns),
            "asimilarity_search(namespace=)": lambda: asyncio.run(
                store.asimilarity_search("s", namespace=ns)
            ),
            "tenant_vector_store(namespace=)": lambda: tenant_vector_store(
                index, me, emb, isolation=mode, namespace=ns
            ),
            "tenant_retriever(search_kwargs)": lambda: tenant_retriever(
                index, me, emb, isolation=mode, namespace=ns
            ),
            "as_retriever(search_kwargs)": lambda: store.as_retriever(
                search_kwargs={"namespace": ns}
            ).invoke("s"),
            "retriever config namespace": lambda: retr.invoke(
                "s", config={"configurable": {"namespace": ns}}
            ),
            "retriever config search_kwargs": lambda: retr.invoke(
                "s", config={"configurable": {"search_kwargs": {"namespace": ns}}}
            ),
            "retriever config tenant_id": lambda: retr.invoke(
                "s", config={"configurable": {"tenant_id": other}}
            ),
            "per_request_retriever(namespace=)": lambda: per_request_retriever(
                index, emb, namespace=ns
            ),
            "per_request config namespace": lambda: pr.invoke(
                "s", config={"configurable": {"tenant_id": me, "namespace": ns}}
            ),
            "per_request config search_kwargs": lambda: pr.invoke(
                "s",
                config={"configurable": {"tenant_id": me, "search_kwargs": {"namespace": ns}}},
            ),
            "per_request no tenant": lambda: pr.invoke("s", config={"configurable": {}}),
            "llamaindex tenant_vector_store(namespace=)": lambda: li_store(
                index, me, isolation=mode, namespace=ns
            ),
        }

    for ns in [*NAMESPACE_ESCAPES, other]:
        if ns == store.namespace:  # metadata mode's shared namespace is its own: a no-op
            continue
        for name, call in escapes(ns).items():
            TALLY.add("adversarial_cases")
            TALLY.add("adversarial_namespace_overrides")
            try:
                call()
            except (TenantIsolationError, TypeError, ValueError) as exc:
                text = str(exc).lower()
                assert "namespace" in text or "tenant" in text, (name, ns, exc)
            else:
                pytest.fail(f"{name} with namespace={ns!r} was not refused")
    # own namespace is tolerated (a no-op), and nothing above touched either tenant
    assert [
        d.metadata["owner"] for d in store.similarity_search("secret", namespace=store.namespace)
    ] == [me]
    other_docs = tenant_vector_store(index, other, emb, isolation=mode).get_by_ids(["doc1"])
    assert [d.metadata["owner"] for d in other_docs] == [other]
    for t in (me, other):
        offboard(t, index, isolation=mode, wait=5.0)


COLLIDING_TENANTS = [("a", "a::b"), ("acme", "acme%3A%3Ax"), ("doc1", "doc10"), ("t", "t-")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("t1", "t2"), COLLIDING_TENANTS)
def test_colliding_prefixes_stay_apart(mode: str, t1: str, t2: str, index: Any, emb: Any) -> None:
    """Tenant and id prefixes that collide as strings never collide as stored ids."""
    tag = uuid.uuid4().hex[:6]
    a, b = f"{tag}{t1}", f"{tag}{t2}"
    ids = ["doc1", "doc10", "a#b", "a", "b::doc1", "::", "a%3A%3Ab::x"]
    stores = {t: tenant_vector_store(index, t, emb, isolation=mode) for t in (a, b)}
    for t, s in stores.items():
        s.add_texts(["same"] * len(ids), ids=ids, metadatas=[{"owner": t}] * len(ids))
    TALLY.add("adversarial_cases", 4)
    # deleting doc1 does not touch doc10 or doc1 of the other tenant
    stores[a].delete(ids=["doc1"])
    assert sorted(d.id for d in stores[a].get_by_ids(ids)) == sorted(set(ids) - {"doc1"})
    assert sorted(d.id for d in stores[b].get_by_ids(ids)) == sorted(ids)
    assert sorted(PinnedIndex(index, stores[a].scope).list_ids("doc1")) == ["doc10"]
    # delete_all of a never reaches b, whose stored ids start with a's text
    stores[a].delete(delete_all=True)
    assert stores[a].get_by_ids(ids) == []
    got = stores[b].similarity_search("same", k=20)
    assert {d.metadata["owner"] for d in got} == {b} and len(got) == len(ids)
    offboard(b, index, isolation=mode, wait=5.0)
