"""ExtractiveAnswerer: quotes with citations, honesty line, streaming, empty context."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import HumanMessage, SystemMessage

from tenant_rag.context import format_question
from tenant_rag.models import ExtractiveAnswerer
from tenant_rag.models.extractive import NO_LLM_NOTICE, NOTHING_RELEVANT

DOCS = [
    Document(
        page_content="Employees get 25 vacation days per year. The cafeteria opens at 8.",
        id="handbook.md#0",
        metadata={"doc_id": "handbook.md"},
    ),
    Document(
        page_content="Refunds are accepted within 30 days of purchase.\nThe office is closed on Sundays.",
        id="policy.md#3",
        metadata={"doc_id": "policy.md"},
    ),
]


def test_answers_with_quotes_and_citations() -> None:
    llm = ExtractiveAnswerer()
    answer = llm.invoke(format_question(DOCS, "When are refunds accepted?")).content
    assert isinstance(answer, str)
    lines = answer.split("\n")
    assert lines[0] == NO_LLM_NOTICE
    assert "OPENAI_API_KEY" in lines[0] and "OPENAI_BASE_URL" in lines[0]
    assert '- "Refunds are accepted within 30 days of purchase." [2]' in lines
    assert "cafeteria" not in answer
    vacation = llm.invoke(format_question(DOCS, "How many vacation days?")).content
    assert '"Employees get 25 vacation days per year." [1]' in vacation


def test_at_most_three_quotes_and_deterministic() -> None:
    docs = [
        Document(page_content=f"Backups run nightly on server {i}.", id=str(i)) for i in range(6)
    ]
    msg = format_question(docs, "When do backups run?")
    first = ExtractiveAnswerer().invoke(msg).content
    assert first == ExtractiveAnswerer().invoke(msg).content
    assert isinstance(first, str) and first.count('- "') == 3


def test_nothing_relevant_and_no_context() -> None:
    llm = ExtractiveAnswerer()
    unrelated = llm.invoke(format_question(DOCS, "Who won the football match?")).content
    assert unrelated == f"{NO_LLM_NOTICE}\n{NOTHING_RELEVANT}"
    assert llm.invoke(format_question([], "When are refunds accepted?")).content == unrelated
    assert llm.invoke("plain chat with no context").content == unrelated


def test_streams_word_by_word_and_matches_invoke() -> None:
    llm = ExtractiveAnswerer()
    msg = format_question(DOCS, "When are refunds accepted?")
    chunks = [c.content for c in llm.stream(msg)]
    assert len(chunks) > 10
    assert "".join(str(c) for c in chunks) == llm.invoke(msg).content


async def test_async_stream_and_invoke() -> None:
    llm = ExtractiveAnswerer()
    msg = format_question(DOCS, "When are refunds accepted?")
    chunks = [str(c.content) async for c in llm.astream(msg)]
    assert "".join(chunks) == (await llm.ainvoke(msg)).content


def test_context_in_system_message_question_from_human() -> None:
    from tenant_rag.context import format_context

    messages = [
        SystemMessage(content="Answer from this:\n" + format_context(DOCS)),
        HumanMessage(content="Is the office closed on Sundays?"),
    ]
    answer = ExtractiveAnswerer().invoke(messages).content
    assert '"The office is closed on Sundays." [2]' in str(answer)


def test_llm_type() -> None:
    assert ExtractiveAnswerer()._llm_type == "tenant-rag-extractive"


def test_sentences_join_wrapped_lines_and_skip_titles() -> None:
    from tenant_rag.models.extractive import sentences

    text = (
        "# Handbook\n\n## Vacation\nEvery employee gets 27 days,\nplus public holidays. Ask HR.\n"
        "RETURNS AND REFUNDS\n- Bullets stand alone\n- as their own items\n"
    )
    assert sentences(text) == [
        "Every employee gets 27 days, plus public holidays.",
        "Ask HR.",
        "Bullets stand alone",
        "as their own items",
    ]


def test_faq_questions_are_not_quoted_as_answers() -> None:
    from tenant_rag.context import Passage
    from tenant_rag.models.extractive import rank

    faq = Passage(
        n=1, doc_id="faq", id="faq#0", text="Do you ship on weekends? Yes, we ship on Saturdays."
    )
    quotes = rank([faq], "Do you ship on weekends?", 3)
    assert [q.sentence for q in quotes] == ["Yes, we ship on Saturdays."]


SHOP = [
    Document(page_content="Acme ships every order within 2 days. Returns are free.", id="s#0"),
    Document(page_content="Our office is in Berlin. Employees get 30 days of vacation.", id="h#0"),
]


class _SpyEmbeddings:
    """Counts embed_documents calls; returns fixed vectors (question first)."""

    def __init__(self) -> None:
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [[1.0, 0.0]] + [[0.0, 1.0]] * (len(texts) - 1)


def test_a_question_in_other_words_is_matched_by_meaning_with_the_local_model() -> None:
    from tenant_rag.models.embeddings import shared_local_embeddings

    words_only = ExtractiveAnswerer()
    by_meaning = ExtractiveAnswerer(embeddings=shared_local_embeddings())
    cases = {
        "How long does delivery take?": '- "Acme ships every order within 2 days." [1]',
        "How much time off do staff get?": '- "Employees get 30 days of vacation." [2]',
        "Where is the headquarters?": '- "Our office is in Berlin." [2]',
    }
    for question, quote in cases.items():
        msg = format_question(SHOP, question)
        assert NOTHING_RELEVANT in words_only.invoke(msg).content  # no shared word
        answer = by_meaning.invoke(msg).content
        assert isinstance(answer, str) and quote in answer.split("\n"), (question, answer)
        assert answer.count('- "') == 1  # only the sentence it means, not its neighbours
    for unrelated in ("Who won the football match?", "What is the capital of Peru?"):
        answer = by_meaning.invoke(format_question(SHOP, unrelated)).content
        assert answer == f"{NO_LLM_NOTICE}\n{NOTHING_RELEVANT}", unrelated


def test_the_meaning_fallback_runs_only_when_no_word_matches() -> None:
    spy = _SpyEmbeddings()
    llm = ExtractiveAnswerer(embeddings=spy)
    assert "30 days of vacation" in llm.invoke(format_question(SHOP, "vacation days?")).content
    assert spy.calls == 0
    # orthogonal vectors: cosine 0 is under the floor, so still nothing relevant
    far = llm.invoke(format_question(SHOP, "How long does delivery take?")).content
    assert spy.calls == 1 and NOTHING_RELEVANT in far
    assert llm.invoke(format_question([], "How long does delivery take?")).content == far
    assert spy.calls == 1  # no context: nothing to embed


def test_default_llm_without_openai_matches_by_meaning(monkeypatch: Any) -> None:
    from tenant_rag.models import default_llm
    from tenant_rag.models.embeddings import shared_local_embeddings

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    llm = default_llm()
    assert isinstance(llm, ExtractiveAnswerer) and llm.embeddings is shared_local_embeddings()
