"""What the README says about upstream langchain-pinecone (0.2.13), checked against it.

Upstream resolves a call's namespace as ``kwargs.get("namespace")``, falling
back to the store's own namespace when that is ``None``. So ``namespace=None``
is safe on a store built with a namespace; what fails open is a store built
without one (every call then reaches Pinecone's default namespace) and any
per-call ``namespace=`` override (honoured as given, another tenant's too).
"""

from __future__ import annotations

import uuid
from typing import Any

from langchain_pinecone import PineconeVectorStore

from tenant_rag.models.hashing import HashingTestEmbeddings


def test_upstream_namespace_resolution(new_index: Any) -> None:
    index = new_index(32)
    emb = HashingTestEmbeddings(32)
    acme, globex = f"acme-{uuid.uuid4().hex[:6]}", f"globex-{uuid.uuid4().hex[:6]}"
    PineconeVectorStore(index=index, embedding=emb, namespace=acme).add_texts(["acme secret"])
    PineconeVectorStore(index=index, embedding=emb, namespace=globex).add_texts(["globex secret"])
    PineconeVectorStore(index=index, embedding=emb).add_texts(["default secret"])

    def texts(store: PineconeVectorStore, **kw: Any) -> set[str]:
        return {d.page_content for d in store.similarity_search("secret", k=10, **kw)}

    pinned = PineconeVectorStore(index=index, embedding=emb, namespace=acme)
    assert texts(pinned, namespace=None) == {"acme secret"}, "None falls back to its namespace"
    assert texts(pinned, namespace=globex) == {"globex secret"}, "an override is honoured"
    unpinned = PineconeVectorStore(index=index, embedding=emb)
    assert texts(unpinned) == {"default secret"}, "no namespace: the default namespace"
