"""Per-user access inside a tenant, on every read path, against the embedded server.

One tenant holds five documents: one without an access list, one for the
HR group, one for user alice, one for admins only (``[]``) and one for the
whole tenant. The same question, asked through every read path (LangChain
store, retriever, per-request retriever and chain, sync and async, LlamaIndex
store, query and chat engines, ``PinnedIndex`` over REST and gRPC), must
return exactly the documents each reader may read, in both isolation modes
and under both ACL policies.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tenant_rag import (
    TENANT_ADMIN,
    AccessControlError,
    InvalidAclError,
    PinnedIndex,
    Principal,
    UsageMeter,
    acl_policy,
    ingest,
    per_request_rag_chain,
    per_request_retriever,
    set_acl,
    set_acl_policy,
    tenant_retriever,
    tenant_vector_store,
)
from tenant_rag.connection import ensure_index
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.models.llm import ExtractiveAnswerer

DIM = 32
DOCS: list[tuple[str, str, list[str] | None]] = [
    ("pub.md", "In March the cafeteria opens at eight.", None),
    ("hr.md", "In March the salary bands are reviewed.", ["group:hr"]),
    ("alice.md", "In March alice has her review.", ["user:alice"]),
    ("board.md", "In March the board meets about the merger.", []),
    ("all.md", "In March the all-hands is on Friday.", ["tenant"]),
]
QUESTION = "What happens in March?"
ALICE = Principal("alice", ["eng"])
BOB = Principal("bob", ["hr"])
READERS: dict[str, Any] = {"anon": None, "alice": ALICE, "bob": BOB, "admin": TENANT_ADMIN}
#: reader -> documents visible under the "tenant" policy (no ACL = everyone in the tenant)
VISIBLE = {
    "anon": {"pub.md", "all.md"},
    "alice": {"pub.md", "all.md", "alice.md"},
    "bob": {"pub.md", "all.md", "hr.md"},
    "admin": {d for d, _, _ in DOCS},
}


@pytest.fixture(scope="module")
def emb() -> HashingTestEmbeddings:
    return HashingTestEmbeddings(DIM)


@pytest.fixture(scope="module")
def pc(shared_local_server: LocalServer) -> Any:
    return shared_local_server.client()


def _fresh(pc: Any, emb: Any, mode: str) -> tuple[Any, str]:
    index = ensure_index(pc, f"acl-{uuid.uuid4().hex[:10]}", dimension=DIM)
    tenant = f"acme-{uuid.uuid4().hex[:6]}"
    records = [(d, text, {} if acl is None else {"acl": acl}) for d, text, acl in DOCS]
    report = ingest(index, tenant, records, embedding=emb, isolation=mode, progress=False)
    assert report.ok and report.documents_written == len(DOCS), report
    # a neighbour tenant with the same ids, all readable by everyone: must never show up
    other = [(d, f"OTHER TENANT {text}", {}) for d, text, _ in DOCS]
    ingest(index, f"{tenant}-x", other, embedding=emb, isolation=mode, progress=False)
    return index, tenant


@pytest.fixture(scope="module", params=["namespace", "metadata"])
def corpus(request: pytest.FixtureRequest, pc: Any, emb: Any) -> tuple[Any, str, str]:
    index, tenant = _fresh(pc, emb, request.param)
    return index, tenant, request.param


def _doc_ids(items: Any) -> set[str]:
    """The doc ids of whatever a read path returns (Documents, source dicts, nodes, metadata)."""
    out = set()
    for item in items:
        if isinstance(item, dict):  # a chain's source ({doc_id, text, ...}) or bare metadata
            md, text = item, item.get("text", "")
        elif hasattr(item, "page_content"):  # a LangChain Document
            md, text = item.metadata, item.page_content
        else:  # a LlamaIndex NodeWithScore
            md, text = item.node.metadata, item.node.get_content()
        assert "OTHER TENANT" not in str(text), "a neighbour tenant's record leaked"
        out.add(md["doc_id"])
    return out


def _paths(index: Any, tenant: str, mode: str, emb: Any, srv: LocalServer) -> dict[str, Callable]:
    k = len(DOCS) + 2

    def store(reader: Any) -> Any:
        return tenant_vector_store(index, tenant, emb, isolation=mode, principal=reader)

    def config(reader: Any) -> dict[str, Any]:
        cfg: dict[str, Any] = {"tenant_id": tenant}
        if isinstance(reader, Principal):
            cfg |= {"user_id": reader.user, "groups": list(reader.groups)}
        elif reader is TENANT_ADMIN:
            cfg["principal"] = TENANT_ADMIN
        return {"configurable": cfg}

    def llama(reader: Any) -> Any:
        from llama_index.embeddings.langchain import LangchainEmbedding

        from tenant_rag.llamaindex import tenant_query_engine

        engine = tenant_query_engine(
            index,
            tenant,
            embed_model=LangchainEmbedding(emb),
            llm=ExtractiveAnswerer(),
            isolation=mode,
            principal=reader,
            similarity_top_k=k,
        )
        return engine.query(QUESTION).source_nodes

    def llama_chat(reader: Any) -> Any:
        from llama_index.embeddings.langchain import LangchainEmbedding

        from tenant_rag.llamaindex import tenant_chat_engine

        engine = tenant_chat_engine(
            index,
            tenant,
            embed_model=LangchainEmbedding(emb),
            llm=ExtractiveAnswerer(),
            isolation=mode,
            principal=reader,
            similarity_top_k=k,
        )
        return engine.chat(QUESTION).source_nodes

    def grpc(reader: Any) -> Any:
        handle = srv.grpc_index(index._tenant_rag_index_name)
        pinned = PinnedIndex(handle, tenant, isolation=mode, principal=reader)
        return [r.metadata | {"text": r.metadata["text"]} for r in pinned.query(
            vector=emb.embed_query(QUESTION), top_k=k)]  # fmt: skip

    def pinned_fetch(reader: Any) -> Any:
        pinned = PinnedIndex(index, tenant, isolation=mode, principal=reader)
        return [r.metadata for r in pinned.fetch([f"{d}#0" for d, _, _ in DOCS]).values()]

    def pinned_list(reader: Any) -> Any:
        pinned = PinnedIndex(index, tenant, isolation=mode, principal=reader)
        return [{"doc_id": rid.rsplit("#", 1)[0]} for rid in pinned.list_ids()]

    return {
        "similarity": lambda r: store(r).similarity_search(QUESTION, k=k),
        "mmr": lambda r: store(r).max_marginal_relevance_search(QUESTION, k=k, fetch_k=k),
        "threshold": lambda r: [
            d for d, _ in store(r).similarity_search_with_relevance_scores(QUESTION, k=k)
        ],
        "get_by_ids": lambda r: store(r).get_by_ids([f"{d}#0" for d, _, _ in DOCS]),
        "retriever": lambda r: tenant_retriever(
            index, tenant, emb, k=k, isolation=mode, principal=r
        ).invoke(QUESTION),
        "async": lambda r: asyncio.run(store(r).asimilarity_search(QUESTION, k=k)),
        "async_retriever": lambda r: asyncio.run(
            tenant_retriever(index, tenant, emb, k=k, isolation=mode, principal=r).ainvoke(QUESTION)
        ),
        "per_request": lambda r: per_request_retriever(index, emb, k=k, isolation=mode).invoke(
            QUESTION, config=config(r)
        ),
        "per_request_chain": lambda r: per_request_rag_chain(
            index, emb, ExtractiveAnswerer(), k=k, isolation=mode
        ).invoke({"question": QUESTION}, config=config(r))["sources"],
        "llamaindex_query": llama,
        "llamaindex_chat": llama_chat,
        "pinned_fetch": pinned_fetch,
        "pinned_list": pinned_list,
        "grpc_query": grpc,
    }


PATHS = [
    "similarity",
    "mmr",
    "threshold",
    "get_by_ids",
    "retriever",
    "async",
    "async_retriever",
    "per_request",
    "per_request_chain",
    "llamaindex_query",
    "llamaindex_chat",
    "pinned_fetch",
    "pinned_list",
    "grpc_query",
]


@pytest.mark.parametrize("path", PATHS)
def test_each_reader_sees_exactly_what_it_may_read(
    corpus: tuple[Any, str, str], emb: Any, shared_local_server: LocalServer, path: str
) -> None:
    index, tenant, mode = corpus
    read = _paths(index, tenant, mode, emb, shared_local_server)[path]
    for name, reader in READERS.items():
        assert _doc_ids(read(reader)) == VISIBLE[name], (path, name)


def test_two_users_same_question_different_sources(corpus: tuple[Any, str, str], emb: Any) -> None:
    index, tenant, mode = corpus
    chain = per_request_rag_chain(index, emb, ExtractiveAnswerer(), k=3, isolation=mode)
    answers = {
        user: chain.invoke(
            {"question": "When is the review in March?"},
            config={"configurable": {"tenant_id": tenant, "user_id": user, "groups": groups}},
        )
        for user, groups in (("alice", ["eng"]), ("bob", ["hr"]))
    }
    alice = {s["doc_id"] for s in answers["alice"]["sources"]}
    bob = {s["doc_id"] for s in answers["bob"]["sources"]}
    assert "alice.md" in alice and "hr.md" not in alice
    assert "hr.md" in bob and "alice.md" not in bob


def test_private_policy_hides_documents_without_an_acl(pc: Any, emb: Any) -> None:
    index, tenant = _fresh(pc, emb, "namespace")
    name = index._tenant_rag_index_name
    assert acl_policy(pc, name) == "tenant", "the stated default"
    set_acl_policy(pc, name, "private")
    assert acl_policy(pc, name) == "private"
    store = {r: tenant_vector_store(index, tenant, emb, principal=READERS[r]) for r in READERS}
    seen = {r: _doc_ids(s.similarity_search(QUESTION, k=9)) for r, s in store.items()}
    assert seen == {
        "anon": {"all.md"},
        "alice": {"all.md", "alice.md"},
        "bob": {"all.md", "hr.md"},
        "admin": VISIBLE["admin"],
    }
    # a handle built by ensure_index in another "process" reads the policy from the tags
    from tenant_rag.connection import reset_for_tests

    reset_for_tests()
    again = ensure_index(pc, name, dimension=DIM)
    assert _doc_ids(tenant_vector_store(again, tenant, emb).similarity_search(QUESTION)) == {
        "all.md"
    }
    set_acl_policy(pc, name, "tenant")
    assert _doc_ids(tenant_vector_store(again, tenant, emb).similarity_search(QUESTION)) == {
        "all.md",
        "pub.md",
    }


def test_set_acl_is_seen_by_the_next_query_without_re_embedding(
    corpus: tuple[Any, str, str], emb: Any
) -> None:
    index, tenant, mode = corpus
    carol = tenant_retriever(index, tenant, emb, k=9, isolation=mode, principal=Principal("carol"))
    assert "board.md" not in _doc_ids(carol.invoke(QUESTION))
    with UsageMeter() as meter:
        assert set_acl(index, tenant, "board.md", ["user:carol"], isolation=mode) == 1
    assert meter.usage(tenant=tenant).operations == {"update": 1}, "metadata update only"
    assert "board.md" in _doc_ids(carol.invoke(QUESTION))
    set_acl(index, tenant, "board.md", [], isolation=mode)
    assert "board.md" not in _doc_ids(carol.invoke(QUESTION))
    with pytest.raises(InvalidAclError):
        set_acl(index, tenant, "board.md", "user:carol", isolation=mode)  # type: ignore[arg-type]
    assert set_acl(index, tenant, "no-such-doc.md", ["tenant"], isolation=mode) == 0


def test_a_filter_naming_the_acl_field_is_refused_everywhere(
    corpus: tuple[Any, str, str], emb: Any
) -> None:
    index, tenant, mode = corpus
    widen = {"$or": [{"acl": {"$exists": True}}, {"doc_id": "pub.md"}]}
    for reader in (None, ALICE):
        store = tenant_vector_store(index, tenant, emb, isolation=mode, principal=reader)
        with pytest.raises(AccessControlError):
            store.similarity_search(QUESTION, filter=widen)
        with pytest.raises(AccessControlError):
            tenant_retriever(index, tenant, emb, filter=widen, principal=reader)
        with pytest.raises(AccessControlError):
            PinnedIndex(index, tenant, isolation=mode, principal=reader).query(
                vector=emb.embed_query(QUESTION), filter={"acl": "user:alice"}
            )
    with pytest.raises(AccessControlError):
        per_request_retriever(index, emb, filter={"acl": {"$in": ["tenant"]}})
    # the admin sees everything anyway; an ACL filter only narrows it
    admin = PinnedIndex(index, tenant, isolation=mode, principal=TENANT_ADMIN)
    hits = admin.query(vector=emb.embed_query(QUESTION), top_k=9, filter={"acl": "group:hr"})
    assert [r.metadata["doc_id"] for r in hits] == ["hr.md"]


def test_a_pinned_retriever_refuses_a_config_for_another_principal(
    corpus: tuple[Any, str, str], emb: Any
) -> None:
    index, tenant, mode = corpus
    r = tenant_retriever(index, tenant, emb, isolation=mode, principal=ALICE)
    same = {"tenant_id": tenant, "user_id": "alice", "groups": ["eng"]}
    assert r.invoke(QUESTION, config={"configurable": same})
    for other in (
        {"user_id": "bob"},
        {"user_id": "alice", "groups": ["eng", "hr"]},  # more groups is another principal
        {"principal": TENANT_ADMIN},
    ):
        with pytest.raises(AccessControlError):
            r.invoke(QUESTION, config={"configurable": {"tenant_id": tenant, **other}})
    with pytest.raises(InvalidAclError):
        per_request_retriever(index, emb, isolation=mode).invoke(
            QUESTION, config={"configurable": {"tenant_id": tenant, "groups": ["hr"]}}
        )


class _IgnoresFilters:
    """A data-plane handle that drops every query filter (a broken or hostile server)."""

    def __init__(self, index: Any) -> None:
        self._index = index

    def query(self, **kwargs: Any) -> Any:
        flt = kwargs.pop("filter", None)
        if flt and "$and" in flt:  # keep the tenant pin of metadata isolation, drop the rest
            kwargs["filter"] = flt["$and"][0]
        elif flt and "tenant_id" in flt:
            kwargs["filter"] = flt
        return self._index.query(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)


def test_results_are_checked_on_the_way_out(corpus: tuple[Any, str, str], emb: Any) -> None:
    index, tenant, mode = corpus
    pinned = PinnedIndex(_IgnoresFilters(index), tenant, isolation=mode, principal=ALICE)
    with pytest.raises(AccessControlError, match="may not read"):
        pinned.query(vector=emb.embed_query(QUESTION), top_k=9)
    # querying by the id of a record the reader may not read finds nothing
    assert PinnedIndex(index, tenant, isolation=mode, principal=ALICE).query(id="hr.md#0") == []
    assert PinnedIndex(index, tenant, isolation=mode, principal=BOB).query(id="hr.md#0")


def test_reads_are_metered_per_user(corpus: tuple[Any, str, str], emb: Any) -> None:
    index, tenant, mode = corpus
    with UsageMeter() as meter:
        for reader in (ALICE, ALICE, BOB, TENANT_ADMIN, None):
            tenant_retriever(index, tenant, emb, isolation=mode, principal=reader).invoke(QUESTION)
    per_user = meter.by_user(tenant)
    assert set(per_user) == {"alice", "bob"}
    assert per_user["alice"].operations == {"query": 2}
    assert per_user["bob"].operations == {"query": 1}
    assert meter.usage(tenant=tenant).operations["query"] == 5, "the tenant total has every read"


def test_acls_at_ingestion_every_form(pc: Any, emb: Any, tmp_path: Any) -> None:
    """Run-wide ``acl=``, per-document metadata, a ``.jsonl`` field, an ``.acl.json`` sidecar."""
    import json

    from tenant_rag import document_acl

    index = ensure_index(pc, f"acl-{uuid.uuid4().hex[:10]}", dimension=DIM)
    (tmp_path / "hr").mkdir()
    (tmp_path / "hr" / "pay.md").write_text("pay bands")
    (tmp_path / "hr" / "open.md").write_text("open roles")
    (tmp_path / "notes.md").write_text("team notes")
    (tmp_path / "t.jsonl").write_text(
        json.dumps({"id": "1", "text": "ticket one", "acl": ["user:bob"]})
        + "\n"
        + json.dumps({"id": "2", "text": "ticket two"})
        + "\n"
    )
    (tmp_path / ".acl.json").write_text(
        json.dumps({"hr/open.md": ["tenant"], "hr/*": ["group:hr"]})
    )
    report = ingest(index, "acme", [tmp_path], embedding=emb, acl=["group:staff"], progress=False)
    assert report.ok and report.documents_written == 5, report
    report = ingest(
        index, "acme", [("rec", "a record", {"acl": ["user:ann"]})], embedding=emb, progress=False
    )
    got = {d: document_acl(index, "acme", d)[1] for d in
           ("hr/pay.md", "hr/open.md", "notes.md", "t.jsonl:1", "t.jsonl:2", "rec")}  # fmt: skip
    assert got == {
        "hr/pay.md": ["group:hr"],  # the sidecar's pattern
        "hr/open.md": ["tenant"],  # its first matching pattern
        "notes.md": ["group:staff"],  # no pattern: the run's acl
        "t.jsonl:1": ["user:bob"],  # the item's own field
        "t.jsonl:2": ["group:staff"],
        "rec": ["user:ann"],  # a record's metadata
    }
    # a changed access list alone is applied by metadata update, not re-embedding
    (tmp_path / ".acl.json").write_text(json.dumps({"hr/*": ["group:hr", "user:ceo"]}))
    report = ingest(index, "acme", [tmp_path], embedding=emb, acl=["group:staff"], progress=False)
    assert report.documents_written == 0 and report.documents_acl_updated == 2, report
    assert document_acl(index, "acme", "hr/pay.md")[1] == ["group:hr", "user:ceo"]
    assert document_acl(index, "acme", "hr/open.md")[1] == ["group:hr", "user:ceo"]
    assert report.documents_unchanged == 5


def test_bad_acls_at_ingestion_fail_closed(pc: Any, emb: Any, tmp_path: Any) -> None:
    """A bad access list never ingests its document with wider access."""
    index = ensure_index(pc, f"acl-{uuid.uuid4().hex[:10]}", dimension=DIM)
    with pytest.raises(InvalidAclError):
        ingest(index, "acme", [("a", "text", {})], embedding=emb, acl="tenant", progress=False)  # type: ignore[arg-type]
    report = ingest(
        index,
        "acme",
        [("bad", "text one", {"acl": ["everyone"]}), ("good", "text two", {"acl": ["tenant"]})],
        embedding=emb,
        progress=False,
    )
    assert set(report.failed) == {"bad"} and "access list" in report.failed["bad"]
    (tmp_path / "secret.md").write_text("secret")
    (tmp_path / ".acl.json").write_text('{"*": "group:hr"}')  # not a list
    report = ingest(index, "acme", [tmp_path], embedding=emb, progress=False)
    assert set(report.failed) == {"secret.md"} and ".acl.json" in report.failed["secret.md"]
    everything = PinnedIndex(index, "acme", principal=TENANT_ADMIN)
    assert sorted(everything.list_ids()) == ["good#0"], "nothing else was written"
    store = tenant_vector_store(index, "acme", emb)
    with pytest.raises(InvalidAclError):
        store.add_texts(["x"], metadatas=[{"acl": ["user:"]}])
    assert sorted(everything.list_ids()) == ["good#0"]
