"""Filters evaluated on metadata columns (big namespaces) select exactly the rows the
row-by-row check selects, for any metadata, any filter and any writes after the columns
were built (overwrites, swap-removes, growth and shrinking)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_rag.local.engine import matrix as matrix_mod
from tenant_rag.local.engine.filters import compile_filter
from tenant_rag.local.engine.matrix import NamespaceMatrix

FIELDS = ["a", "b", "c"]
STRINGS = st.sampled_from(["x", "y", "z", ""])
NUMBERS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0, 2**53, 2**53 + 1, 10**20]),
)
SCALARS = st.one_of(STRINGS, NUMBERS, st.booleans())
VALUES = st.one_of(SCALARS, st.lists(STRINGS, max_size=3))
METADATA = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=3)


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    field = st.sampled_from(FIELDS)
    ops = st.one_of(
        st.tuples(st.sampled_from(["$eq", "$ne"]), SCALARS),
        st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(SCALARS, min_size=1, max_size=3)),
        st.tuples(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), NUMBERS),
        st.tuples(st.just("$exists"), st.booleans()),
    )
    return st.builds(lambda f, o: {f: {o[0]: o[1]}}, field, ops) | st.builds(
        lambda f, v: {f: v}, field, SCALARS
    )


FILTERS = st.recursive(
    _leaf(),
    lambda inner: (
        st.builds(
            lambda op, subs: {op: subs},
            st.sampled_from(["$and", "$or"]),
            st.lists(inner, min_size=1, max_size=3),
        )
        | st.builds(lambda x, y: {**x, **{k: v for k, v in y.items() if k not in x}}, inner, inner)
    ),
    max_leaves=6,
)

WRITES = st.lists(
    st.tuples(st.sampled_from(["set", "remove"]), st.integers(0, 40), METADATA), max_size=60
)


def _expected(mat: NamespaceMatrix, flt: dict[str, Any]) -> list[str]:
    predicate = compile_filter(flt)
    assert predicate is not None
    return sorted(
        rid
        for rid, meta in zip(mat.ids, mat.meta, strict=True)
        if predicate(json.loads(meta or "{}"))
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(METADATA, min_size=0, max_size=40),
    flt=FILTERS,
    writes=WRITES,
    flt2=FILTERS,
)
def test_columns_select_what_the_row_check_selects(
    monkeypatch_columns: None,
    rows: list[dict[str, Any]],
    flt: dict[str, Any],
    writes: list[tuple[str, int, dict[str, Any]]],
    flt2: dict[str, Any],
) -> None:
    mat = NamespaceMatrix(1)
    one = np.ones(1, dtype=np.float32)
    for i, md in enumerate(rows):
        mat.set(f"r{i}", one, None, json.dumps(md) if md else None)
    predicate = compile_filter(flt)
    assert predicate is not None
    got = sorted(mat.ids[int(r)] for r in mat.matching_rows(predicate))
    assert got == _expected(mat, flt)
    for op, key, md in writes:  # columns now exist for flt's fields: they must follow writes
        if op == "set":
            mat.set(f"r{key}", one, None, json.dumps(md) if md else None)
        else:
            mat.remove(f"r{key}")
    for f in (flt, flt2):
        p = compile_filter(f)
        assert p is not None
        got = sorted(mat.ids[int(r)] for r in mat.matching_rows(p))
        assert got == _expected(mat, f)


@pytest.fixture
def monkeypatch_columns() -> Any:
    """Columns from the first row, so small generated namespaces take the column path."""
    saved = matrix_mod.COLUMN_MIN_ROWS
    matrix_mod.COLUMN_MIN_ROWS = 0
    yield
    matrix_mod.COLUMN_MIN_ROWS = saved


def test_big_namespace_filters_on_columns_without_parsing_every_row_again() -> None:
    mat = NamespaceMatrix(1)
    one = np.ones(1, dtype=np.float32)
    n = matrix_mod.COLUMN_MIN_ROWS + 500
    for i in range(n):
        mat.set(f"r{i}", one, None, json.dumps({"tenant": f"t{i % 50}", "n": i, "tags": ["q"]}))
    predicate = compile_filter({"$and": [{"tenant": "t7"}, {"n": {"$gte": 1000}}]})
    assert predicate is not None
    rows = mat.matching_rows(predicate)
    assert [mat.ids[int(r)] for r in rows] == [f"r{i}" for i in range(1007, n, 50)]
    assert set(mat.columns.fields) == {"tenant", "n"}
    assert mat._parsed is None  # the column path keeps no parsed dicts


def test_integers_beyond_float64_precision_are_checked_row_by_row(
    monkeypatch_columns: None,
) -> None:
    """2**53 + 1 is not 2**53, though both are the same float64: such a field is never
    decided on columns, also after its row moved in a swap-remove."""
    mat = NamespaceMatrix(1)
    one = np.ones(1, dtype=np.float32)
    mat.set("a", one, None, json.dumps({"n": 1}))
    mat.set("b", one, None, json.dumps({"n": 2}))
    predicate = compile_filter({"n": {"$gte": 2}})
    assert predicate is not None
    assert [mat.ids[int(r)] for r in mat.matching_rows(predicate)] == ["b"]  # columns built
    mat.set("big", one, None, json.dumps({"n": 2**53 + 1}))
    mat.remove("a")  # "big" moves into row 0
    mat.set("c", one, None, json.dumps({"n": 3}))  # row 2 is reused
    for flt, want in (({"n": 2**53}, []), ({"n": {"$gt": 2**53}}, ["big"])):
        p = compile_filter(flt)
        assert p is not None
        assert [mat.ids[int(r)] for r in mat.matching_rows(p)] == want
