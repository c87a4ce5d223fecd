"""NamespaceMatrix stays equal to a plain dict model under any sequence of writes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_rag.local.engine.matrix import NamespaceMatrix, top_k

DIM = 3
ops = st.lists(
    st.tuples(
        st.sampled_from(["set", "remove"]),
        st.integers(0, 150),
        st.lists(st.floats(-5, 5, allow_nan=False, width=32), min_size=DIM, max_size=DIM),
    ),
    max_size=600,
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_matches_dict_model(sequence: list[tuple[str, int, list[float]]]) -> None:
    mat = NamespaceMatrix(DIM)
    model: dict[str, tuple[np.ndarray, str]] = {}
    for op, key, values in sequence:
        rid = f"id{key}"
        if op == "set":
            vec = np.asarray(values, dtype=np.float32)
            meta = f'{{"k":{key}}}'
            mat.set(rid, vec, None, meta)
            model[rid] = (vec, meta)
        else:
            assert mat.remove(rid) == (rid in model)
            model.pop(rid, None)
    assert mat.n == len(model) == len(mat.row_of)
    assert sorted(mat.ids) == sorted(model)
    for rid, (vec, meta) in model.items():
        row = mat.row_of[rid]
        assert mat.ids[row] == rid
        np.testing.assert_array_equal(mat.values(row), vec)
        assert mat.meta[row] == meta
    assert mat.meta_bytes == sum(len(m) for _, m in model.values())
    if model:
        q = np.asarray([1.0, -0.5, 2.0], dtype=np.float32)
        scores = mat.scores(q, None, "euclidean", None)
        want = {rid: float(((vec - q) ** 2).sum()) for rid, (vec, _) in model.items()}
        got = {mat.ids[i]: float(s) for i, s in enumerate(scores)}
        assert got.keys() == want.keys()
        for rid in want:
            assert abs(got[rid] - want[rid]) <= 1e-3 * max(1.0, want[rid])


def test_top_k_orders_best_first() -> None:
    scores = np.asarray([0.1, 0.9, 0.5, 0.7], dtype=np.float32)
    assert top_k(scores, 2, ascending=False).tolist() == [1, 3]
    assert top_k(scores, 2, ascending=True).tolist() == [0, 2]
    assert top_k(scores, 10, ascending=False).tolist() == [1, 3, 2, 0]
    assert top_k(scores[:0], 3, ascending=False).tolist() == []


def test_shrinks_after_mass_removal_and_keeps_rows() -> None:
    mat = NamespaceMatrix(DIM)
    for i in range(200):
        mat.set(f"r{i}", np.full(DIM, i, dtype=np.float32), None, None)
    for i in range(190):
        assert mat.remove(f"r{i}")
    assert mat._mat.shape[0] < 200  # capacity given back
    assert sorted(mat.ids) == sorted(f"r{i}" for i in range(190, 200))
    for i in range(190, 200):
        assert mat.values(mat.row_of[f"r{i}"]).tolist() == [float(i)] * DIM
