"""The asyncio SDK (PineconeAsyncio / IndexAsyncio) against the embedded server."""

from __future__ import annotations

import pytest
from pinecone import PineconeApiException, ServerlessSpec

from tenant_rag.local import LocalServer


async def test_asyncio_full_flow(local_server: LocalServer) -> None:
    async with local_server.async_client() as pc:
        await pc.create_index(
            name="aio",
            dimension=3,
            metric="cosine",
            spec=ServerlessSpec(cloud="aws", region="us-east-1"),
            timeout=-1,
        )
        assert await pc.has_index("aio")
        host = (await pc.describe_index("aio")).host
        async with pc.IndexAsyncio(host=host) as index:
            ns = "tenant a+b"  # aiohttp sends a space as '+' in query strings
            res = await index.upsert(
                vectors=[
                    {"id": "x 1", "values": [1.0, 0.0, 0.0], "metadata": {"k": "v"}},
                    {"id": "x 2", "values": [0.0, 1.0, 0.0]},
                ],
                namespace=ns,
            )
            assert res.upserted_count == 2
            got = await index.fetch(ids=["x 1", "x 2"], namespace=ns)
            assert sorted(got.vectors) == ["x 1", "x 2"]
            assert got.vectors["x 1"].metadata == {"k": "v"}
            q = await index.query(
                vector=[1.0, 0.1, 0.0], top_k=1, namespace=ns, include_metadata=True
            )
            assert q.matches[0].id == "x 1" and q.namespace == ns
            ids = [i async for page in index.list(namespace=ns) for i in page]
            assert ids == ["x 1", "x 2"]
            await index.update(id="x 2", set_metadata={"k": "w"}, namespace=ns)
            stats = await index.describe_index_stats()
            assert stats.namespaces[ns].vector_count == 2
            desc = await index.describe_namespace(namespace=ns)
            assert desc.name == ns
            await index.delete(ids=["x 1"], namespace=ns)
            assert list((await index.fetch(ids=["x 1"], namespace=ns)).vectors) == []
            with pytest.raises(PineconeApiException) as info:
                await index.upsert(vectors=[("bad", [1.0])], namespace=ns)
            assert info.value.status == 400
            await index.delete(delete_all=True, namespace=ns)
            assert (await index.describe_index_stats()).total_vector_count == 0
        await pc.delete_index("aio", timeout=-1)
        assert not await pc.has_index("aio")
