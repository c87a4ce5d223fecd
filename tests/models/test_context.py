"""The context block format: exact round trip, including hostile texts and ids."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document

from tenant_rag.context import format_context, format_question, parse_context, parse_question

_tricky = st.sampled_from(
    ["", "\n", "\n\n", "</context>", "<context>", "[2] (doc_id=x, id=y)", "\\", ", id=", "%2C", ")"]
)
_text = st.lists(st.one_of(_tricky, st.text(max_size=30)), max_size=6).map("".join)
_value = st.one_of(st.none(), _text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_text, _value, _value), max_size=6), _text)
def test_round_trip(items: list[tuple[str, str | None, str | None]], question: str) -> None:
    docs = [
        Document(page_content=text, id=rid, metadata={} if doc_id is None else {"doc_id": doc_id})
        for text, doc_id, rid in items
    ]
    passages = parse_context(format_question(docs, question))
    assert [p.n for p in passages] == list(range(1, len(docs) + 1))
    for p, (text, doc_id, rid) in zip(passages, items, strict=True):
        assert p.text == text
        assert p.doc_id == (doc_id or None)
        assert p.id == (rid or None)


def test_documented_shape_and_question() -> None:
    docs = [
        Document(
            page_content="passage text", id="handbook.md#0", metadata={"doc_id": "handbook.md"}
        ),
        Document(page_content="more", id="b#1", metadata={"source": "b.txt"}),
    ]
    text = format_question(docs, "What is it?")
    assert text == (
        "<context>\n[1] (doc_id=handbook.md, id=handbook.md#0)\npassage text\n\n"
        "[2] (doc_id=b.txt, id=b#1)\nmore\n</context>\nQuestion: What is it?"
    )
    assert parse_question(text) == "What is it?"
    assert format_context([]) == "<context>\n</context>"
    assert parse_context("no context here") == []
