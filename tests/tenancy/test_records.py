"""The document id scheme (`tenant_rag.tenancy.records`) as pure functions, by example and by property."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tenant_rag.tenancy.records import (
    belongs,
    chunk_number,
    delete_order,
    doc_id_of_base,
    doc_prefix,
    document_record_ids,
    node_record_id,
    record_base,
    record_id,
    split_record_id,
)

PAGE, FAQ, PAGE2 = "https://acme.test/page", "https://acme.test/page#faq", "https://acme.test/page2"


def test_examples() -> None:
    assert record_id("doc1", 3) == "doc1#3"
    assert record_base("100%.md") == "100%25.md"  # '%' is escaped: the mapping is one-to-one
    assert record_base("café") == "caf%C3%A9"
    assert record_base("dir/a b#1.md") == "dir/a b#1.md"
    assert doc_id_of_base("caf%C3%A9") == "café"
    assert split_record_id("a#b#7") == ("a#b", "7")
    assert split_record_id("foreign-id") is None
    assert split_record_id("x#") is None
    assert chunk_number("12") == 12 and chunk_number("007") is None and chunk_number("x") is None
    assert node_record_id("guide", "3f1c-uuid") == "guide#3f1c-uuid"
    assert node_record_id("guide", "guide#4") == "guide#4"
    assert node_record_id("page", "sec#1") == "page#sec%231"
    assert node_record_id("café", "café#0") == "caf%C3%A9#0"


def test_page_page_faq_and_page2_are_apart() -> None:
    ids = [record_id(d, n) for d in (PAGE, FAQ, PAGE2) for n in (0, 1)]
    assert all(i.startswith(doc_prefix(PAGE)) for i in ids if FAQ in i), "a shared list prefix"
    assert [i for i in ids if belongs(i, PAGE)] == [f"{PAGE}#0", f"{PAGE}#1"]
    assert [i for i in ids if belongs(i, FAQ)] == [f"{FAQ}#0", f"{FAQ}#1"]
    assert not any(belongs(i, "doc1") for i in ("doc10#0", "doc1#x#0"))


def test_delete_order_puts_chunk_zero_first() -> None:
    assert delete_order(["d#10", "d#x", "d#2", "d#0", "d#2"]) == ["d#0", "d#2", "d#10", "d#x"]


def test_document_record_ids_fetches_only_ambiguous_candidates() -> None:
    stored = {
        f"{PAGE}#0": {"doc_id": PAGE},
        f"{FAQ}#0": {"doc_id": FAQ},
        f"{PAGE}#sec#1": {"doc_id": PAGE},  # an old-form record of PAGE (node id 'sec#1')
    }
    fetched: list[list[str]] = []

    def fetch(ids: list[str]) -> dict[str, dict[str, str]]:
        fetched.append(ids)
        return {i: stored[i] for i in ids}

    def list_ids(prefix: str) -> list[str]:
        return sorted(i for i in stored if i.startswith(prefix))

    assert document_record_ids(list_ids, fetch, PAGE) == [f"{PAGE}#0", f"{PAGE}#sec#1"]
    assert fetched == [[f"{FAQ}#0", f"{PAGE}#sec#1"]]
    fetched.clear()
    assert document_record_ids(list_ids, fetch, PAGE2) == []
    assert fetched == [], "nothing ambiguous, nothing fetched"


doc_ids = st.text(min_size=1, max_size=12)
keys = st.one_of(st.integers(0, 10**5), st.text(min_size=1, max_size=8))


@given(doc_ids, doc_ids, keys)
def test_a_record_belongs_to_exactly_its_document(a: str, b: str, key: int | str) -> None:
    rid = record_id(a, key)
    assert rid.isascii()
    assert belongs(rid, a)
    assert belongs(rid, b) == (a == b)
    base, _ = split_record_id(rid) or ("", "")
    assert doc_id_of_base(base) == a


@given(doc_ids, doc_ids)
def test_bases_are_one_to_one(a: str, b: str) -> None:
    assert (record_base(a) == record_base(b)) == (a == b)
