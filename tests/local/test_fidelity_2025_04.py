"""API 2025-04 (pinecone 7.3.0, the SDK tenant_rag pins) answers as Pinecone does.

Each test names the Pinecone behaviour it pins and where that behaviour is
recorded (Pinecone's own SDK integration tests, its specs, its docs). Where
the server adds advice, Pinecone's sentence comes first, so code matching on
Pinecone's wording keeps working.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pinecone import PineconeApiException, SparseValues
from pinecone.exceptions import ForbiddenException, PineconeException

from tenant_rag.local import LocalServer, start

from .helpers import SPEC, make_index


@pytest.fixture
def pc(local_server: LocalServer) -> Any:
    return local_server.client()


def _raw(srv: LocalServer, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, srv.url + path, headers={"Api-Key": srv.client_key}, **kw)


def test_absent_metadata_is_absent_not_empty(pc: Any, local_server: LocalServer) -> None:
    """Pinecone leaves ``metadata`` out of a record that has none and of a match queried
    without include_metadata; the SDK then shows None (7.3.0 integration tests
    ``test_fetch_multiple_by_id``: ``results.vectors["1"].metadata is None``)."""
    index = make_index(pc, "md", dimension=2)
    index.upsert(vectors=[("bare", [1.0, 0.0])], namespace="t")
    index.upsert(vectors=[("rich", [0.0, 1.0], {"genre": "action"})], namespace="t")
    fetched = index.fetch(ids=["bare", "rich"], namespace="t")
    assert fetched.vectors["bare"].metadata is None
    assert fetched.vectors["rich"].metadata == {"genre": "action"}
    plain = index.query(vector=[1.0, 1.0], top_k=2, namespace="t")
    assert [m.metadata for m in plain.matches] == [None, None]
    with_md = index.query(vector=[1.0, 0.0], top_k=2, namespace="t", include_metadata=True)
    assert {m.id: m.metadata for m in with_md.matches} == {
        "bare": None,
        "rich": {"genre": "action"},
    }
    raw = _raw(
        local_server,
        "POST",
        "/_index/md/query",
        json={"vector": [1.0, 0.0], "topK": 2, "namespace": "t", "includeMetadata": True},
    ).json()
    assert [("metadata" in m) for m in raw["matches"]] == [False, True]


def test_default_namespace_reads_back_as_empty_string(pc: Any) -> None:
    """API 2025-04 answers the default namespace as ``""`` in fetch, query and list
    responses and keys it ``""`` in describe_index_stats (7.3.0 integration tests
    ``test_fetch_unspecified_namespace``; FACTS.md, corrected 2026-11-30)."""
    index = make_index(pc, "dflt", dimension=2)
    index.upsert(vectors=[("a", [1.0, 0.0])])
    assert index.fetch(ids=["a"]).namespace == ""
    assert index.query(vector=[1.0, 0.0], top_k=1).namespace == ""
    assert index.list_paginated().namespace == ""
    assert index.fetch(ids=["a"], namespace="").namespace == ""
    assert dict(index.describe_index_stats().namespaces).keys() == {""}
    # "__default__" stays accepted as input and names the same namespace
    assert list(index.fetch(ids=["a"], namespace="__default__").vectors) == ["a"]


def test_empty_upsert_is_invalid_request(pc: Any) -> None:
    """``upsert(vectors=[])``: Pinecone answers 400 ``Invalid request`` (8.1.2 integration
    test ``test_upsert_fails_when_vectors_empty``, asyncio variant)."""
    index = make_index(pc, "empty", dimension=2)
    with pytest.raises(PineconeApiException) as info:
        index.upsert(vectors=[])
    assert info.value.status == 400
    assert "Invalid request" in str(info.value)


def test_fetch_without_ids_names_ids(pc: Any, local_server: LocalServer) -> None:
    """``fetch(ids=[])`` fails with a message naming ``ids`` (7.3.0 and 8.1.2 integration
    tests ``test_fetch_with_empty_list_of_ids``)."""
    index = make_index(pc, "noids", dimension=2)
    with pytest.raises(PineconeException) as info:
        index.fetch(ids=[], namespace="t")
    assert "ids" in str(info.value).lower()
    raw = _raw(local_server, "GET", "/_index/noids/vectors/fetch", params={"namespace": "t"})
    assert raw.status_code == 400 and "ids" in raw.json()["message"]  # the server says it too


def test_wrong_api_key_data_plane_403_control_plane_401(tmp_path: Any) -> None:
    """Data plane: 403 with ``Wrong API key`` (8.1.2 integration test
    ``test_unauthorized_requests_rejected`` expects ``ForbiddenException``); control
    plane: 401 ``Invalid API key.`` (the 2025-04/2025-10 specs' example)."""
    from pinecone import Pinecone

    with start(tmp_path, api_key="right-key") as srv:
        make_index(srv.client(), "keyed", dimension=2)
        host = srv.client().describe_index("keyed").host
        bad = Pinecone(api_key="invalid_key", host=srv.url)
        with pytest.raises(ForbiddenException) as info:
            bad.Index(host=host).describe_index_stats()
        assert "Wrong API key" in str(info.value)
        r = httpx.get(srv.url + "/indexes", headers={"Api-Key": "invalid_key"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "UNAUTHENTICATED"
        assert r.json()["error"]["message"].startswith("Invalid API key.")
        assert "right-key" not in r.text


def test_tags_absent_on_an_untagged_index(pc: Any, local_server: LocalServer) -> None:
    """SDK 7.3.0 sends ``"tags": {}`` when no tags are given; Pinecone then describes the
    index without tags (SDK 10.2.0's IndexModel: "None if no tags are set")."""
    pc.create_index(name="untagged", dimension=2, metric="cosine", spec=SPEC, timeout=-1)
    assert pc.describe_index("untagged").tags is None
    assert "tags" not in _raw(local_server, "GET", "/indexes/untagged").json()
    pc.create_index(name="tagged", dimension=2, metric="cosine", spec=SPEC, tags={"a": "1"})
    assert pc.describe_index("tagged").tags.to_dict() == {"a": "1"}


def test_pinecone_error_texts_come_first(pc: Any, local_server: LocalServer) -> None:
    """Pinecone's own sentences, which users and Pinecone's tests match on (8.1.2
    integration tests: test_deletion_protection, test_sparse_index, test_query,
    test_query_sparse); our advice follows them."""
    pc.create_index(
        name="guarded", dimension=2, metric="cosine", spec=SPEC, deletion_protection="enabled"
    )
    with pytest.raises(PineconeApiException) as info:
        pc.delete_index("guarded", timeout=-1)
    assert info.value.status == 403
    assert "Deletion protection is enabled for this index" in str(info.value)

    with pytest.raises(PineconeApiException) as info:
        pc.create_index(name="sp", metric="cosine", spec=SPEC, vector_type="sparse")
    assert "Sparse vector indexes must use the metric dotproduct" in str(info.value)
    body = {"name": "sp", "dimension": 2, "metric": "dotproduct", "vector_type": "sparse"}
    r = _raw(local_server, "POST", "/indexes", json={**body, "spec": SPEC.asdict()})
    assert r.status_code == 400  # the SDK refuses this one itself, with the same words
    assert "dimension should not be specified for sparse indexes" in r.json()["error"]["message"]

    dense = make_index(pc, "dense", dimension=2)
    with pytest.raises(PineconeApiException) as info:
        dense.query(top_k=1, sparse_vector={"indices": [0, 1], "values": [0.5, 0.5]})
    assert "Cannot query index with dense 'vector_type' with only sparse vector" in str(info.value)

    pc.create_index(name="sparse", metric="dotproduct", spec=SPEC, vector_type="sparse")
    sparse = pc.Index(name="sparse")
    sparse.upsert(vectors=[{"id": "1", "sparse_values": {"indices": [1], "values": [0.5]}}])
    with pytest.raises(PineconeApiException) as info:
        sparse.query(top_k=1, id="1", sparse_vector=SparseValues(indices=[1], values=[0.5]))
    assert "Cannot provide both 'ID' and 'sparse_vector' at the same time" in str(info.value)
    with pytest.raises(PineconeApiException) as info:
        sparse.query(top_k=1, vector=[0.5, 0.5])
    assert "Either 'sparse_vector' or 'ID' must be provided" in str(info.value)
    with pytest.raises(PineconeApiException) as info:
        sparse.query(
            top_k=1, vector=[0.5, 0.5], sparse_vector=SparseValues(indices=[1], values=[0.5])
        )
    assert "Index configuration does not support dense values" in str(info.value)


def test_lsn_headers_on_writes_and_queries(pc: Any, local_server: LocalServer) -> None:
    """Pinecone answers writes with ``x-pinecone-request-lsn`` and queries with
    ``x-pinecone-max-indexed-lsn``; its integration tests poll until the second reaches
    the first (pinecone 8.1.2 tests/integration/helpers/lsn_utils.py)."""
    make_index(pc, "lsn", dimension=2)
    up = _raw(
        local_server,
        "POST",
        "/_index/lsn/vectors/upsert",
        json={"vectors": [{"id": "a", "values": [1.0, 0.0]}], "namespace": "t"},
    )
    first = int(up.headers["x-pinecone-request-lsn"])
    upd = _raw(
        local_server,
        "POST",
        "/_index/lsn/vectors/update",
        json={"id": "a", "setMetadata": {"k": 1}, "namespace": "t"},
    )
    second = int(upd.headers["x-pinecone-request-lsn"])
    assert second > first
    q = _raw(
        local_server,
        "POST",
        "/_index/lsn/query",
        json={"vector": [1.0, 0.0], "topK": 1, "namespace": "t", "includeMetadata": True},
    )
    assert int(q.headers["x-pinecone-max-indexed-lsn"]) >= second
    assert q.json()["matches"][0]["metadata"] == {"k": 1}  # what the LSN promises is there
    gone = _raw(
        local_server, "POST", "/_index/lsn/vectors/delete", json={"ids": ["a"], "namespace": "t"}
    )
    assert int(gone.headers["x-pinecone-request-lsn"]) > second


def test_invalid_record_ids_get_pinecones_sentences(pc: Any) -> None:
    """7.x integration tests ``test_weird_invalid_ids`` / ``test_null_character`` match on
    ``Vector ID must be ASCII`` and ``Vector ID must not contain null character``."""
    index = make_index(pc, "weird", dimension=2)
    for bad, sentence in [
        ("田中", "Vector ID must be ASCII"),
        ("\u00a0", "Vector ID must be ASCII"),
        ("\0", "Vector ID must not contain null character"),
    ]:
        with pytest.raises(PineconeApiException) as info:
            index.upsert(vectors=[(bad, [0.1, 0.1])], namespace="w")
        assert sentence in str(info.value)
    weird = ["'", '"', "\\", "<script>alert(0)</script>", " ", "\t", "%s", "null"]
    index.upsert(vectors=[(w, [0.1, 0.2]) for w in weird], namespace="w")  # all valid ASCII
    assert sorted(index.fetch(ids=weird, namespace="w").vectors) == sorted(weird)


def test_sparse_values_on_a_cosine_index_are_stored(pc: Any) -> None:
    """Pinecone accepts sparse values on a dense non-dotproduct index (8.1.2 integration test
    ``test_upsert_from_dataframe`` upserts them into a cosine index); only dotproduct scores
    them, so a cosine query ranks by the dense values alone."""
    index = make_index(pc, "cos", dimension=2)
    index.upsert(
        vectors=[
            {"id": "a", "values": [1.0, 0.0], "sparse_values": {"indices": [1], "values": [9.0]}},
            {"id": "b", "values": [0.0, 1.0]},
        ],
        namespace="t",
    )
    got = index.fetch(ids=["a"], namespace="t").vectors["a"]
    assert got.sparse_values.indices == [1]
    res = index.query(
        vector=[1.0, 0.0],
        sparse_vector={"indices": [1], "values": [1.0]},
        top_k=2,
        namespace="t",
    )
    assert [m.id for m in res.matches] == ["a", "b"]
    assert res.matches[0].score == pytest.approx(1.0, abs=1e-6)  # cosine, no sparse term


def test_unimplemented_pinecone_features_say_501_and_what_is_served(
    local_server: LocalServer,
) -> None:
    """Integrated embedding is a Pinecone feature the local server does not have: a clear
    501, never a 404/405 that reads like a wrong URL. A sparse pod index gets Pinecone's
    sentence (8.1.2 test ``test_pod_index_does_not_support_sparse_vectors``)."""
    r = _raw(local_server, "POST", "/indexes/create-for-model", json={"name": "m"})
    assert r.status_code == 501 and "dimension" in r.json()["error"]["message"]
    r = _raw(
        local_server,
        "POST",
        "/indexes",
        json={"name": "p", "metric": "dotproduct", "vector_type": "sparse", "spec": {"pod": {}}},
    )
    assert "Sparse vector type is not supported for pod indexes" in r.json()["error"]["message"]


def test_unknown_routes_answer_in_pinecones_error_shape(local_server: LocalServer) -> None:
    """A wrong path or method gets Pinecone's error body for its plane (ErrorResponse on the
    control plane, RpcStatus on an index), not the web framework's ``{"detail": ...}``;
    bulk imports, which the local server lacks, are a 501 saying what to do instead."""
    control = _raw(local_server, "GET", "/no-such-route")
    assert control.status_code == 404 and control.json()["error"]["code"] == "NOT_FOUND"
    data = _raw(local_server, "POST", "/_index/any/no-such-route", json={})
    assert data.status_code == 404 and data.json()["code"] == 5
    imports = _raw(local_server, "POST", "/_index/any/bulk/imports", json={"uri": "s3://b/p"})
    assert imports.status_code == 501 and "upsert" in imports.json()["message"]
