"""tenant_ingestion_pipeline: per-tenant docstores, upserts, dedup and persistence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core import Document
from llama_index.core.ingestion import DocstoreStrategy
from llama_index.core.storage.docstore import SimpleDocumentStore

from tenant_rag.connection import ensure_index
from tenant_rag.errors import ConfigurationError, TenantIsolationError
from tenant_rag.llamaindex import (
    TenantIngestionPipeline,
    default_splitter,
    split_sentences,
    tenant_dirname,
    tenant_ingestion_pipeline,
)
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE

from .conftest import DIM, stored_ids, upserted


def corpus(**overrides: str) -> list[Document]:
    texts = {
        "doc1": "Refunds are paid within five business days.",
        "doc10": "Support is open from nine to five on weekdays.",
        "handbook.md": "Every employee gets thirty days of leave.",
    }
    texts.update(overrides)
    return [Document(id_=doc_id, text=text) for doc_id, text in texts.items()]


def small_chunks() -> list[Any]:
    return [default_splitter(chunk_size=24, chunk_overlap=0)]


def test_rerun_upserts_nothing_and_keeps_the_same_records(
    index, embed_model, tenants, events
) -> None:
    acme = tenants[0]
    pipeline = tenant_ingestion_pipeline(index, acme, embed_model=embed_model)
    assert isinstance(pipeline, TenantIngestionPipeline) and pipeline.tenant == acme
    assert pipeline.docstore_strategy == DocstoreStrategy.UPSERTS
    first = pipeline.run(documents=corpus())
    assert len(first) == 3
    records = stored_ids(index, acme)
    assert records == ["doc1#0", "doc10#0", "handbook.md#0"]
    assert upserted(events, acme) == 3

    events.clear()
    assert pipeline.run(documents=corpus()) == []
    assert upserted(events, acme) == 0
    assert [e.operation for e in events] == [], "an unchanged re-run sends no request at all"
    assert stored_ids(index, acme) == records


def test_a_changed_document_is_replaced_without_orphans(
    index, embed_model, tenants, events
) -> None:
    acme = tenants[0]
    long = "First sentence here. " * 16
    pipeline = tenant_ingestion_pipeline(
        index, acme, embed_model=embed_model, transformations=small_chunks()
    )
    pipeline.run(documents=corpus(doc1=long))
    before = stored_ids(index, acme)
    assert len([i for i in before if i.startswith("doc1#")]) >= 3

    events.clear()
    pipeline.run(documents=corpus(doc1="Refunds now take two days."))
    assert upserted(events, acme) == 1, "only the changed document is written"
    after = stored_ids(index, acme)
    assert [i for i in after if i.startswith("doc1#")] == ["doc1#0"]
    assert [i for i in after if not i.startswith("doc1#")] == [
        i for i in before if not i.startswith("doc1#")
    ], "doc10, whose id starts with doc1, is untouched"
    (node,) = pipeline.vector_store.get_nodes(filters=_doc_filter("doc1"))
    assert node.get_content() == "Refunds now take two days."


def test_two_tenants_with_the_same_document_ids_never_collide(
    index, embed_model, tenants, events
) -> None:
    acme, globex = tenants
    a = tenant_ingestion_pipeline(index, acme, embed_model=embed_model)
    g = tenant_ingestion_pipeline(index, globex, embed_model=embed_model)
    assert a.docstore is not g.docstore
    a.run(documents=corpus())
    g.run(documents=corpus())  # same ids, same texts: must still be written for globex
    assert upserted(events, acme) == upserted(events, globex) == 3
    assert stored_ids(index, acme) == stored_ids(index, globex)

    events.clear()
    g.run(documents=corpus(doc1="Globex refunds nothing."))
    a.run(documents=corpus())
    assert upserted(events, globex) == 1 and upserted(events, acme) == 0
    (mine,) = a.vector_store.get_nodes(filters=_doc_filter("doc1"))
    assert mine.get_content() == "Refunds are paid within five business days."


def test_metadata_isolation_pipelines_share_a_namespace_but_not_records(
    index, embed_model, tenants, events
) -> None:
    acme, globex = tenants
    for tenant in tenants:
        p = tenant_ingestion_pipeline(index, tenant, embed_model=embed_model, isolation="metadata")
        p.run(documents=corpus())
        p.run(documents=corpus())
    assert upserted(events, acme) == upserted(events, globex) == 3
    ids = stored_ids(index, DEFAULT_SHARED_NAMESPACE)
    assert len(ids) == 6 and {i.split("::")[0] for i in ids} == {acme, globex}


def test_identical_texts_under_different_ids_are_both_stored(index, embed_model, tenants) -> None:
    pipeline = tenant_ingestion_pipeline(index, tenants[0], embed_model=embed_model)
    pipeline.run(documents=[Document(id_="a", text="same words")])
    pipeline.run(documents=[Document(id_="b", text="same words")])
    assert stored_ids(index, tenants[0]) == ["a#0", "b#0"]


def test_persisted_docstore_survives_reload(index, embed_model, tenants, events, tmp_path) -> None:
    acme, globex = tenants
    tenant_ingestion_pipeline(index, acme, embed_model=embed_model, persist_dir=tmp_path).run(
        documents=corpus()
    )
    saved = tmp_path / tenant_dirname(acme) / "docstore.json"
    assert saved.exists()
    assert "five business days" not in saved.read_text(), "hashes only, not the tenant's text"
    assert json.loads((saved.parent / "tenant.json").read_text())["tenant"] == acme

    events.clear()
    reloaded = tenant_ingestion_pipeline(index, acme, embed_model=embed_model, persist_dir=tmp_path)
    assert set(reloaded.docstore.get_all_document_hashes().values()) == {
        "doc1",
        "doc10",
        "handbook.md",
    }
    assert reloaded.run(documents=corpus()) == []
    assert upserted(events, acme) == 0

    # the other tenant has its own directory and starts empty
    other = tenant_ingestion_pipeline(index, globex, embed_model=embed_model, persist_dir=tmp_path)
    assert other.docstore.get_all_document_hashes() == {}
    other.run(documents=corpus())
    assert upserted(events, globex) == 3
    assert (tmp_path / tenant_dirname(globex) / "docstore.json").exists()


def test_explicit_persist_and_load_use_the_tenant_directory(
    index, embed_model, tenants, tmp_path
) -> None:
    acme = tenants[0]
    pipeline = tenant_ingestion_pipeline(index, acme, embed_model=embed_model)
    pipeline.run(documents=corpus())
    pipeline.persist(tmp_path)
    assert (tmp_path / tenant_dirname(acme) / "docstore.json").exists()
    fresh = tenant_ingestion_pipeline(index, acme, embed_model=embed_model)
    fresh.load(tmp_path)
    assert fresh.run(documents=corpus()) == []


def test_a_persist_dir_of_another_index_is_refused(li_pc, embed_model, tenants, tmp_path) -> None:
    first = ensure_index(li_pc, "li-persist-a", dimension=DIM)
    second = ensure_index(li_pc, "li-persist-b", dimension=DIM)
    tenant_ingestion_pipeline(first, tenants[0], embed_model=embed_model, persist_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="one persist_dir per index"):
        tenant_ingestion_pipeline(second, tenants[0], embed_model=embed_model, persist_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="one persist_dir per index"):
        tenant_ingestion_pipeline(
            first, tenants[0], embed_model=embed_model, persist_dir=tmp_path, isolation="metadata"
        )


def test_delete_document_and_reset_forget_what_they_delete(
    index, embed_model, tenants, events, tmp_path
) -> None:
    acme, globex = tenants
    pipeline = tenant_ingestion_pipeline(index, acme, embed_model=embed_model, persist_dir=tmp_path)
    other = tenant_ingestion_pipeline(index, globex, embed_model=embed_model)
    pipeline.run(documents=corpus())
    other.run(documents=corpus())
    pipeline.delete_document("doc1")
    assert stored_ids(index, acme) == ["doc10#0", "handbook.md#0"]
    events.clear()
    reloaded = tenant_ingestion_pipeline(index, acme, embed_model=embed_model, persist_dir=tmp_path)
    reloaded.run(documents=corpus())
    assert upserted(events, acme) == 1, "only the deleted document comes back"

    events.clear()
    reloaded.reset()
    assert stored_ids(index, acme) == []
    assert reloaded.docstore.get_all_document_hashes() == {}
    reloaded.run(documents=corpus())
    assert upserted(events, acme) == 3
    assert stored_ids(index, globex) == ["doc1#0", "doc10#0", "handbook.md#0"]


def test_a_stale_docstore_is_dropped_when_the_tenant_has_no_records(
    index, embed_model, tenants, events, tmp_path
) -> None:
    acme = tenants[0]
    pipeline = tenant_ingestion_pipeline(index, acme, embed_model=embed_model, persist_dir=tmp_path)
    pipeline.run(documents=corpus())
    pipeline.vector_store.clear()  # e.g. the tenant was offboarded
    events.clear()
    again = tenant_ingestion_pipeline(index, acme, embed_model=embed_model, persist_dir=tmp_path)
    again.run(documents=corpus())
    assert upserted(events, acme) == 3
    assert len(stored_ids(index, acme)) == 3


def test_a_docstore_is_never_shared_between_tenants(index, embed_model, tenants) -> None:
    acme, globex = tenants
    shared = SimpleDocumentStore()
    tenant_ingestion_pipeline(index, acme, embed_model=embed_model, docstore=shared)
    with pytest.raises(TenantIsolationError, match="collide"):
        tenant_ingestion_pipeline(index, globex, embed_model=embed_model, docstore=shared)
    made: list[str] = []

    def factory(tenant: str) -> SimpleDocumentStore:
        made.append(tenant)
        return SimpleDocumentStore()

    for tenant in tenants:
        tenant_ingestion_pipeline(index, tenant, embed_model=embed_model, docstore=factory)
    assert made == [acme, globex]


def test_the_pipeline_cannot_be_repointed_at_another_tenant(index, embed_model, tenants) -> None:
    acme, globex = tenants
    pipeline = tenant_ingestion_pipeline(index, acme, embed_model=embed_model)
    other = tenant_ingestion_pipeline(index, globex, embed_model=embed_model)
    with pytest.raises(TenantIsolationError):
        pipeline.vector_store = other.vector_store
    with pytest.raises(TenantIsolationError):
        pipeline.docstore = other.docstore
    with pytest.raises(TenantIsolationError):
        tenant_ingestion_pipeline(index, acme, embed_model=embed_model, namespace=globex)


def test_transformations_without_an_embedding_get_the_embed_model(
    index, embed_model, tenants
) -> None:
    pipeline = tenant_ingestion_pipeline(
        index, tenants[0], embed_model=embed_model, transformations=small_chunks()
    )
    assert pipeline.transformations[-1] is embed_model
    with pytest.raises(ConfigurationError, match="UPSERTS"):
        tenant_ingestion_pipeline(
            index,
            tenants[0],
            embed_model=embed_model,
            docstore_strategy=DocstoreStrategy.DUPLICATES_ONLY,
        )


def test_model_names_are_refused_rather_than_resolved_by_llamaindex(index) -> None:
    for name in ("default", "local:BAAI/bge-small-en"):
        with pytest.raises(ConfigurationError, match="model object"):
            tenant_ingestion_pipeline(index, "acme", embed_model=name)


def test_sentence_splitting_needs_no_nltk_and_loses_nothing() -> None:
    text = 'One. Two? "Three!" Four\n\nFive'
    assert split_sentences(text) == ["One. ", "Two? ", '"Three!" ', "Four\n\nFive"]
    assert "".join(split_sentences(text)) == text
    long = "Sentence number one is here. " * 40
    chunks = default_splitter(chunk_size=32, chunk_overlap=0).split_text(long)
    assert len(chunks) > 3 and all(c.endswith(".") for c in chunks)


def test_tenant_dirnames_are_safe() -> None:
    assert tenant_dirname("acme") == "acme"
    assert tenant_dirname("a/b") == "a%2Fb"
    assert tenant_dirname("..") == "%2E%2E" and tenant_dirname(".") == "%2E"
    long = tenant_dirname("x" * 512)
    assert len(long) < 255 and long != tenant_dirname("x" * 511)


async def test_arun_deduplicates_too(index, embed_model, tenants, events) -> None:
    pipeline = tenant_ingestion_pipeline(index, tenants[0], embed_model=embed_model)
    assert len(await pipeline.arun(documents=corpus())) == 3
    assert await pipeline.arun(documents=corpus()) == []
    assert upserted(events, tenants[0]) == 3


def _doc_filter(doc_id: str) -> Any:
    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

    return MetadataFilters(filters=[MetadataFilter(key="doc_id", value=doc_id)])


def test_the_pipeline_and_store_work_over_grpc(
    shared_local_server, index, embed_model, tenants
) -> None:
    from pinecone.grpc import GRPCClientConfig

    name = index._tenant_rag_index_name
    grpc_index = shared_local_server.grpc_client().Index(
        name=name,
        host=shared_local_server.grpc_target,
        grpc_config=GRPCClientConfig(secure=False),
    )
    for isolation in ("namespace", "metadata"):
        pipeline = tenant_ingestion_pipeline(
            grpc_index, tenants[0], embed_model=embed_model, isolation=isolation, dimension=DIM
        )
        assert len(pipeline.run(documents=corpus())) == 3
        assert pipeline.run(documents=corpus()) == []
        store = pipeline.vector_store
        store.delete("doc1")
        assert sorted(store.pinned.list_ids()) == ["doc10#0", "handbook.md#0"]
        (node,) = store.get_nodes(filters=_doc_filter("doc10"))
        assert node.get_content().startswith("Support is open")
        store.clear()
        assert list(store.pinned.list_ids()) == []
