"""Metadata filter semantics, table-driven: the compiler directly, and the same table via the SDK."""

from __future__ import annotations

from typing import Any

import pytest
from pinecone import PineconeApiException

from tenant_rag.local import LocalServer
from tenant_rag.local.engine.errors import ApiError
from tenant_rag.local.engine.filters import compile_filter

RECORDS: dict[str, dict[str, Any]] = {
    "r1": {"genre": "drama", "year": 2019, "rating": 4.5, "tags": ["a", "b"], "live": True},
    "r2": {"genre": "comedy", "year": 2021, "rating": 3.0, "tags": ["b"], "live": False},
    "r3": {"genre": "drama", "year": 2021, "tags": ["c"]},
    "r4": {"genre": "action", "year": 1, "live": True},
    "r5": {},
}

# (filter, ids that match)
CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"genre": "drama"}, {"r1", "r3"}),
    ({"genre": {"$eq": "drama"}}, {"r1", "r3"}),
    ({"genre": {"$ne": "drama"}}, {"r2", "r4", "r5"}),
    ({"year": {"$gt": 2019}}, {"r2", "r3"}),
    ({"year": {"$gte": 2019}}, {"r1", "r2", "r3"}),
    ({"year": {"$lt": 2019}}, {"r4"}),
    ({"year": {"$lte": 2019}}, {"r1", "r4"}),
    ({"rating": {"$gte": 3, "$lt": 4.5}}, {"r2"}),
    ({"genre": {"$in": ["comedy", "action"]}}, {"r2", "r4"}),
    ({"genre": {"$nin": ["comedy", "action"]}}, {"r1", "r3", "r5"}),
    ({"tags": "b"}, {"r1", "r2"}),
    ({"tags": {"$in": ["a", "c"]}}, {"r1", "r3"}),
    ({"tags": {"$nin": ["b"]}}, {"r3", "r4", "r5"}),
    ({"tags": {"$ne": "b"}}, {"r3", "r4", "r5"}),
    ({"live": True}, {"r1", "r4"}),
    ({"live": {"$ne": True}}, {"r2", "r3", "r5"}),
    ({"year": True}, set()),  # booleans never equal numbers
    ({"year": 1}, {"r4"}),
    ({"year": 1.0}, {"r4"}),
    ({"rating": {"$exists": True}}, {"r1", "r2"}),
    ({"rating": {"$exists": False}}, {"r3", "r4", "r5"}),
    ({"$and": [{"genre": "drama"}, {"year": 2021}]}, {"r3"}),
    ({"$or": [{"genre": "comedy"}, {"year": {"$lt": 2000}}]}, {"r2", "r4"}),
    ({"genre": "drama", "year": 2019}, {"r1"}),  # implicit $and
    ({"$or": [{"$and": [{"live": True}, {"year": {"$gt": 2000}}]}, {"tags": "c"}]}, {"r1", "r3"}),
    ({"missing": {"$gt": 0}}, set()),
    # strings-only $in/$nin (answered by set lookups) keep types apart like the rest
    ({"live": {"$in": ["True", "true"]}}, set()),
    ({"year": {"$in": ["2019", "1"]}}, set()),
    ({"genre": {"$in": ["drama", 1]}}, {"r1", "r3"}),
    ({"tags": {"$nin": ["a", "c"]}}, {"r2", "r4", "r5"}),
    ({"$or": [{"tags": {"$exists": False}}, {"tags": {"$in": ["c", "zz"]}}]}, {"r3", "r4", "r5"}),
]

BAD: list[tuple[Any, str]] = [
    ({"genre": {"$regex": "d.*"}}, "$regex"),
    ({"$not": {"genre": "drama"}}, "$not"),
    ({"year": {"$gt": "2019"}}, "$gt"),
    ({"genre": {"$in": "drama"}}, "$in"),
    ({"genre": {"$exists": 1}}, "$exists"),
    ({"$and": {"genre": "drama"}}, "$and"),
    ({"$or": []}, "$or"),
    ({"genre": None}, "$eq"),
    ({"genre": {"$eq": {"x": 1}}}, "$eq"),
    ({"genre": {}}, "empty"),
    ("genre", "object"),
]


@pytest.mark.parametrize(("flt", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_compiled_filter(flt: dict[str, Any], expected: set[str]) -> None:
    predicate = compile_filter(flt)
    assert predicate is not None
    assert {rid for rid, md in RECORDS.items() if predicate(md)} == expected


@pytest.mark.parametrize(("flt", "fragment"), BAD, ids=[str(b[0]) for b in BAD])
def test_bad_filter_is_400_naming_the_problem(flt: Any, fragment: str) -> None:
    with pytest.raises(ApiError) as info:
        compile_filter(flt)
    assert info.value.status == 400
    assert fragment in info.value.message


def test_empty_filter_means_no_filter() -> None:
    assert compile_filter(None) is None
    assert compile_filter({}) is None


def test_same_table_through_the_sdk(shared_local_server: LocalServer) -> None:
    pc = shared_local_server.client()
    pc.create_index(
        name="filter-table",
        dimension=2,
        metric="cosine",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
        timeout=-1,
    )
    index = pc.Index(name="filter-table")
    index.upsert(
        vectors=[
            {"id": rid, "values": [1.0, 0.5], **({"metadata": md} if md else {})}
            for rid, md in RECORDS.items()
        ],
        namespace="f",
    )
    for flt, expected in CASES:
        res = index.query(vector=[1.0, 0.5], top_k=10, filter=flt, namespace="f")
        assert {m.id for m in res.matches} == expected, flt
    with pytest.raises(PineconeApiException) as info:
        index.query(vector=[1.0, 0.5], top_k=10, filter={"genre": {"$regex": "x"}}, namespace="f")
    assert info.value.status == 400
    assert "$regex" in info.value.body


def test_a_repeated_filter_sees_every_write(shared_local_server: LocalServer) -> None:
    """The server remembers a filter's rows between queries; each write must make it forget."""
    pc = shared_local_server.client()
    pc.create_index(
        name="filter-cache",
        dimension=2,
        metric="cosine",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
        timeout=-1,
    )
    index = pc.Index(name="filter-cache")
    flt = {"$or": [{"acl": {"$exists": False}}, {"acl": {"$in": ["tenant", "user:u1"]}}]}

    def seen() -> set[str]:
        res = index.query(vector=[1.0, 0.5], top_k=50, filter=flt, namespace="c")
        return {m.id for m in res.matches}

    index.upsert(
        vectors=[
            {"id": "open", "values": [1.0, 0.5]},
            {"id": "mine", "values": [1.0, 0.4], "metadata": {"acl": ["user:u1"]}},
            {"id": "hr", "values": [1.0, 0.3], "metadata": {"acl": ["group:hr"]}},
        ],
        namespace="c",
    )
    assert seen() == seen() == {"open", "mine"}
    index.update(id="hr", set_metadata={"acl": ["tenant"]}, namespace="c")
    assert seen() == {"open", "mine", "hr"}
    index.upsert(vectors=[{"id": "mine", "values": [1.0, 0.4], "metadata": {"acl": ["x"]}}],
                 namespace="c")  # fmt: skip
    assert seen() == {"open", "hr"}
    index.delete(ids=["open"], namespace="c")
    assert seen() == {"hr"}
    index.upsert(
        vectors=[{"id": f"n{i}", "values": [1.0, i / 40]} for i in range(30)], namespace="c"
    )
    assert seen() == {"hr", *(f"n{i}" for i in range(30))}
    index.delete(filter={"acl": {"$in": ["tenant"]}}, namespace="c")
    assert seen() == {f"n{i}" for i in range(30)}
