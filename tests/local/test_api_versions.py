"""The REST API serves each Pinecone API version by the ``X-Pinecone-API-Version`` header.

Raw HTTP, so each test fixes the exact header and reads the exact JSON a client of
that version gets; the SDKs of each version run against the server in
``tests/compat`` (the conformance script).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tenant_rag.local import LocalServer
from tenant_rag.local.api.versions import DEFAULT, SUPPORTED

SPEC = {"serverless": {"cloud": "aws", "region": "us-east-1"}}


class Client:
    """httpx against one server, speaking one API version (None: no header)."""

    def __init__(
        self, srv: LocalServer, version: str | None, header: str = "X-Pinecone-API-Version"
    ):
        self.srv = srv
        self.headers = {"Api-Key": srv.client_key}
        if version is not None:
            self.headers[header] = version

    def __call__(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.srv.url + path, headers=self.headers, **kw)

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = self(method, path, **kw)
        assert r.status_code < 300, (r.status_code, r.text)
        return r.json() if r.content else None


def test_supported_versions_and_default() -> None:
    """Pinecone's docs: a request without the header gets the oldest supported stable
    version (docs.pinecone.io/reference/api/versioning)."""
    assert SUPPORTED == ("2025-04", "2025-10", "2026-07")
    assert DEFAULT.name == "2025-04"


def test_no_header_is_served_as_2025_04(local_server: LocalServer) -> None:
    bare, v04 = Client(local_server, None), Client(local_server, "2025-04")
    bare.ok("POST", "/indexes", json={"name": "d", "dimension": 2, "spec": SPEC})
    assert bare.ok("GET", "/indexes/d") == v04.ok("GET", "/indexes/d")
    assert "read_capacity" not in bare.ok("GET", "/indexes/d")["spec"]["serverless"]
    bare.ok("POST", "/_index/d/vectors/upsert", json={"vectors": [{"id": "a", "values": [1, 0]}]})
    assert bare.ok("POST", "/_index/d/describe_index_stats", json={})["namespaces"] == {
        "": {"vectorCount": 1}
    }


@pytest.mark.parametrize(
    "header", ["X-Pinecone-API-Version", "X-Pinecone-Api-Version", "x-pinecone-api-version"]
)
def test_header_name_is_case_insensitive(local_server: LocalServer, header: str) -> None:
    client = Client(local_server, "2025-10", header)
    client.ok("POST", "/indexes", json={"name": "ci", "dimension": 2, "spec": SPEC})
    assert (
        client.ok("GET", "/indexes/ci")["spec"]["serverless"]["read_capacity"]["mode"] == "OnDemand"
    )


@pytest.mark.parametrize("version", ["2024-07", "2026-04", "latest", ""])
def test_unknown_version_is_400_naming_the_supported_ones(
    local_server: LocalServer, version: str
) -> None:
    client = Client(local_server, version)
    control = client("GET", "/indexes")
    assert control.status_code == 400
    message = control.json()["error"]["message"]
    assert all(v in message for v in SUPPORTED), message
    data = client("POST", "/_index/any/query", json={"topK": 1, "vector": [1.0]})
    assert data.status_code == 400
    assert data.json()["code"] == 3 and "2025-10" in data.json()["message"]


def test_2025_10_features_are_refused_under_2025_04(local_server: LocalServer) -> None:
    v04 = Client(local_server, "2025-04")
    v04.ok("POST", "/indexes", json={"name": "old", "dimension": 2, "spec": SPEC})
    for method, path, body in [
        ("POST", "/_index/old/vectors/fetch_by_metadata", {"filter": {"a": 1}}),
        ("POST", "/_index/old/namespaces", {"name": "n"}),
        ("POST", "/_index/old/vectors/update", {"filter": {"a": 1}, "setMetadata": {"b": 2}}),
    ]:
        r = v04(method, path, json=body)
        assert r.status_code == 404, (path, r.text)
        assert "2025-10" in r.json()["message"]


def test_2025_10_namespaces_api(local_server: LocalServer) -> None:
    """2025-10: create_namespace (409 on a duplicate, "__default__" reserved), listing
    with prefix and total_count, record_count as Pinecone's gateway writes int64 (a
    string; SDK 10.2.0 decodes it leniently for that reason, 8.1.2's test allows "0")."""
    c = Client(local_server, "2025-10")
    c.ok("POST", "/indexes", json={"name": "ns", "dimension": 2, "spec": SPEC})
    created = c.ok("POST", "/_index/ns/namespaces", json={"name": "fresh"})
    assert created == {"name": "fresh", "record_count": "0"}
    assert c("POST", "/_index/ns/namespaces", json={"name": "fresh"}).status_code == 409
    assert c("POST", "/_index/ns/namespaces", json={"name": "__default__"}).status_code == 400
    c.ok(
        "POST",
        "/_index/ns/vectors/upsert",
        json={"vectors": [{"id": "a", "values": [1, 0]}], "namespace": "full"},
    )
    listed = c.ok("GET", "/_index/ns/namespaces")
    assert listed["namespaces"] == [
        {"name": "fresh", "record_count": "0"},
        {"name": "full", "record_count": "1"},
    ]
    assert listed["total_count"] == 2 and "pagination" not in listed
    assert c.ok("GET", "/_index/ns/namespaces", params={"prefix": "fu"})["total_count"] == 1
    assert c.ok("GET", "/_index/ns/namespaces/fresh") == {"name": "fresh", "record_count": "0"}
    c.ok("DELETE", "/_index/ns/namespaces/fresh")
    assert c("GET", "/_index/ns/namespaces/fresh").status_code == 404


def test_2025_10_fetch_by_metadata_pages_and_update_by_filter(local_server: LocalServer) -> None:
    c = Client(local_server, "2025-10")
    c.ok("POST", "/indexes", json={"name": "fm", "dimension": 2, "spec": SPEC})
    vectors = [
        {"id": f"r{i:02d}", "values": [1, i], "metadata": {"even": i % 2 == 0}} for i in range(25)
    ]
    c.ok("POST", "/_index/fm/vectors/upsert", json={"vectors": vectors, "namespace": "t"})
    seen: list[str] = []
    token = None
    while True:
        body: dict[str, Any] = {"filter": {"even": True}, "namespace": "t", "limit": 5}
        if token:
            body["paginationToken"] = token
        page = c.ok("POST", "/_index/fm/vectors/fetch_by_metadata", json=body)
        seen += list(page["vectors"])
        if "pagination" not in page:
            break
        token = page["pagination"]["next"]
    assert seen == [f"r{i:02d}" for i in range(0, 25, 2)]
    empty = c("POST", "/_index/fm/vectors/fetch_by_metadata", json={"filter": {}, "namespace": "t"})
    assert "Empty filter provided for fetch by metadata request" in empty.json()["message"]

    dry = c.ok(
        "POST",
        "/_index/fm/vectors/update",
        json={
            "filter": {"even": False},
            "setMetadata": {"odd": True},
            "namespace": "t",
            "dryRun": True,
        },
    )
    assert dry == {"matchedRecords": 12}
    fetched = c.ok("GET", "/_index/fm/vectors/fetch", params={"ids": "r01", "namespace": "t"})
    assert fetched["vectors"]["r01"]["metadata"] == {"even": False}  # dry run wrote nothing
    done = c(
        "POST",
        "/_index/fm/vectors/update",
        json={"filter": {"even": False}, "setMetadata": {"odd": True}, "namespace": "t"},
    )
    assert done.json() == {"matchedRecords": 12} and "x-pinecone-request-lsn" in done.headers
    fetched = c.ok(
        "GET", "/_index/fm/vectors/fetch", params={"ids": ["r01", "r02"], "namespace": "t"}
    )
    assert fetched["vectors"]["r01"]["metadata"] == {"even": False, "odd": True}
    assert fetched["vectors"]["r02"]["metadata"] == {"even": True}
    by_id = c.ok(
        "POST",
        "/_index/fm/vectors/update",
        json={"id": "r02", "setMetadata": {"x": 1}, "namespace": "t"},
    )
    assert by_id == {}  # an update by id reports no count


def test_2025_10_stats_key_default_namespace_by_name(local_server: LocalServer) -> None:
    c = Client(local_server, "2025-10")
    c.ok("POST", "/indexes", json={"name": "st", "dimension": 2, "spec": SPEC})
    c.ok("POST", "/_index/st/vectors/upsert", json={"vectors": [{"id": "a", "values": [1, 0]}]})
    assert c.ok("POST", "/_index/st/describe_index_stats", json={})["namespaces"] == {
        "__default__": {"vectorCount": 1}
    }


def test_2026_07_schema_index_model_and_cross_version_use(local_server: LocalServer) -> None:
    """2026-07's IndexModel; SDK 10.2.0 translates legacy create_index sugar into the
    reserved ``_values`` schema. An index made under one version is described and used
    under the others (a dense classic index reports ``_values`` and ``_sparse_values``,
    per the 2026-07 spec's IndexSchema)."""
    v26, v04 = Client(local_server, "2026-07"), Client(local_server, "2025-04")
    made = v26(
        "POST",
        "/indexes",
        json={
            "name": "sch",
            "schema": {
                "fields": {
                    "_values": {"type": "dense_vector", "dimension": 3, "metric": "dotproduct"}
                }
            },
            "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
        },
    )
    assert made.status_code == 201, made.text
    model = made.json()
    assert model["schema"]["fields"]["_values"] == {
        "type": "dense_vector",
        "dimension": 3,
        "metric": "dotproduct",
        "description": None,
    }
    assert model["schema"]["fields"]["_sparse_values"]["type"] == "sparse_vector"
    assert model["deployment"] == {
        "deployment_type": "managed",
        "cloud": "aws",
        "region": "us-east-1",
    }
    assert model["read_capacity"] == {"mode": "OnDemand", "status": {"state": "Ready"}}
    assert model["status"] == {"ready": True, "state": "Ready"} and model["tags"] is None
    assert model["host"].endswith("/_index/sch") and model["deletion_protection"] == "disabled"
    old = v04.ok("GET", "/indexes/sch")
    assert (old["dimension"], old["metric"], old["vector_type"]) == (3, "dotproduct", "dense")
    v04.ok(
        "POST", "/_index/sch/vectors/upsert", json={"vectors": [{"id": "a", "values": [1, 2, 3]}]}
    )
    hits = v26.ok("POST", "/_index/sch/query", json={"vector": [1, 0, 0], "topK": 1})
    assert [m["id"] for m in hits["matches"]] == ["a"]

    v04.ok(
        "POST",
        "/indexes",
        json={"name": "legacy", "metric": "dotproduct", "vector_type": "sparse", "spec": SPEC},
    )
    assert v26.ok("GET", "/indexes/legacy")["schema"]["fields"] == {
        "_sparse_values": {"type": "sparse_vector", "description": None}
    }
    names = [i["name"] for i in v26.ok("GET", "/indexes")["indexes"]]
    assert names == ["sch", "legacy"]


def test_2026_07_create_configure_and_refusals(local_server: LocalServer) -> None:
    v26 = Client(local_server, "2026-07")
    nameless = v26.ok(
        "POST",
        "/indexes",
        json={
            "schema": {
                "fields": {"_values": {"type": "dense_vector", "dimension": 2, "metric": "cosine"}}
            }
        },
    )
    assert nameless["name"].startswith("index-")  # 2026-07 generates a name
    assert nameless["deployment"]["region"] == "us-east-1"  # the default deployment
    configured = v26.ok(
        "PATCH",
        f"/indexes/{nameless['name']}",
        json={"deletion_protection": "enabled", "tags": {"team": "x"}},
    )
    assert configured["deletion_protection"] == "enabled" and configured["tags"] == {"team": "x"}
    refused = v26("DELETE", f"/indexes/{nameless['name']}")
    assert refused.status_code == 403
    assert "Deletion protection is enabled for this index" in refused.json()["error"]["message"]

    empty = v26("POST", "/indexes", json={"name": "e", "schema": {"fields": {}}})
    assert empty.status_code == 400
    assert "Schema must contain at least one of the following field types" in empty.text
    legacy = v26(
        "POST", "/indexes", json={"name": "l", "dimension": 2, "metric": "cosine", "spec": SPEC}
    )
    assert legacy.status_code == 400 and "schema" in legacy.json()["error"]["message"]
    mixed = v26(
        "POST",
        "/indexes",
        json={
            "name": "m",
            "schema": {
                "fields": {
                    "_values": {"type": "dense_vector", "dimension": 2, "metric": "cosine"},
                    "title": {"type": "sparse_vector"},
                }
            },
        },
    )
    assert mixed.status_code == 400 and "reserved" in mixed.text
    fts = v26(
        "POST",
        "/indexes",
        json={
            "name": "f",
            "schema": {
                "fields": {"body": {"type": "string", "full_text_search": {"language": "en"}}}
            },
        },
    )
    assert fts.status_code == 501 and "dense_vector and sparse_vector" in fts.text
    dedicated = v26(
        "POST",
        "/indexes",
        json={
            "name": "d",
            "read_capacity": {"mode": "Dedicated"},
            "schema": {
                "fields": {"_values": {"type": "dense_vector", "dimension": 2, "metric": "cosine"}}
            },
        },
    )
    assert dedicated.status_code == 400 and "OnDemand" in dedicated.text


def test_2026_07_document_index_is_described_and_its_documents_api_is_501(
    local_server: LocalServer,
) -> None:
    v26, v10 = Client(local_server, "2026-07"), Client(local_server, "2025-10")
    fields = {
        "embedding": {
            "type": "dense_vector",
            "dimension": 4,
            "metric": "cosine",
            "description": "body text",
        }
    }
    model = v26.ok("POST", "/indexes", json={"name": "docs", "schema": {"fields": fields}})
    assert model["schema"]["fields"] == fields
    assert v10.ok("GET", "/indexes/docs")["dimension"] == 4
    docs = v26("POST", "/_index/docs/namespaces/n/documents/upsert", json={"documents": []})
    assert docs.status_code == 501 and "Documents API" in docs.json()["message"]
    vectors = v26(
        "POST",
        "/_index/docs/vectors/upsert",
        json={"vectors": [{"id": "a", "values": [1, 0, 0, 0]}]},
    )
    assert vectors.status_code == 400 and "document index" in vectors.json()["message"]
    stats = v26.ok("POST", "/_index/docs/describe_index_stats", json={})
    assert stats["totalVectorCount"] == 0 and stats["dimension"] == 4  # stats serve every index
    v26.ok("DELETE", "/indexes/docs")


def test_2025_10_namespace_schema_is_kept_and_filterable_false_refused(
    local_server: LocalServer,
) -> None:
    """2025-10 spec: create_namespace takes a metadata ``schema`` of ``filterable: true``
    fields, described back; ``filterable: false`` is refused in Pinecone's words (quoted by
    SDK 10.2.0's validation). Every metadata field stays filterable here."""
    c = Client(local_server, "2025-10")
    c.ok("POST", "/indexes", json={"name": "nsch", "dimension": 2, "spec": SPEC})
    schema = {"fields": {"genre": {"filterable": True}}}
    assert c.ok("POST", "/_index/nsch/namespaces", json={"name": "s", "schema": schema}) == {
        "name": "s",
        "record_count": "0",
        "schema": schema,
    }
    assert c.ok("GET", "/_index/nsch/namespaces/s")["schema"] == schema
    assert c.ok("GET", "/_index/nsch/namespaces")["namespaces"][0]["schema"] == schema
    bad = c(
        "POST",
        "/_index/nsch/namespaces",
        json={"name": "b", "schema": {"fields": {"year": {"filterable": False}}}},
    )
    assert bad.status_code == 400
    assert "Only filterable: true is supported" in bad.json()["message"]
    assert "schema" not in Client(local_server, "2025-04").ok("GET", "/_index/nsch/namespaces/s")
