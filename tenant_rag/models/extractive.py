"""The logic of the extractive fallback answer: read the prompt, rank, quote.

Kept apart from the LangChain class in :mod:`tenant_rag.models.llm` so it is
plain functions over strings, easy to test and to reuse. Two prompt shapes are
understood:

* tenant_rag's own context block (:mod:`tenant_rag.context`), whose
  passages carry their citation numbers;
* LlamaIndex's query, refine and chat-engine prompts
  (:mod:`tenant_rag.models.llamaindex_prompts`), where each node (or, without
  node metadata, each paragraph) is a passage numbered in order.

Ranking is BM25 over sentences, with lowercase words, English stopwords
removed and a light plural folding: small, deterministic, dependency-free,
and honest about what it is (word overlap, not understanding).

Word overlap misses a question asked in other words ("How long does delivery
take?" against "Acme ships every order within 2 days."). When BM25 finds no
sentence and an embedding function is given, `rank_semantic` ranks the same
sentences by cosine similarity to the question with the embedding model
(the local MiniLM model, by default) and quotes those above
``SEMANTIC_FLOOR``; below it, the answer is still "nothing relevant". The
floor was set on the local model: paraphrases of a sentence scored 0.43-0.53,
sentences on other subjects 0.25 and below.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from tenant_rag.context import OPEN_TAG, Passage, parse_context, parse_question
from tenant_rag.models.llamaindex_prompts import read_llamaindex_prompt

NO_LLM_NOTICE = (
    "No language model is configured (set OPENAI_API_KEY or OPENAI_BASE_URL for generated answers)."
)
QUOTES_INTRO = "The most relevant sentences in this tenant's documents, quoted as written:"
NOTHING_RELEVANT = "I found nothing relevant to this question in this tenant's documents."

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren as at be because been before
    being below between both but by can cannot could did didn do does doesn doing don down
    during each few for from further had has have having he her here hers herself him himself
    his how i if in into is isn it its itself just let me more most my myself no nor not of off
    on once only or other ought our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through to too
    under until up very was wasn we were what when where which while who whom why will with
    would you your yours yourself yourselves s t ll re ve d m tell please know give get got
    answer question context many much also like
    """.split()
)

#: Sentences scoring below this fraction of the best are not quoted.
RELATIVE_FLOOR = 0.5
#: The cosine similarity a sentence needs to be quoted when no word matches.
SEMANTIC_FLOOR = 0.4
#: ... and how far below the best such sentence another may be.
SEMANTIC_MARGIN = 0.1
#: At most this many sentences are embedded for one answer (passages in retrieval order).
SEMANTIC_MAX_SENTENCES = 64

#: ``texts -> vectors`` (LangChain's ``embed_documents``), used by the semantic fallback.
EmbedFn = Callable[[list[str]], list[list[float]]]

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s")


@dataclass(frozen=True)
class Prompt:
    """What the answerer found in the messages: passages and the question."""

    passages: list[Passage]
    question: str
    existing_answer: str | None = None  # LlamaIndex refine prompts only


@dataclass(frozen=True)
class Quote:
    """A ranked sentence and the citation number of its passage."""

    n: int
    sentence: str
    score: float


def _fold_suffix(word: str, suffix: str, min_len: int) -> str:
    """Drop an -ing/-ed ending and a doubled final consonant ("shipping" -> "ship")."""
    if len(word) <= min_len or not word.endswith(suffix):
        return word
    stem = word[: -len(suffix)]
    if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        stem = stem[:-1]
    return stem


def terms(text: str) -> list[str]:
    """Lowercase content words with light folding of plurals and -ing/-ed endings.

    Without it "How fast is shipping?" shares no word with "Acme ships within
    2 days", and the answerer would report nothing relevant next to the very
    passage the search ranked first.
    """
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        word = _fold_suffix(_fold_suffix(word, "ing", 5), "ed", 4)
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


def _is_title(line: str) -> bool:
    """A heading or title line: a label for what follows, never an answer by itself."""
    if _HEADING.match(line):
        return True
    if line.endswith((".", "!", "?", ":", ";", ",", '"', ")")):
        return False
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and (line.isupper() or len(line.split()) <= 3)


def sentences(text: str) -> list[str]:
    """Split a passage into sentences, the way a reader would quote them.

    Lines of one paragraph are joined first (documents wrap long sentences
    across lines, and quoting half a sentence misleads); blank lines, list
    items and headings end a paragraph. Headings and all-caps titles are left
    out: they name a topic but answer nothing.
    """
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            joined = " ".join(paragraph)
            paragraph.clear()
            out.extend(s.strip() for s in _SENTENCE_END.split(joined) if s.strip())

    for raw in text.split("\n"):
        line = raw.strip()
        if not line or _is_title(line):
            flush()
            continue
        if _BULLET.match(line):
            flush()
            paragraph.append(_BULLET.sub("", line).strip())
            flush()
            continue
        paragraph.append(line)
    flush()
    return out


def read_prompt(text: str) -> Prompt | None:
    """Passages and question from one message text, or None if it has no context."""
    if OPEN_TAG in text.split("\n"):
        return Prompt(parse_context(text), parse_question(text) or "")
    found = read_llamaindex_prompt(text)
    if found is None:
        return None
    passages, question, existing = found
    return Prompt(passages, question, existing)


def _answerable(passages: list[Passage]) -> list[tuple[int, str]]:
    """``(passage number, sentence)`` of every sentence that may be quoted, in order.

    Questions in the documents (FAQ entries) are not answers; their replies are.
    """
    return [(p.n, s) for p in passages for s in sentences(p.text) if not s.endswith("?")]


def rank(passages: list[Passage], question: str, limit: int) -> list[Quote]:
    """Up to ``limit`` sentences that share content words with ``question``, best first.

    BM25 (k1 1.2, b 0.75) with each sentence as a document; ties go to the
    earlier passage (the retriever's better hit) and the earlier sentence.
    Identical sentences are quoted once, and a sentence scoring under
    ``RELATIVE_FLOOR`` of the best one is left out: one shared common word is
    not worth quoting next to a sentence that matches the whole question.
    """
    query = set(terms(question))
    if not query or limit < 1:
        return []
    units = [(n, s, terms(s)) for n, s in _answerable(passages)]
    if not units:
        return []
    count = len(units)
    avg_len = sum(len(t) for _, _, t in units) / count or 1.0
    df: Counter[str] = Counter()
    for _, _, toks in units:
        df.update(set(toks) & query)
    scored = []
    for order, (n, sentence, toks) in enumerate(units):
        tf = Counter(t for t in toks if t in query)
        score = 0.0
        for term, freq in tf.items():
            idf = math.log(1.0 + (count - df[term] + 0.5) / (df[term] + 0.5))
            norm = freq + 1.2 * (0.25 + 0.75 * len(toks) / avg_len)
            score += idf * freq * 2.2 / norm
        if score > 0:
            scored.append((-score, order, Quote(n, sentence, round(score, 6))))
    scored.sort(key=lambda item: (item[0], item[1]))
    floor = -scored[0][0] * RELATIVE_FLOOR if scored else 0.0
    quotes: list[Quote] = []
    seen: set[str] = set()
    for _, _, quote in scored:
        if quote.sentence in seen or quote.score < floor:
            continue
        seen.add(quote.sentence)
        quotes.append(quote)
        if len(quotes) == limit:
            break
    return quotes


def rank_semantic(
    passages: list[Passage], question: str, limit: int, embed: EmbedFn
) -> list[Quote]:
    """Up to ``limit`` sentences closest in meaning to ``question`` (cosine), best first.

    For questions that share no word with their answer. Only sentences at or
    above ``SEMANTIC_FLOOR`` and within ``SEMANTIC_MARGIN`` of the best are
    quoted, so an unrelated question still gets "nothing relevant".
    """
    import numpy as np

    units = list(dict.fromkeys(_answerable(passages)))[:SEMANTIC_MAX_SENTENCES]
    if not units or not question.strip() or limit < 1:
        return []
    vectors = np.asarray(embed([question, *(s for _, s in units)]), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    vectors /= norms[:, None]
    scores = vectors[1:] @ vectors[0]
    best = float(scores.max())
    floor = max(SEMANTIC_FLOOR, best - SEMANTIC_MARGIN)
    order = sorted(range(len(units)), key=lambda i: (-float(scores[i]), i))
    quotes: list[Quote] = []
    seen: set[str] = set()
    for i in order:
        n, sentence = units[i]
        if float(scores[i]) < floor or len(quotes) == limit:
            break
        if sentence not in seen:
            seen.add(sentence)
            quotes.append(Quote(n, sentence, round(float(scores[i]), 6)))
    return quotes


def _clip(sentence: str, max_chars: int) -> str:
    if len(sentence) <= max_chars:
        return sentence
    return sentence[: max_chars - 1].rstrip() + "…"


def compose_answer(
    prompt: Prompt | None,
    *,
    max_quotes: int = 3,
    max_chars: int = 400,
    embed: EmbedFn | None = None,
) -> str:
    """The full answer text: the notice, then quotes with ``[n]`` or "nothing relevant".

    Quotes come from BM25; when it finds none and ``embed`` is given, from
    `rank_semantic`.
    """
    if prompt is not None and prompt.existing_answer and QUOTES_INTRO in prompt.existing_answer:
        # LlamaIndex refine step: an earlier chunk already gave quotes; keep them.
        return prompt.existing_answer
    quotes = rank(prompt.passages, prompt.question, max_quotes) if prompt else []
    if not quotes and prompt is not None and embed is not None:
        quotes = rank_semantic(prompt.passages, prompt.question, max_quotes, embed)
    if not quotes:
        return f"{NO_LLM_NOTICE}\n{NOTHING_RELEVANT}"
    lines = [NO_LLM_NOTICE, QUOTES_INTRO, ""]
    lines += [f'- "{_clip(q.sentence, max_chars)}" [{q.n}]' for q in quotes]
    return "\n".join(lines)
