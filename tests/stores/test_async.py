"""Async methods run the pinned sync path on worker threads: no PineconeAsyncio sessions to lose."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackHandler

from tenant_rag import tenant_retriever, tenant_vector_store
from tenant_rag.errors import ConfigurationError
from tenant_rag.stores import langchain as lc


@pytest.fixture
def loaded(index32, emb32, tenants):
    stores = [tenant_vector_store(index32, t, emb32) for t in tenants]
    for s in stores:
        s.add_texts(
            [f"{s.tenant} vacation note {i}" for i in range(6)], ids=[f"n{i}" for i in range(6)]
        )
    yield stores
    for s in stores:
        s.delete(delete_all=True)


async def test_async_never_opens_a_pinecone_asyncio_client(loaded, monkeypatch) -> None:
    import langchain_pinecone.vectorstores as upstream

    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("PineconeAsyncio must not be used by tenant stores")

    monkeypatch.setattr(upstream, "PineconeAsyncioClient", refuse)
    a, _ = loaded
    assert len(await a.asimilarity_search("vacation", k=3)) == 3
    await a.aadd_texts(["extra"], ids=["x"])
    assert [d.id for d in await a.aget_by_ids(["x"])] == ["x"]
    await a.adelete(ids=["x"])
    assert await a.aget_by_ids(["x"]) == []


async def test_many_concurrent_async_calls_all_succeed_and_stay_pinned(
    loaded, index32, emb32
) -> None:
    """Upstream 0.2.13 fails this with 'Session is closed' (its per-call aiohttp sessions)."""
    a, b = loaded
    calls = []
    for i in range(64):
        store = (a, b)[i % 2]
        calls.append(store.asimilarity_search("vacation", k=2))
        calls.append(store.amax_marginal_relevance_search("vacation", k=2, fetch_k=6))
        calls.append(tenant_retriever(index32, store.tenant, emb32, k=2).ainvoke("vacation"))
    results = await asyncio.gather(*calls)
    for i, docs in enumerate(results):
        tenant = (a, b)[(i // 3) % 2].tenant
        assert len(docs) == 2 and all(d.page_content.startswith(tenant) for d in docs)


async def test_callbacks_see_async_retriever_runs(loaded, index32, emb32) -> None:
    a, _ = loaded
    seen: list[str] = []

    class Handler(AsyncCallbackHandler):
        async def on_retriever_end(self, documents: Any, **kwargs: Any) -> None:
            seen.append(f"end:{len(documents)}")

    r = tenant_retriever(index32, a.tenant, emb32, k=2)
    await r.ainvoke("vacation", config={"callbacks": [Handler()]})
    assert seen == ["end:2"]


def test_the_io_pool_is_shared_and_named() -> None:
    pool = lc.io_pool()
    assert pool is lc.io_pool()
    assert pool._thread_name_prefix == "tenant-rag-io"
    assert pool._max_workers >= 1


@pytest.mark.parametrize("value", ["four", "0", "-2", "1.5"])
def test_an_unreadable_thread_count_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setattr(lc, "_IO_POOL", None)  # the next call builds a pool
    monkeypatch.setenv(lc.ASYNC_THREADS_ENV, value)
    with pytest.raises(ConfigurationError, match=re.escape(f"TENANT_RAG_ASYNC_THREADS={value!r}")):
        lc.io_pool()


def test_the_thread_count_setting_sizes_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lc, "_IO_POOL", None)
    monkeypatch.setenv(lc.ASYNC_THREADS_ENV, " 3 ")
    assert lc.io_pool()._max_workers == 3


def test_the_io_pool_is_rebuilt_after_fork(loaded) -> None:
    """A forked worker (gunicorn --preload) gets its own threads instead of hanging."""
    import os

    a, _ = loaded
    parent_pool = lc.io_pool()
    asyncio.run(a.asimilarity_search("vacation", k=1))  # the parent's threads exist now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must answer, through a fresh pool
        ok = 0
        try:
            docs = asyncio.run(asyncio.wait_for(a.asimilarity_search("vacation", k=1), 10))
            ok = int(len(docs) == 1 and lc.io_pool() is not parent_pool)
        finally:
            os.write(write, bytes([ok]))
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"\x01"
    os.waitpid(pid, 0)
