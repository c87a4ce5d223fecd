"""Per-user access under random interleavings: no read returns what its principal may not read.

A hypothesis state machine over two tenants that hold the *same* document
ids and texts, five readers (no principal, three users with overlapping
groups, the tenant admin), documents with and without access lists, access
list changes (``set_acl``, re-ingestion with another list, raw upserts),
deletions, offboarding and flips of the index's ACL policy. A model keeps,
per tenant, each document's text and access list, and an oracle written
from the rules (not from `tenant_rag.tenancy.acl`) says who may read it.

Every read, on every path (LangChain store sync and async, MMR, get_by_ids,
pinned and per-request retrievers, the per-request RAG chain, the LlamaIndex
store, `PinnedIndex` query/fetch/list over REST and gRPC, and the chatbot's
``/chat`` and ``GET /documents`` with user tokens), must return only records
of the reader's tenant that the oracle lets it read, with the content last
written; the paths that read everything must return all of them. Both
isolation modes (the chatbot serves namespace isolation only).

Figures go to ``benchmarks/results/reliability_acl.json`` (see `_figures`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tenant_rag import (
    TENANT_ADMIN,
    PinnedIndex,
    Principal,
    delete_document,
    ingest,
    offboard,
    per_request_rag_chain,
    per_request_retriever,
    set_acl,
    set_acl_policy,
    tenant_retriever,
    tenant_vector_store,
)
from tenant_rag.chat import ChatLimits, KeyRing, create_chat_app
from tenant_rag.chat.jwt_auth import JwtConfig
from tenant_rag.connection import ensure_index
from tenant_rag.local import LocalServer
from tenant_rag.models.embeddings import HashingTestEmbeddings
from tenant_rag.models.llm import ExtractiveAnswerer
from tenant_rag.tenancy.records import record_id

from ._figures import Tally, soak

DIM = 48
DOCS = ["a", "b", "c", "d#x"]
WORDS = ["vacation", "office", "berlin", "policy"]
MODES = ["namespace", "metadata"]
SECRET = "acl-machine-secret-" + "z" * 32
READERS: dict[str, Any] = {
    "anon": None,
    "u1": Principal("u1", ["eng"]),
    "u2": Principal("u2", ["hr"]),
    "u3": Principal("u3", ["eng", "hr"]),
    "admin": TENANT_ADMIN,
}
ACLS: list[list[str] | None] = [
    None,
    [],
    ["tenant"],
    ["user:u1"],
    ["group:hr"],
    ["group:eng", "user:u2"],
    ["user:u3"],
    ["group:eng", "group:hr"],
]
READS = [
    "similarity",
    "mmr",
    "get_by_ids",
    "retriever",
    "per_request",
    "per_request_chain",
    "async_similarity",
    "async_per_request",
    "llamaindex",
    "pinned_query",
    "pinned_fetch",
    "pinned_list",
    "grpc_query",
    "grpc_fetch",
    "chat",
    "chat_documents",
]
#: paths that return every readable document (the others return a subset)
COMPLETE = set(READS) - {"mmr"}
TALLY = Tally("acl")


def may_read(reader: str, acl: list[str] | None, policy: str) -> bool:
    """The rules of issue 14, written out independently of the implementation."""
    if reader == "admin":
        return True
    if acl is None:
        return policy == "tenant"
    if "tenant" in acl:
        return True
    principal = READERS[reader]
    if principal is None:
        return False
    return f"user:{principal.user}" in acl or any(f"group:{g}" in acl for g in principal.groups)


def _text(doc: str, word: str) -> str:
    return f"{word} note {doc}"


@pytest.fixture(scope="module", autouse=True)
def _write_figures() -> Iterator[None]:
    yield
    TALLY.write("pytest tests/reliability/test_acl_machine.py")


@pytest.fixture(scope="module")
def emb() -> HashingTestEmbeddings:
    return HashingTestEmbeddings(dimension=DIM)


@pytest.fixture(scope="module")
def pc(shared_local_server: LocalServer) -> Any:
    return shared_local_server.client()


@pytest.fixture(scope="module")
def index(pc: Any) -> Any:
    return ensure_index(pc, f"aclm-{uuid.uuid4().hex[:10]}", dimension=DIM)


@pytest.fixture(scope="module")
def grpc_index(shared_local_server: LocalServer, index: Any) -> Any:
    """The same index over gRPC, with the tags ``ensure_index`` recorded (its ACL policy)."""
    handle = shared_local_server.grpc_index(index._tenant_rag_index_name)
    handle._tenant_rag_tags = index._tenant_rag_tags
    return handle


@pytest.fixture(scope="module")
def chat(index: Any, emb: Any) -> Iterator[TestClient]:
    """The chatbot backend over the same index, taking user tokens."""
    app = create_chat_app(
        keys=KeyRing.from_mapping({}),
        embedding=emb,
        llm=ExtractiveAnswerer(),
        index=index,
        index_name=index._tenant_rag_index_name,
        limits=ChatLimits(top_k=len(DOCS) + 2),
        jwt=JwtConfig(secret=SECRET),
    )
    with TestClient(app) as client:
        yield client


class AclMachine(RuleBasedStateMachine):
    """Two tenants, five readers, documents with and without ACLs; a model and an oracle."""

    pc: Any
    index: Any
    grpc_index: Any
    chat: TestClient
    emb: HashingTestEmbeddings
    mode: str

    def __init__(self) -> None:
        super().__init__()
        tag = uuid.uuid4().hex[:8]
        self.tenants = [f"acme-{tag}", f"globex-{tag}"]
        #: tenant -> doc -> (text, acl)
        self.model: list[dict[str, tuple[str, list[str] | None]]] = [{}, {}]
        #: documents whose last write was ingest's (chunk #0 carries its content hash)
        self.hashed: list[set[str]] = [set(), set()]
        self.policy = "tenant"
        set_acl_policy(self.pc, self.index._tenant_rag_index_name, "tenant")
        self.per_request = per_request_retriever(
            self.index, self.emb, k=len(DOCS) + 2, isolation=self.mode
        )
        self.chain = per_request_rag_chain(
            self.index, self.emb, ExtractiveAnswerer(), k=len(DOCS) + 2, isolation=self.mode
        )
        TALLY.add(f"examples_{self.mode}")

    def _op(self, name: str) -> None:
        TALLY.add("operations")
        TALLY.add(f"op_{name}")

    # -- writes ---------------------------------------------------------------------------
    @rule(
        who=st.integers(0, 1),
        doc=st.sampled_from(DOCS),
        word=st.sampled_from(WORDS),
        acl=st.sampled_from(ACLS),
    )
    def ingest(self, who: int, doc: str, word: str, acl: list[str] | None) -> None:
        self._op("ingest")
        t, text = self.tenants[who], _text(doc, word)
        md: dict[str, Any] = {"owner": t}
        if acl is not None:
            md["acl"] = acl
        report = ingest(
            self.index, t, [(doc, text, md)], embedding=self.emb, isolation=self.mode,
            progress=False,
        )  # fmt: skip
        assert report.ok, report.failed
        before = self.model[who].get(doc)
        if before is not None and before[0] == text and doc in self.hashed[who]:
            assert report.documents_unchanged == 1
            assert report.documents_acl_updated == (before[1] != acl), (before, acl)
        else:
            assert report.documents_written == 1, report
        self.model[who][doc] = (text, acl)
        self.hashed[who].add(doc)

    @rule(
        who=st.integers(0, 1),
        doc=st.sampled_from(DOCS),
        word=st.sampled_from(WORDS),
        acl=st.sampled_from(ACLS),
    )
    def upsert_raw(self, who: int, doc: str, word: str, acl: list[str] | None) -> None:
        """Another writer: a raw pinned upsert carrying the ACL in its metadata."""
        self._op("upsert_raw")
        t, text = self.tenants[who], _text(doc, word)
        md: dict[str, Any] = {"owner": t, "text": text, "doc_id": doc}
        if acl is not None:
            md["acl"] = acl
        writer = PinnedIndex(self.index, t, isolation=self.mode, principal=TENANT_ADMIN)
        writer.upsert([{"id": record_id(doc, 0), "values": self.emb.embed_query(text),
                        "metadata": md}])  # fmt: skip
        self.model[who][doc] = (text, acl)
        self.hashed[who].discard(doc)

    @rule(who=st.integers(0, 1), doc=st.sampled_from(DOCS), acl=st.sampled_from(ACLS))
    def change_acl(self, who: int, doc: str, acl: list[str] | None) -> None:
        self._op("set_acl")
        n = set_acl(self.index, self.tenants[who], doc, acl, isolation=self.mode)
        assert n == (1 if doc in self.model[who] else 0)
        if doc in self.model[who]:
            self.model[who][doc] = (self.model[who][doc][0], acl)

    @rule(who=st.integers(0, 1), doc=st.sampled_from(DOCS))
    def delete(self, who: int, doc: str) -> None:
        self._op("delete_document")
        n = delete_document(self.index, self.tenants[who], doc, isolation=self.mode)
        assert n == (1 if doc in self.model[who] else 0)
        self.model[who].pop(doc, None)
        self.hashed[who].discard(doc)

    @precondition(lambda self: sum(map(len, self.model)) >= 4)  # wipe only a fuller state
    @rule(who=st.integers(0, 1))
    def offboard(self, who: int) -> None:
        self._op("offboard")
        report = offboard(self.tenants[who], self.index, isolation=self.mode, wait=5.0)
        assert report.verified and report.deleted == len(self.model[who])
        self.model[who].clear()
        self.hashed[who].clear()

    @rule(policy=st.sampled_from(["tenant", "private"]))
    def flip_policy(self, policy: str) -> None:
        self._op("set_acl_policy")
        set_acl_policy(self.pc, self.index._tenant_rag_index_name, policy)  # type: ignore[arg-type]
        self.policy = policy

    # -- reads ------------------------------------------------------------------------------
    @rule(
        who=st.integers(0, 1),
        reader=st.sampled_from(sorted(READERS)),
        how=st.sampled_from(READS),
        word=st.sampled_from(WORDS),
    )
    def read(self, who: int, reader: str, how: str, word: str) -> None:
        self._check(who, reader, how, word)

    @invariant()
    def every_step_reads_clean(self) -> None:
        """After every step, both tenants read through the next (reader, path) pairs in turn."""
        self.turn = getattr(self, "turn", -1) + 1
        names = sorted(READERS)
        for who in (0, 1):
            n = self.turn * 2 + who
            how = READS[n % len(READS)]
            reader = names[(n // len(READS) + n) % len(names)]
            self._check(who, reader, how, WORDS[self.turn % len(WORDS)])

    def _check(self, who: int, reader: str, how: str, word: str) -> None:
        if how.startswith("chat") and (self.mode != "namespace" or reader == "anon"):
            how = "similarity"  # the chatbot serves namespace isolation, and users by token
        self._op(f"read_{how}")
        TALLY.add(f"reader_{reader}")
        got = self._read(who, reader, how, word)
        t, mine = self.tenants[who], self.model[who]
        visible = {d for d, (_, acl) in mine.items() if may_read(reader, acl, self.policy)}
        for doc, owner, text in got:
            assert owner in (t, None), f"{how}: {reader} of {t} got {owner}'s record {doc}"
            assert doc in visible, (
                f"{how}: {reader} of {t} read {doc!r} (acl {mine.get(doc, ('', '-'))[1]}, "
                f"policy {self.policy}); may read {sorted(visible)}"
            )
            assert text is None or text == mine[doc][0], (how, doc, text, mine[doc])
        if how in COMPLETE:
            assert {d for d, _, _ in got} == visible, f"{how}: {reader} sees all it may read"

    def _read(self, who: int, reader: str, how: str, word: str) -> list[tuple[str, Any, Any]]:
        t, principal, k = self.tenants[who], READERS[reader], len(DOCS) + 2
        ids = [record_id(d, 0) for d in DOCS]

        def rows(recs: Any) -> list[tuple[str, Any, Any]]:
            return [(r.metadata["doc_id"], r.metadata.get("owner"), r.metadata.get("text"))
                    for r in recs]  # fmt: skip

        def docs(items: Any) -> list[tuple[str, Any, Any]]:
            return [(d.metadata["doc_id"], d.metadata.get("owner"), d.page_content)
                    for d in items]  # fmt: skip

        cfg: dict[str, Any] = {"tenant_id": t}
        if isinstance(principal, Principal):
            cfg |= {"user_id": principal.user, "groups": list(principal.groups)}
        elif principal is TENANT_ADMIN:
            cfg["principal"] = TENANT_ADMIN
        config = {"configurable": cfg}
        vec = self.emb.embed_query(word)

        if how.startswith("chat"):
            return self._chat(t, reader, how, word)
        if how.startswith(("pinned_", "grpc_")):
            handle = self.grpc_index if how.startswith("grpc_") else self.index
            p = PinnedIndex(handle, t, isolation=self.mode, principal=principal)
            if how.endswith("_query"):
                return rows(p.query(vector=vec, top_k=k))
            if how.endswith("_fetch"):
                return rows(p.fetch(ids).values())
            return [(rid.rsplit("#", 1)[0].replace("%23", "#"), None, None)
                    for rid in p.list_ids()]  # fmt: skip
        store = tenant_vector_store(self.index, t, self.emb, isolation=self.mode,
                                    principal=principal)  # fmt: skip
        if how == "similarity":
            return docs(store.similarity_search(word, k=k))
        if how == "mmr":
            return docs(store.max_marginal_relevance_search(word, k=2, fetch_k=k))
        if how == "get_by_ids":
            return docs(store.get_by_ids(ids))
        if how == "retriever":
            r = tenant_retriever(self.index, t, self.emb, k=k, isolation=self.mode,
                                 principal=principal)  # fmt: skip
            return docs(r.invoke(word))
        if how == "per_request":
            return docs(self.per_request.invoke(word, config=config))
        if how == "async_per_request":
            return docs(asyncio.run(self.per_request.ainvoke(word, config=config)))
        if how == "async_similarity":
            return docs(asyncio.run(store.asimilarity_search(word, k=k)))
        if how == "per_request_chain":
            out = self.chain.invoke({"question": word}, config=config)
            return [(s["doc_id"], s["metadata"].get("owner"), s["text"]) for s in out["sources"]]
        return self._llamaindex(t, principal, vec, k)

    def _llamaindex(self, t: str, principal: Any, vec: list[float], k: int) -> list:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        from tenant_rag.llamaindex import tenant_vector_store as li_store

        store = li_store(self.index, t, isolation=self.mode, principal=principal)
        result = store.query(VectorStoreQuery(query_embedding=vec, similarity_top_k=k))
        return [(n.metadata["doc_id"], n.metadata.get("owner"), n.get_content())
                for n in result.nodes]  # fmt: skip

    def _chat(self, t: str, reader: str, how: str, word: str) -> list[tuple[str, Any, Any]]:
        principal = READERS[reader]
        claims: dict[str, Any] = {"tenant": t, "exp": int(time.time()) + 600}
        if isinstance(principal, Principal):
            claims |= {"sub": principal.user, "groups": list(principal.groups)}
        else:
            claims |= {"sub": "root", "tenant_admin": True}
        headers = {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}
        if how == "chat_documents":
            resp = self.chat.get("/documents", headers=headers)
            assert resp.status_code == 200, resp.text
            return [(d["doc_id"], None, None) for d in resp.json()["documents"]]
        resp = self.chat.post("/chat", json={"question": word}, headers=headers)
        assert resp.status_code == 200, resp.text
        from tests.chat.conftest import parse_sse, sources_of

        return [(s["doc_id"], None, s["text"]) for s in sources_of(parse_sse(resp.text))]

    def teardown(self) -> None:
        for t in self.tenants:
            offboard(t, self.index, isolation=self.mode, wait=5.0)
        set_acl_policy(self.pc, self.index._tenant_rag_index_name, "tenant")


@pytest.mark.parametrize("mode", MODES)
def test_no_read_returns_what_its_principal_may_not_read(
    mode: str, pc: Any, index: Any, grpc_index: Any, chat: TestClient, emb: HashingTestEmbeddings
) -> None:
    machine = type(
        f"AclMachine_{mode}",
        (AclMachine,),
        {"pc": pc, "index": index, "grpc_index": grpc_index, "chat": chat, "emb": emb,
         "mode": mode},
    )  # fmt: skip
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=200 if soak() else 20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=not soak(),
        ),
    )
