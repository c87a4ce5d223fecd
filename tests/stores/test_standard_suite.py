"""langchain-tests' standard VectorStoreIntegrationTests, sync and async, on the embedded server.

The store under test is a tenant-pinned store with a noisy neighbour: before
each test another tenant writes the same ids ("1", "2", "3") and the same
texts into the same index, so a single leaked read or write would break the
suite's exact-equality assertions. Both isolation modes run the whole suite, over
the SDK's REST ``Index`` and its gRPC ``GRPCIndex``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from tenant_rag.local import LocalServer
from tenant_rag.stores.langchain import TenantPineconeVectorStore, tenant_vector_store


class _PinnedStoreSuite(VectorStoreIntegrationTests):
    isolation = "namespace"
    transport = "rest"

    @pytest.fixture
    def vectorstore(  # type: ignore[override]
        self, index6: Any, shared_local_server: LocalServer
    ) -> Iterator[TenantPineconeVectorStore]:
        if self.transport == "grpc":
            index6 = shared_local_server.grpc_index(index6._tenant_rag_index_name)
        tenant = f"std-{uuid.uuid4().hex[:10]}"
        emb = self.get_embeddings()
        neighbour = tenant_vector_store(index6, tenant + "-n", emb, isolation=self.isolation)
        neighbour.add_texts(
            ["foo", "bar", "baz", "new foo"],
            ids=["1", "2", "3", "foo"],
            metadatas=[{"id": 9, "neighbour": True}] * 4,
        )
        store = tenant_vector_store(index6, tenant, emb, isolation=self.isolation)
        try:
            yield store
        finally:
            store.delete(delete_all=True)
            assert len(neighbour.get_by_ids(["1", "2", "3", "foo"])) == 4, "neighbour untouched"
            neighbour.delete(delete_all=True)


class TestNamespaceIsolationStandardSuite(_PinnedStoreSuite):
    isolation = "namespace"


class TestMetadataIsolationStandardSuite(_PinnedStoreSuite):
    isolation = "metadata"


class TestGrpcNamespaceIsolationStandardSuite(_PinnedStoreSuite):
    """The same store over the SDK's gRPC index (``PineconeGRPC``), as the seed examples use."""

    isolation = "namespace"
    transport = "grpc"


class TestGrpcMetadataIsolationStandardSuite(_PinnedStoreSuite):
    isolation = "metadata"
    transport = "grpc"
