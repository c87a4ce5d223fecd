"""connect() and ensure_index(): one client per process, the right target, idempotent indexes."""

from __future__ import annotations

import pytest

from tenant_rag import ConfigurationError, IndexMismatchError, connect, ensure_index
from tenant_rag.connection import is_local, reset_for_tests


@pytest.fixture
def local_env(tmp_path, monkeypatch):
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_CONTROLLER_HOST", raising=False)
    monkeypatch.setenv("TENANT_RAG_HOME", str(tmp_path / "home"))
    reset_for_tests()
    yield tmp_path / "home"
    reset_for_tests()


def test_connect_without_a_key_uses_the_embedded_server(local_env) -> None:
    assert is_local()
    pc = connect()
    assert connect() is pc, "one client per process"
    assert any(p.startswith("http://127.0.0.1:") for p in [pc.config.host])
    index = ensure_index(pc, "rag", dimension=8)
    index.upsert(vectors=[("a", [0.1] * 8)], namespace="acme")
    assert (local_env).exists(), "the data dir is created where TENANT_RAG_HOME points"


def test_ensure_index_is_idempotent_and_caches_the_handle(local_env) -> None:
    pc = connect()
    first = ensure_index(pc, "rag", dimension=8)
    second = ensure_index(pc, "rag", dimension=8)
    assert first is second
    assert [i.name for i in pc.list_indexes()] == ["rag"]
    desc = pc.describe_index("rag")
    assert (desc.dimension, desc.metric) == (8, "cosine")
    assert desc.spec.serverless.cloud == "aws" and desc.spec.serverless.region == "us-east-1"


def test_one_call_per_workload_gives_separate_indexes(local_env) -> None:
    pc = connect()
    rag = ensure_index(pc, "rag", dimension=8)
    search = ensure_index(pc, "search", dimension=4, metric="dotproduct")
    rag.upsert(vectors=[("r", [0.5] * 8)], namespace="acme")
    search.upsert(vectors=[("s", [0.5] * 4)], namespace="acme")
    assert rag.fetch(ids=["r"], namespace="acme").vectors
    assert not search.fetch(ids=["r"], namespace="acme").vectors
    assert sorted(i.name for i in pc.list_indexes()) == ["rag", "search"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"dimension": 16}, "dimension 8"), ({"dimension": 8, "metric": "euclidean"}, "metric")],
)
def test_existing_index_of_another_shape_is_a_clear_error(local_env, kwargs, message) -> None:
    pc = connect()
    ensure_index(pc, "rag", dimension=8)
    with pytest.raises(IndexMismatchError, match=message):
        ensure_index(pc, "rag", **kwargs)


@pytest.mark.parametrize("name", ["", "Rag", "rag_1", "-rag", "r" * 46])
def test_bad_index_names_are_refused_before_any_request(local_env, name) -> None:
    with pytest.raises(ConfigurationError, match="index name"):
        ensure_index(connect(), name, dimension=8)


@pytest.mark.parametrize("dimension", [0, -1, 1.5, True])
def test_bad_dimensions_are_refused(local_env, dimension) -> None:
    with pytest.raises(ConfigurationError, match="dimension"):
        ensure_index(connect(), "rag", dimension=dimension)


def test_grpc_connect_reaches_the_same_data(local_env) -> None:
    rest = ensure_index(connect(), "rag", dimension=8)
    rest.upsert(vectors=[("a", [0.25] * 8)], namespace="acme")
    pcg = connect(grpc=True)
    assert connect(grpc=True) is pcg
    index = ensure_index(pcg, "rag", dimension=8)
    res = index.query(vector=[0.25] * 8, top_k=1, namespace="acme")
    assert [m.id for m in res.matches] == ["a"]


def test_cloud_mode_uses_the_key_and_controller_host(local_server, monkeypatch) -> None:
    """With PINECONE_API_KEY set, connect() builds a cloud client: here the controller
    host points at a loopback server, standing in for Pinecone's cloud at the HTTP level."""
    monkeypatch.setenv("PINECONE_API_KEY", local_server.api_key)
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", local_server.url)
    reset_for_tests()
    try:
        assert not is_local()
        pc = connect()
        index = ensure_index(pc, "cloudy", dimension=4)
        index.upsert(vectors=[("x", [1.0, 0.0, 0.0, 0.0])], namespace="acme")
        assert [i.name for i in local_server.client().list_indexes()] == ["cloudy"]
    finally:
        reset_for_tests()


def test_handles_are_cached_per_client_object_not_per_id(tmp_path) -> None:
    """A collected client's handles go with it; a new client (maybe at the same id) gets its own."""
    import gc

    from tenant_rag import connection
    from tenant_rag.local import start

    srv = start(tmp_path / "data")
    try:
        pc = srv.client()
        first = connection.ensure_index(pc, "cache-probe", dimension=4)
        assert connection.ensure_index(pc, "cache-probe", dimension=4) is first
        assert pc in connection._indexes
        del pc
        gc.collect()
        assert all(name != "cache-probe" for h in connection._indexes.values() for name in h)
        again = connection.ensure_index(srv.client(), "cache-probe", dimension=4)
        assert again is not first
    finally:
        srv.stop()
