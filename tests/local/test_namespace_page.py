"""Namespace listing by key range (``IndexStore.namespace_page``/``namespace_total``) equals
the obvious scan over every namespace, for any names, prefixes, tokens and page sizes:
namespaces with records and namespaces created empty merged, in code point order."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_rag.local.storage.index_store import IndexStore, _prefix_upper_bound

# Characters around the edges that matter: ASCII, a 2-byte, a 3-byte just below the
# surrogates, one just above them, a 4-byte and the largest code point.
ALPHABET = st.sampled_from(["a", "b", "z", "%", "_", "é", "\ud7ff", "\ue000", "😀", "\U0010ffff"])
NAMES = st.text(ALPHABET, min_size=1, max_size=4)


def _store(tmp_path: Path, counted: dict[str, int], declared: dict[str, str | None]) -> IndexStore:
    store = IndexStore(tmp_path / f"ns-{len(list(tmp_path.iterdir()))}.db")
    with store.write():
        for ns, n in counted.items():
            store.add_count(ns, n)
        for ns, schema in declared.items():
            store.declare_namespace(ns, schema)
    return store


@settings(max_examples=150, deadline=None)
@given(
    counted=st.dictionaries(NAMES, st.integers(1, 9), max_size=25),
    declared=st.dictionaries(NAMES, st.sampled_from([None, '{"fields":{}}']), max_size=10),
    prefix=st.text(ALPHABET, max_size=2),
    after=st.none() | NAMES,
    limit=st.integers(1, 8),
)
def test_page_and_total_equal_a_full_scan(
    tmp_path_factory: object,
    counted: dict[str, int],
    declared: dict[str, str | None],
    prefix: str,
    after: str | None,
    limit: int,
) -> None:
    tmp = tmp_path_factory.mktemp("pages")  # type: ignore[attr-defined]
    store = _store(tmp, counted, declared)
    try:
        every = sorted(counted.keys() | declared.keys())
        matching = [n for n in every if n.startswith(prefix)]
        want = [
            (n, counted.get(n, 0), declared.get(n)) for n in matching if after is None or n > after
        ][:limit]
        assert store.namespace_page(after, limit, prefix) == want
        assert store.namespace_total(prefix) == len(matching)
    finally:
        store.close()


def test_paging_visits_every_namespace_once(tmp_path: Path) -> None:
    counted = {f"t{i:04d}": 1 + i % 3 for i in range(0, 500, 2)}
    declared: dict[str, str | None] = {f"t{i:04d}": None for i in range(0, 500, 3)}
    store = _store(tmp_path, counted, declared)
    seen: list[str] = []
    after = None
    while True:
        page = store.namespace_page(after, 7)
        seen += [n for n, _, _ in page]
        if len(page) < 7:
            break
        after = page[-1][0]
    assert seen == sorted(counted.keys() | declared.keys())
    store.close()


def test_prefix_upper_bound() -> None:
    assert _prefix_upper_bound("ab") == "ac"
    assert _prefix_upper_bound("a\ud7ff") == "a\ue000"  # surrogates are skipped
    assert _prefix_upper_bound("a\U0010ffff") == "b"
    assert _prefix_upper_bound("\U0010ffff") is None


def test_stats_built_by_sqlite_equal_the_python_stats(tmp_path: Path) -> None:
    """describe_index_stats's namespaces, as JSON made by SQLite, parse to exactly the
    counts, whatever ASCII the names hold (quotes, backslashes, control characters)."""
    import json

    from tenant_rag.local.engine import Engine

    engine = Engine(tmp_path)
    engine.create_index(
        {
            "name": "s",
            "dimension": 2,
            "metric": "cosine",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
        }
    )
    index = engine.index("s")
    names = ['q"uote', "back\\slash", "tab\there", "\x01ctl", "__default__", "plain", "~"]
    for i, ns in enumerate(names):
        index.upsert(ns, [{"id": f"v{j}", "values": [1.0, 0.5]} for j in range(i + 1)])
    plain = index.describe_stats()
    for key in ("", "__default__"):
        encoded = index.describe_stats_encoded(None, key)
        want = {(key if n == "__default__" else n): c for n, c in plain["namespaces"].items()}
        assert json.loads(encoded["namespaces"]) == want
        assert encoded["totalVectorCount"] == plain["totalVectorCount"] == 28
    engine.close()
