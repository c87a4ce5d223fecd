"""The gRPC data plane on the wire: Pinecone's method paths, version by metadata, index routing.

These tests speak gRPC with plain grpcio and the messages generated in this repository
(no SDK), so they pin what each API version's client receives byte for byte.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest

from tenant_rag.local import LocalServer, start
from tenant_rag.local.api._grpc_gen import db_data_2025_04_pb2 as v2504
from tenant_rag.local.api._grpc_gen import db_data_2025_10_pb2 as v2510
from tenant_rag.local.api._grpc_gen import db_data_2026_07_pb2 as v2607

from .helpers import make_index

NEW = {"x_pinecone_api_version": "2025-10"}


class Wire:
    """Unary calls to ``/VectorService/<method>`` with chosen metadata."""

    def __init__(self, target: str) -> None:
        self.channel = grpc.insecure_channel(target)

    def call(self, method: str, request: Any, response_cls: Any, **meta: str) -> Any:
        fn = self.channel.unary_unary(
            f"/VectorService/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_cls.FromString,
        )
        return fn(request, metadata=[(k.replace("_", "-"), v) for k, v in meta.items()])


@pytest.fixture
def wire(local_server: LocalServer) -> Iterator[Wire]:
    assert local_server.grpc_target is not None
    w = Wire(local_server.grpc_target)
    yield w
    w.channel.close()


def _seed(local_server: LocalServer, name: str = "w") -> None:
    index = make_index(local_server.client(), name, dimension=2)
    index.upsert(vectors=[("a", [1.0, 0.0]), ("b", [0.0, 1.0])], namespace="t")
    index.upsert(vectors=[("d", [1.0, 1.0])])


def test_each_version_is_answered_with_its_own_messages(
    local_server: LocalServer, wire: Wire
) -> None:
    _seed(local_server)
    request = v2607.ListNamespacesRequest()
    # read every answer with the newest classes: a field the caller's version lacks stays unset
    old = wire.call(
        "ListNamespaces", request, v2607.ListNamespacesResponse, x_pinecone_api_version="2025-04"
    )
    assert [n.name for n in old.namespaces] == ["__default__", "t"]
    assert not old.HasField("total_count")  # 2025-04's ListNamespacesResponse has no total_count
    new = wire.call(
        "ListNamespaces", request, v2607.ListNamespacesResponse, x_pinecone_api_version="2025-10"
    )
    assert new.total_count == 2
    prefixed = wire.call(
        "ListNamespaces",
        v2607.ListNamespacesRequest(prefix="t"),
        v2607.ListNamespacesResponse,
        x_pinecone_api_version="2026-07",
    )
    assert [n.name for n in prefixed.namespaces] == ["t"] and prefixed.total_count == 1


def test_default_namespace_in_stats_per_version(local_server: LocalServer, wire: Wire) -> None:
    """2025-04 keys the default namespace "" in stats (the SDK's own tests assert it)."""
    _seed(local_server)
    req = v2504.DescribeIndexStatsRequest()
    old = wire.call("DescribeIndexStats", req, v2504.DescribeIndexStatsResponse)  # no header
    assert dict(old.namespaces).keys() == {"", "t"}
    new = wire.call(
        "DescribeIndexStats",
        req,
        v2510.DescribeIndexStatsResponse,
        x_pinecone_api_version="2025-10",
    )
    assert set(new.namespaces) == {"__default__", "t"}


def test_query_fetch_and_list_echo_the_namespace_asked_for(
    local_server: LocalServer, wire: Wire
) -> None:
    _seed(local_server)
    for asked in ("", "__default__"):
        q = wire.call(
            "Query",
            v2510.QueryRequest(namespace=asked, top_k=1, vector=[1.0, 1.0]),
            v2510.QueryResponse,
            x_pinecone_api_version="2025-10",
        )
        assert q.namespace == asked and [m.id for m in q.matches] == ["d"]
        assert not q.matches[0].HasField("metadata")  # not asked for: absent, not {}
        f = wire.call("Fetch", v2504.FetchRequest(ids=["d"], namespace=asked), v2504.FetchResponse)
        assert f.namespace == asked and list(f.vectors) == ["d"]
        page = wire.call("List", v2504.ListRequest(namespace=asked), v2504.ListResponse)
        assert page.namespace == asked and [v.id for v in page.vectors] == ["d"]
        assert not page.HasField("pagination")  # last page: no pagination at all


def test_unknown_version_is_refused_with_the_supported_list(
    local_server: LocalServer, wire: Wire
) -> None:
    _seed(local_server)
    with pytest.raises(grpc.RpcError) as info:
        wire.call(
            "DescribeIndexStats",
            v2504.DescribeIndexStatsRequest(),
            v2504.DescribeIndexStatsResponse,
            x_pinecone_api_version="2024-07",
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "2025-04, 2025-10, 2026-04, 2026-07" in info.value.details()


def test_rpcs_of_2025_10_are_unimplemented_in_2025_04_and_served_from_2025_10(
    local_server: LocalServer, wire: Wire
) -> None:
    _seed(local_server)
    by_metadata = v2510.FetchByMetadataRequest(namespace="t", limit=1)
    by_metadata.filter.update({"x": {"$exists": False}})
    with pytest.raises(grpc.RpcError) as info:
        wire.call("FetchByMetadata", by_metadata, v2510.FetchByMetadataResponse)  # no header
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "not part of API version 2025-04" in info.value.details()
    page = wire.call("FetchByMetadata", by_metadata, v2510.FetchByMetadataResponse, **NEW)
    assert list(page.vectors) == ["a"] and page.namespace == "t"
    assert page.pagination.next  # one of two records: a next page
    update = v2510.UpdateRequest(namespace="t", dry_run=True)
    update.filter.update({"x": {"$exists": False}})
    update.set_metadata.update({"tier": "gold"})
    dry = wire.call("Update", update, v2510.UpdateResponse, **NEW)
    assert dry.matched_records == 2
    update.id = "a"
    with pytest.raises(grpc.RpcError) as info:
        wire.call("Update", update, v2510.UpdateResponse, **NEW)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "either id or filter" in info.value.details()
    made = wire.call(
        "CreateNamespace", v2510.CreateNamespaceRequest(name="n"), v2510.NamespaceDescription, **NEW
    )
    assert (made.name, made.record_count) == ("n", 0)
    with pytest.raises(grpc.RpcError) as info:
        wire.call(
            "CreateNamespace",
            v2510.CreateNamespaceRequest(name="n"),
            v2510.NamespaceDescription,
            **NEW,
        )
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_refusals_still_check_the_api_key(tmp_path: Any) -> None:
    with start(tmp_path, api_key="right-key", grpc=True) as srv:
        assert srv.grpc_target is not None
        wire = Wire(srv.grpc_target)
        with pytest.raises(grpc.RpcError) as info:
            wire.call(
                "DescribeIndexStats",
                v2504.DescribeIndexStatsRequest(),
                v2504.DescribeIndexStatsResponse,
                x_pinecone_api_version="1999-01",
                api_key="wrong",
            )
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert info.value.details().startswith("Wrong API key")
        wire.channel.close()


def test_an_index_port_serves_only_its_index(local_server: LocalServer) -> None:
    """SDK 9.x/10.x name no index: the port does. The shared port needs a name once two exist."""
    _seed(local_server, "first")
    _seed(local_server, "second")
    target = local_server.grpc_index_target("second")
    assert local_server.grpc_index_target("second") == target  # bound once
    alone = Wire(target)
    alone.call(
        "Upsert",
        v2607.UpsertRequest(vectors=[v2607.Vector(id="x", values=[1, 0])]),
        v2607.UpsertResponse,
        x_pinecone_api_version="2026-07",
    )
    stats = local_server.client().Index(name="second").describe_index_stats()
    assert stats.total_vector_count == 4
    assert local_server.client().Index(name="first").describe_index_stats().total_vector_count == 3
    assert local_server.grpc_target is not None
    shared = Wire(local_server.grpc_target)
    with pytest.raises(grpc.RpcError) as info:
        shared.call(
            "DescribeIndexStats",
            v2504.DescribeIndexStatsRequest(),
            v2504.DescribeIndexStatsResponse,
        )
    assert "grpc_index_target" in info.value.details()
    named = shared.call(
        "DescribeIndexStats",
        v2504.DescribeIndexStatsRequest(),
        v2504.DescribeIndexStatsResponse,
        service_name="first",
    )
    assert named.total_vector_count == 3
    alone.channel.close()
    shared.channel.close()


def test_lookup_route_gives_the_index_port(local_server: LocalServer) -> None:
    _seed(local_server, "looked-up")
    body = httpx.get(f"{local_server.url}/_local/grpc/looked-up").json()
    assert body == {"name": "looked-up", "grpc_host": local_server.grpc_index_target("looked-up")}
    missing = httpx.get(f"{local_server.url}/_local/grpc/nope")
    assert missing.status_code == 404


def test_the_grpc_server_imports_no_pinecone_sdk_module() -> None:
    """The protos are generated here; SDK 9 and 10 no longer ship pinecone.core.grpc.protos."""
    code = (
        "import sys, tempfile\n"
        "from tenant_rag.local import start\n"
        "srv = start(tempfile.mkdtemp(), grpc=True)\n"
        "srv.stop()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pinecone'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_namespace_schema_over_grpc(local_server: LocalServer, wire: Wire) -> None:
    """2025-10's CreateNamespace keeps a metadata schema; describe and list report it."""
    _seed(local_server)
    req = v2510.CreateNamespaceRequest(name="typed")
    req.schema.fields["genre"].filterable = True
    made = wire.call("CreateNamespace", req, v2510.NamespaceDescription, **NEW)
    assert made.schema.fields["genre"].filterable
    described = wire.call(
        "DescribeNamespace",
        v2510.DescribeNamespaceRequest(namespace="typed"),
        v2510.NamespaceDescription,
        **NEW,
    )
    assert (described.record_count, dict(described.schema.fields).keys()) == (0, {"genre"})
    listed = wire.call(
        "ListNamespaces",
        v2510.ListNamespacesRequest(prefix="ty"),
        v2510.ListNamespacesResponse,
        **NEW,
    )
    assert [n.name for n in listed.namespaces] == ["typed"]
    assert listed.namespaces[0].schema.fields["genre"].filterable
    old = wire.call(
        "DescribeNamespace",
        v2504.DescribeNamespaceRequest(namespace="typed"),
        v2607.NamespaceDescription,  # read with newer classes: 2025-04 sends no schema
    )
    assert not old.HasField("schema")
