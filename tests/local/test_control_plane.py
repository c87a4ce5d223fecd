"""Control plane through the real SDK: create, describe, list, configure, delete, auth."""

from __future__ import annotations

import pytest
from pinecone import Pinecone, PineconeApiException, ServerlessSpec
from pinecone.exceptions import ForbiddenException, NotFoundException, UnauthorizedException

from tenant_rag.local import LocalServer, start

from .helpers import SPEC, make_index


def test_create_describe_list_delete(local_server: LocalServer) -> None:
    pc = local_server.client()
    assert pc.list_indexes().names() == []
    pc.create_index(name="docs", dimension=8, metric="dotproduct", spec=SPEC, tags={"team": "a"})
    model = pc.describe_index("docs")
    assert model.name == "docs"
    assert model.dimension == 8
    assert model.metric == "dotproduct"
    assert model.host == f"{local_server.url}/_index/docs"
    assert model.spec.serverless.cloud == "aws"
    assert model.spec.serverless.region == "us-east-1"
    assert model.status.ready is True and model.status.state == "Ready"
    assert model.deletion_protection == "disabled"
    assert model.vector_type == "dense"
    assert model.tags.to_dict() == {"team": "a"}
    assert pc.has_index("docs") and not pc.has_index("other")
    assert pc.list_indexes().names() == ["docs"]
    pc.delete_index("docs", timeout=-1)
    assert not pc.has_index("docs")


def test_create_existing_is_409(local_server: LocalServer) -> None:
    pc = local_server.client()
    make_index(pc, "dup")
    with pytest.raises(PineconeApiException) as info:
        pc.create_index(name="dup", dimension=4, metric="cosine", spec=SPEC, timeout=-1)
    assert info.value.status == 409
    assert "already exists" in info.value.body


def test_unknown_index_is_404(local_server: LocalServer) -> None:
    pc = local_server.client()
    with pytest.raises(NotFoundException):
        pc.describe_index("nope")
    with pytest.raises(NotFoundException):
        pc.delete_index("nope", timeout=-1)
    with pytest.raises(NotFoundException):
        pc.Index(name="nope")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "Bad_Name", "dimension": 4, "metric": "cosine"}, "Invalid index name"),
        ({"name": "x" * 46, "dimension": 4, "metric": "cosine"}, "Invalid index name"),
        ({"name": "ok", "dimension": 0, "metric": "cosine"}, "dimension"),
        ({"name": "ok", "dimension": 4, "metric": "manhattan"}, "metric"),
    ],
)
def test_create_validation_is_400(local_server: LocalServer, kwargs: dict, fragment: str) -> None:
    pc = local_server.client()
    with pytest.raises(Exception) as info:
        pc.create_index(spec=SPEC, timeout=-1, **kwargs)
    # the SDK validates some enums client-side; the server's 400 covers the rest
    if isinstance(info.value, PineconeApiException):
        assert info.value.status == 400
        assert fragment in info.value.body


def test_deletion_protection_and_tags(local_server: LocalServer) -> None:
    pc = local_server.client()
    make_index(pc, "guarded", deletion_protection="enabled")
    with pytest.raises(ForbiddenException) as info:
        pc.delete_index("guarded", timeout=-1)
    assert "Deletion protection" in info.value.body
    pc.configure_index("guarded", deletion_protection="disabled", tags={"env": "dev"})
    model = pc.describe_index("guarded")
    assert model.deletion_protection == "disabled"
    assert model.tags.to_dict() == {"env": "dev"}
    pc.configure_index("guarded", tags={"owner": "me"})
    assert pc.describe_index("guarded").tags.to_dict() == {"env": "dev", "owner": "me"}
    pc.delete_index("guarded", timeout=-1)
    assert not pc.has_index("guarded")


def test_sparse_index_model(local_server: LocalServer) -> None:
    pc = local_server.client()
    pc.create_index(name="sparse", metric="dotproduct", vector_type="sparse", spec=SPEC, timeout=-1)
    model = pc.describe_index("sparse")
    assert model.vector_type == "sparse"
    assert model.dimension is None


def test_controller_host_env_and_index_by_name(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", local_server.url)
    pc = Pinecone(api_key="anything")
    pc.create_index(
        name="by-env",
        dimension=3,
        metric="euclidean",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    index = pc.Index(name="by-env")
    index.upsert(vectors=[("a", [1.0, 0.0, 0.0])])
    assert index.describe_index_stats().total_vector_count == 1


def test_api_key_enforced(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with start(tmp_path, api_key="s3cret") as srv:
        assert srv.api_key == "s3cret"
        good = srv.client()
        make_index(good, "keyed").upsert(vectors=[("a", [1.0, 0.0, 0.0, 0.0])])
        bad = Pinecone(api_key="wrong", host=srv.url)
        with pytest.raises(UnauthorizedException) as info:
            bad.list_indexes()
        assert '"UNAUTHENTICATED"' in info.value.body
        assert "s3cret" not in info.value.body
        # Pinecone's data plane answers a wrong key 403 "Wrong API key" (SDK 8.1.2's
        # integration test test_unauthorized_requests_rejected), the control plane 401.
        host = good.describe_index("keyed").host
        with pytest.raises(ForbiddenException) as forbidden:
            bad.Index(host=host).fetch(ids=["a"])
        assert "Wrong API key" in forbidden.value.body
        assert "s3cret" not in forbidden.value.body


def test_any_key_accepted_without_configured_key(local_server: LocalServer) -> None:
    assert local_server.api_key == "local"
    assert Pinecone(api_key="whatever", host=local_server.url).list_indexes().names() == []
