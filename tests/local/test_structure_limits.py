"""Limits for structure: deep or huge filters and metadata are 400s that name the limit, never 500s.

Found by hand against ``tenant-rag serve``: a query whose filter nests ``$and`` 3,000 levels
deep and an upsert whose metadata nests 5,000 objects deep both answered 500 (a
``RecursionError``). These tests send such requests as raw HTTP and raw gRPC bytes, as an
attacker would (the SDKs cannot even encode them), and check the answers; the filters Pinecone
does allow, up to the limits, still work through the SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest

from tenant_rag.local import LocalServer
from tenant_rag.local.api._grpc_gen import db_data_2025_04_pb2 as pb
from tenant_rag.local.engine.limits import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_OPERATORS,
    MAX_IN_VALUES,
    MAX_JSON_DEPTH,
)
from tests.local.helpers import make_index

DIM = 2
V2025_10 = {"X-Pinecone-API-Version": "2025-10"}


def nested_and(depth: int, leaf: str = '{"genre":{"$eq":"drama"}}') -> str:
    """A filter with ``depth`` levels of ``$and``, built as text (json.dumps recurses)."""
    return '{"$and":[' * depth + leaf + "]}" * depth


def nested_metadata(depth: int) -> str:
    return '{"k":' * depth + '"x"' + "}" * depth


@pytest.fixture
def server(local_server: LocalServer) -> Iterator[tuple[LocalServer, httpx.Client]]:
    """The server with index ``deep`` (2-d, cosine) holding r1 (drama) and r2 (comedy)."""
    pc = local_server.client()
    index = make_index(pc, "deep", dimension=DIM)
    index.upsert(
        vectors=[
            ("r1", [1.0, 0.0], {"genre": "drama"}),
            ("r2", [0.0, 1.0], {"genre": "comedy"}),
        ]
    )
    with httpx.Client(
        base_url=f"{local_server.url}/_index/deep",
        headers={"Api-Key": local_server.api_key, "Content-Type": "application/json"},
        timeout=60,
    ) as http:
        yield local_server, http


def _post(http: httpx.Client, path: str, body: str, **kw: Any) -> httpx.Response:
    return http.post(path, content=body.encode(), **kw)


def _query(flt: str) -> str:
    return '{"vector":[1,0],"topK":5,"filter":' + flt + "}"


def test_filter_nested_3000_deep_is_400_not_500(server: tuple[LocalServer, httpx.Client]) -> None:
    _, http = server
    r = _post(http, "/query", _query(nested_and(3000)))
    assert r.status_code == 400, r.text
    assert f"limit is {MAX_JSON_DEPTH}" in r.json()["message"]


def test_metadata_nested_5000_deep_is_400_not_500(
    server: tuple[LocalServer, httpx.Client],
) -> None:
    _, http = server
    body = '{"vectors":[{"id":"m","values":[1,0],"metadata":' + nested_metadata(5000) + "}]}"
    r = _post(http, "/vectors/upsert", body)
    assert r.status_code == 400, r.text
    assert f"limit is {MAX_JSON_DEPTH}" in r.json()["message"]
    assert "flat" in r.json()["message"]


@pytest.mark.parametrize("depth", [2, 500, 1000])
def test_nested_metadata_names_flatness(
    server: tuple[LocalServer, httpx.Client], depth: int
) -> None:
    """Metadata that parses but nests objects: Pinecone's rule (flat) is named."""
    _, http = server
    body = '{"vectors":[{"id":"m","values":[1,0],"metadata":' + nested_metadata(depth) + "}]}"
    r = _post(http, "/vectors/upsert", body)
    assert r.status_code == 400, r.text
    assert "metadata must be flat" in r.json()["message"]


@pytest.mark.parametrize("depth", [MAX_FILTER_DEPTH + 1, 300, 500])
def test_filter_deeper_than_the_limit_is_400_naming_it(
    server: tuple[LocalServer, httpx.Client], depth: int
) -> None:
    _, http = server
    flt = nested_and(depth)
    requests = [
        ("/query", _query(flt), {}),
        ("/vectors/delete", '{"filter":' + flt + "}", {}),
        ("/vectors/update", '{"filter":' + flt + ',"setMetadata":{"a":1}}', V2025_10),
        ("/vectors/fetch_by_metadata", '{"filter":' + flt + "}", V2025_10),
    ]
    for path, body, headers in requests:
        r = _post(http, path, body, headers=headers)
        assert r.status_code == 400, (path, r.text)
        assert f"the limit is {MAX_FILTER_DEPTH} levels" in r.json()["message"], path
    # nothing was deleted or changed by the refused requests
    r = _post(http, "/query", '{"vector":[1,0],"topK":5,"includeMetadata":true}')
    assert {m["id"]: m["metadata"] for m in r.json()["matches"]} == {
        "r1": {"genre": "drama"},
        "r2": {"genre": "comedy"},
    }


def test_filter_at_the_depth_limit_works(server: tuple[LocalServer, httpx.Client]) -> None:
    """MAX_FILTER_DEPTH levels are served and evaluated, on the inline and threaded paths."""
    srv, http = server
    flt = nested_and(MAX_FILTER_DEPTH)
    r = _post(http, "/query", _query(flt))
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()["matches"]] == ["r1"]
    r = _post(http, "/vectors/fetch_by_metadata", '{"filter":' + flt + "}", headers=V2025_10)
    assert r.status_code == 200, r.text
    assert set(r.json()["vectors"]) == {"r1"}
    r = _post(
        http,
        "/vectors/update",
        '{"filter":' + flt + ',"setMetadata":{"seen":true}}',
        headers=V2025_10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["matchedRecords"] == 1


def test_filter_operator_count_limit(server: tuple[LocalServer, httpx.Client]) -> None:
    _, http = server
    clause = '{"genre":{"$eq":"drama"}}'
    at_limit = '{"$or":[' + ",".join([clause] * (MAX_FILTER_OPERATORS - 1)) + "]}"
    r = _post(http, "/query", _query(at_limit))
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()["matches"]] == ["r1"]
    over = '{"$or":[' + ",".join([clause] * MAX_FILTER_OPERATORS) + "]}"
    r = _post(http, "/query", _query(over))
    assert r.status_code == 400, r.text
    assert f"the limit is {MAX_FILTER_OPERATORS}" in r.json()["message"]


def test_in_list_length_limit(server: tuple[LocalServer, httpx.Client]) -> None:
    _, http = server
    values = ",".join(f'"v{i}"' for i in range(MAX_IN_VALUES - 1))
    r = _post(http, "/query", _query('{"genre":{"$in":[' + values + ',"drama"]}}'))
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()["matches"]] == ["r1"]
    r = _post(http, "/query", _query('{"genre":{"$nin":[' + values + ',"a","b"]}}'))
    assert r.status_code == 400, r.text
    assert f"{MAX_IN_VALUES + 1} values; the limit is {MAX_IN_VALUES}" in r.json()["message"]


def test_deep_operand_gets_a_short_message(server: tuple[LocalServer, httpx.Client]) -> None:
    """An error message quoting a 900-deep operand stays short (repr alone would recurse)."""
    _, http = server
    deep = "[" * 900 + "]" * 900
    for flt in ('{"a":{"$eq":' + deep + "}}", '{"a":{"$gt":' + deep + "}}", '{"$or":' + deep + "}"):
        r = _post(http, "/query", _query(flt))
        assert r.status_code == 400, r.text
        assert len(r.json()["message"]) < 300


# -- gRPC: bytes that do not parse are INVALID_ARGUMENT, never INTERNAL ----------------------


def _raw_call(
    srv: LocalServer, method: str, payload: bytes, key: str | None = None
) -> grpc.RpcError:
    assert srv.grpc_target is not None
    with grpc.insecure_channel(srv.grpc_target) as channel:
        call = channel.unary_unary(f"/VectorService/{method}")
        metadata = [("api-key", key or srv.api_key), ("service-name", "deep")]
        with pytest.raises(grpc.RpcError) as info:
            call(payload, metadata=metadata, timeout=30)
    return info.value


def _grpc_filter(depth: int) -> bytes:
    req = pb.QueryRequest(top_k=1, vector=[1.0, 0.0])
    inner: Any = {"genre": {"$in": ["drama"]}}
    for _ in range(depth):
        inner = {"$and": [inner]}
    req.filter.update(inner)
    return req.SerializeToString()


def test_grpc_filter_too_deep_for_protobuf_is_invalid_argument(
    server: tuple[LocalServer, httpx.Client],
) -> None:
    srv, _ = server
    err = _raw_call(srv, "Query", _grpc_filter(40))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert "100 message levels" in str(err.details())


def test_grpc_deepest_parsable_filter_is_served(
    server: tuple[LocalServer, httpx.Client],
) -> None:
    srv, _ = server
    assert srv.grpc_target is not None
    with grpc.insecure_channel(srv.grpc_target) as channel:
        call = channel.unary_unary(
            "/VectorService/Query", response_deserializer=pb.QueryResponse.FromString
        )
        metadata = [("api-key", srv.api_key), ("service-name", "deep")]
        answer = call(_grpc_filter(18), metadata=metadata, timeout=30)
    assert [m.id for m in answer.matches] == ["r1"]


def test_grpc_invalid_utf8_id_is_invalid_argument(
    server: tuple[LocalServer, httpx.Client],
) -> None:
    srv, _ = server
    raw = pb.FetchRequest(ids=["r1"]).SerializeToString().replace(b"r1", b"\xff\xfe")
    err = _raw_call(srv, "Fetch", raw)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert "UTF-8" in str(err.details())


def test_grpc_garbage_bytes_are_invalid_argument(
    server: tuple[LocalServer, httpx.Client],
) -> None:
    srv, _ = server
    garbage = b"\x0a\xff\xff\xff\xff\x0f"
    for method in ("Upsert", "Query", "Fetch", "Delete", "DescribeIndexStats", "List"):
        err = _raw_call(srv, method, garbage)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, err.details())
