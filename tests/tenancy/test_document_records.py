"""One document id scheme for every writer: deleting a document deletes exactly its records.

The over-delete these tests pin down: documents ``https://acme.test/page`` and
``https://acme.test/page#faq`` (ids with ``#`` are ordinary URL fragments) and
``https://acme.test/page2``. Deleting the first must leave every record of the
other two, whichever writer wrote them (``tenant_rag.ingest``, the LangChain
store, the LlamaIndex store, the LlamaIndex pipeline), whichever API deletes
them, in both isolation modes, against the embedded server with the real SDK.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core import Document as LlamaDocument
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.embeddings.langchain import LangchainEmbedding

from tenant_rag.connection import ensure_index
from tenant_rag.ingestion import delete_document, ingest
from tenant_rag.llamaindex import tenant_ingestion_pipeline
from tenant_rag.llamaindex import tenant_vector_store as li_store
from tenant_rag.llamaindex.splitting import default_splitter
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.stores.langchain import tenant_vector_store as lc_store
from tenant_rag.tenancy.pinned import PinnedIndex, Record

DIM = 32
PAGE = "https://acme.test/page"
FAQ = "https://acme.test/page#faq"
PAGE2 = "https://acme.test/page2"
#: Two chunks each (small chunk size below), so a partial delete would show too.
TEXTS = {
    PAGE: "The page says shipping takes two days. Orders over fifty dollars ship free.",
    FAQ: "The FAQ says refunds take five days. Returns need the original box.",
    PAGE2: "The second page lists the opening hours. Support answers on weekdays.",
}
ISOLATIONS = ["namespace", "metadata"]


@pytest.fixture
def index(shared_local_server: LocalServer) -> Any:
    return ensure_index(
        shared_local_server.client(), f"docs-{uuid.uuid4().hex[:10]}", dimension=DIM
    )


@pytest.fixture
def tenant() -> str:
    return f"acme-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def emb() -> HashingTestEmbeddings:
    return HashingTestEmbeddings(dimension=DIM)


def ids_of(index: Any, tenant: str, isolation: str) -> set[str]:
    """The tenant's record ids as the tenant sees them."""
    return set(PinnedIndex(index, tenant, isolation=isolation).list_ids())


def doc_ids_of(index: Any, tenant: str, isolation: str) -> dict[str, set[str]]:
    """Record ids grouped by the ``doc_id`` their metadata names (what a reader relies on)."""
    pinned = PinnedIndex(index, tenant, isolation=isolation)
    ids = sorted(pinned.list_ids())
    out: dict[str, set[str]] = {}
    for rid, rec in pinned.fetch(ids).items():
        out.setdefault(str(rec.metadata.get("doc_id")), set()).add(rid)
    return out


# -- writers: each puts the three documents in, two chunks apiece -----------------------------


def write_with_ingest(index: Any, tenant: str, isolation: str, emb: Any) -> None:
    report = ingest(
        index,
        tenant,
        [(doc, text, {}) for doc, text in TEXTS.items()],
        embedding=emb,
        isolation=isolation,
        chunk_size=45,
        chunk_overlap=0,
        progress=False,
    )
    assert report.ok and report.documents_written == 3


def write_with_langchain(index: Any, tenant: str, isolation: str, emb: Any) -> None:
    store = lc_store(index, tenant, emb, isolation=isolation)
    for doc, text in TEXTS.items():
        halves = text.split(". ", 1)
        store.add_texts(halves, ids=["0", "1"], metadatas=[{"doc_id": doc}] * 2, id_prefix=doc)


def _nodes(emb: Any, doc: str, text: str) -> list[TextNode]:
    out = []
    for n, half in enumerate(text.split(". ", 1)):
        node = TextNode(
            id_=f"{doc}#{n}",
            text=half,
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
        )
        node.embedding = emb.embed_query(half)
        out.append(node)
    return out


def write_with_llamaindex_store(index: Any, tenant: str, isolation: str, emb: Any) -> None:
    store = li_store(index, tenant, isolation=isolation)
    for doc, text in TEXTS.items():
        store.add(_nodes(emb, doc, text))


def _pipeline(index: Any, tenant: str, isolation: str, emb: Any) -> Any:
    return tenant_ingestion_pipeline(
        index,
        tenant,
        embed_model=LangchainEmbedding(emb),
        transformations=[default_splitter(chunk_size=12, chunk_overlap=0)],
        isolation=isolation,
    )


def write_with_llamaindex_pipeline(index: Any, tenant: str, isolation: str, emb: Any) -> None:
    pipeline = _pipeline(index, tenant, isolation, emb)
    pipeline.run(documents=[LlamaDocument(id_=doc, text=text) for doc, text in TEXTS.items()])


WRITERS: dict[str, Callable[[Any, str, str, Any], None]] = {
    "ingest": write_with_ingest,
    "langchain": write_with_langchain,
    "llamaindex-store": write_with_llamaindex_store,
    "llamaindex-pipeline": write_with_llamaindex_pipeline,
}


# -- deleters: each deletes the document PAGE --------------------------------------------------


def delete_with_ingestion(index: Any, tenant: str, isolation: str, emb: Any) -> None:
    delete_document(index, tenant, PAGE, isolation=isolation)


def delete_with_langchain(index: Any, tenant: str, isolation: str, emb: Any) -> None:
    lc_store(index, tenant, emb, isolation=isolation).delete_document(PAGE)


def delete_with_llamaindex_store(index: Any, tenant: str, isolation: str, emb: Any) -> None:
    li_store(index, tenant, isolation=isolation).delete(PAGE)


def delete_with_llamaindex_pipeline(index: Any, tenant: str, isolation: str, emb: Any) -> None:
    _pipeline(index, tenant, isolation, emb).delete_document(PAGE)


DELETERS: dict[str, Callable[[Any, str, str, Any], None]] = {
    "ingestion": delete_with_ingestion,
    "langchain": delete_with_langchain,
    "llamaindex-store": delete_with_llamaindex_store,
    "llamaindex-pipeline": delete_with_llamaindex_pipeline,
}


@pytest.mark.parametrize("isolation", ISOLATIONS)
@pytest.mark.parametrize("writer", list(WRITERS))
def test_deleting_page_deletes_exactly_its_records(index, tenant, emb, writer, isolation) -> None:
    """The issue's case, per writer, deleted by the writer's own API."""
    WRITERS[writer](index, tenant, isolation, emb)
    before = doc_ids_of(index, tenant, isolation)
    assert set(before) == set(TEXTS), before
    assert all(len(ids) == 2 for ids in before.values()), before

    own_deleter = {"ingest": "ingestion"}.get(writer, writer)
    DELETERS[own_deleter](index, tenant, isolation, emb)

    after = doc_ids_of(index, tenant, isolation)
    assert after == {FAQ: before[FAQ], PAGE2: before[PAGE2]}


@pytest.mark.parametrize("isolation", ISOLATIONS)
@pytest.mark.parametrize("deleter", list(DELETERS))
@pytest.mark.parametrize("writer", list(WRITERS))
def test_every_deleter_agrees_with_every_writer(
    index, tenant, emb, writer, deleter, isolation
) -> None:
    """One scheme: whoever wrote a document, every document delete finds exactly its records."""
    WRITERS[writer](index, tenant, isolation, emb)
    before = doc_ids_of(index, tenant, isolation)
    DELETERS[deleter](index, tenant, isolation, emb)
    assert doc_ids_of(index, tenant, isolation) == {FAQ: before[FAQ], PAGE2: before[PAGE2]}


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_pipeline_rerun_with_a_changed_page_keeps_the_faq(index, tenant, emb, isolation) -> None:
    """UPSERTS deletes a changed document before rewriting it; its neighbours must survive.

    With an over-deleting store the docstore still believes ``page#faq`` is
    ingested, so the next runs skip it: the FAQ would be gone for good.
    """
    pipeline = _pipeline(index, tenant, isolation, emb)
    pipeline.run(documents=[LlamaDocument(id_=d, text=t) for d, t in TEXTS.items()])
    before = doc_ids_of(index, tenant, isolation)
    changed = {**TEXTS, PAGE: "The page now says shipping takes one day."}
    pipeline.run(documents=[LlamaDocument(id_=d, text=t) for d, t in changed.items()])
    after = doc_ids_of(index, tenant, isolation)
    assert after[FAQ] == before[FAQ] and after[PAGE2] == before[PAGE2]
    assert len(after[PAGE]) == 1


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_unicode_and_percent_document_ids_are_one_document_everywhere(
    index, tenant, emb, isolation
) -> None:
    """Ids Pinecone cannot store as given (non-ASCII, ``%``) map the same way for every writer."""
    docs = {"café.md": "Coffee is served at nine.", "50%-off.md": "Half price on Fridays."}
    ingest(
        index,
        tenant,
        [(d, t, {}) for d, t in docs.items()],
        embedding=emb,
        isolation=isolation,
        progress=False,
    )
    stored_as = {"café.md": "caf%C3%A9.md#0", "50%-off.md": "50%25-off.md#0"}
    written = ids_of(index, tenant, isolation)
    assert written == set(stored_as.values())
    store = li_store(index, tenant, isolation=isolation)
    for doc, text in docs.items():  # the LlamaIndex store overwrites the same records
        node = TextNode(
            id_=f"{doc}#0",
            text=text,
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
        )
        node.embedding = emb.embed_query(text)
        assert store.add([node]) == [stored_as[doc]]
    assert ids_of(index, tenant, isolation) == written
    store.delete("café.md")
    assert ids_of(index, tenant, isolation) == {"50%25-off.md#0"}
    delete_document(index, tenant, "50%-off.md", isolation=isolation)
    assert ids_of(index, tenant, isolation) == set()


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_records_written_the_old_way_are_still_found(index, tenant, emb, isolation) -> None:
    """Migration: the LlamaIndex store used to store ``{ref_doc_id}#{node_id}`` as given.

    For a document id with ``%`` (a URL with an escaped space) that is not the
    current form (``%`` is escaped to ``%25``), and a node id with ``#`` in it
    gave a key that looks like another document's. Deleting the document must
    still find both, and nothing of ``https://acme.test/a%20b#faq``.
    """
    pinned = PinnedIndex(index, tenant, isolation=isolation)
    doc = "https://acme.test/a%20b"
    other = "https://acme.test/a%20b#faq"
    vec = emb.embed_query("old")

    def old(rid: str, doc_id: str) -> Record:
        md = {"doc_id": doc_id, "ref_doc_id": doc_id, "document_id": doc_id, "text": rid}
        return Record(id=rid, values=vec, metadata=md)

    pinned.upsert(
        [
            old(f"{doc}#0", doc),  # old form of chunk 0 (current: ...a%2520b#0)
            old(f"{doc}#sec#1", doc),  # node id 'sec#1' of the same document
            old(f"{other}#0", other),  # a different document whose id extends it
        ]
    )
    li_store(index, tenant, isolation=isolation).delete(doc)
    assert ids_of(index, tenant, isolation) == {f"{other}#0"}

    pinned.upsert([old(f"{doc}#0", doc), old(f"{doc}#sec#1", doc)])
    assert delete_document(index, tenant, doc, isolation=isolation) == 2
    assert ids_of(index, tenant, isolation) == {f"{other}#0"}
