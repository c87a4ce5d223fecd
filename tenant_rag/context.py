"""What retrieval hands the chains and models: the context block format and the score key.

Neutral ground: the stores put each retrieved document's score under
`SCORE_KEY`, ``rag_chain`` (chains) reads it and renders the passages, and the
local answerer (models) parses them back, so none of those layers imports another
for it.

The context block the RAG chain shows the model: one format, one parser.

``rag_chain`` renders retrieved passages with :func:`format_context` and the
local :class:`~tenant_rag.models.llm.ExtractiveAnswerer` reads them back with
:func:`parse_context`, so the two can never drift apart::

    <context>
    [1] (doc_id=handbook.md, id=handbook.md#0)
    passage text ...

    [2] (doc_id=..., id=...)
    ...
    </context>
    Question: <the question>

The format stays readable for a real LLM and is still exactly invertible:

* header values percent-escape ``%``, ``,``, CR and LF (so ``, id=`` and the
  line end are unambiguous); an absent ``doc_id`` or id is written empty;
* a passage line that would read as a header or a ``<context>`` tag gets one
  leading backslash (and so does such a line that already starts with
  backslashes); every other line is verbatim.

``parse_context(format_context(docs))`` returns the passages' numbers,
doc ids, ids and texts unchanged (an empty id reads back as ``None``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from langchain_core.documents import Document

__all__ = [
    "SCORE_KEY",
    "Passage",
    "doc_id_of",
    "format_context",
    "format_question",
    "parse_context",
    "parse_question",
]

#: Metadata key the tenant retrievers put each document's Pinecone score under.
SCORE_KEY = "score"

OPEN_TAG = "<context>"
CLOSE_TAG = "</context>"
QUESTION_PREFIX = "Question:"

_HEADER = re.compile(r"\[(\d+)\] \(doc_id=([^,\n]*), id=([^\n]*)\)")
# A body line that must be escaped: after any leading backslashes it would read
# as a context tag or a passage header.
_RESERVED = re.compile(r"\\*(?:</?context>$|\[\d+\] \()")


@dataclass(frozen=True)
class Passage:
    """One numbered passage of a context block; ``n`` is its citation number."""

    n: int
    doc_id: str | None
    id: str | None
    text: str


def doc_id_of(doc: Document) -> str | None:
    """The document id a chunk belongs to: ``metadata["doc_id"]``, else ``"source"``."""
    for key in ("doc_id", "source"):
        value = doc.metadata.get(key)
        if value is not None and str(value) != "":
            return str(value)
    return None


def _escape_value(value: str | None) -> str:
    if value is None:
        return ""
    return value.replace("%", "%25").replace(",", "%2C").replace("\n", "%0A").replace("\r", "%0D")


def _unescape_value(value: str) -> str | None:
    return unquote(value) if value else None


def _escape_body(text: str) -> str:
    return "\n".join("\\" + line if _RESERVED.match(line) else line for line in text.split("\n"))


def _unescape_line(line: str) -> str:
    return line[1:] if line.startswith("\\") and _RESERVED.match(line) else line


def format_context(docs_with_ids: Iterable[Document]) -> str:
    """Render documents as a numbered ``<context>`` block, numbered from 1.

    Each document's ``id`` is the record id and ``metadata["doc_id"]`` (else
    ``metadata["source"]``) the document it came from; ``page_content`` is the
    passage text.
    """
    blocks = []
    for n, doc in enumerate(docs_with_ids, start=1):
        header = f"[{n}] (doc_id={_escape_value(doc_id_of(doc))}, id={_escape_value(doc.id)})"
        blocks.append(f"{header}\n{_escape_body(doc.page_content)}")
    if not blocks:
        return f"{OPEN_TAG}\n{CLOSE_TAG}"
    return f"{OPEN_TAG}\n" + "\n\n".join(blocks) + f"\n{CLOSE_TAG}"


def format_question(docs_with_ids: Iterable[Document], question: str) -> str:
    """The whole human message: the context block, then ``Question: ...``."""
    return f"{format_context(docs_with_ids)}\n{QUESTION_PREFIX} {question}"


def parse_context(text: str) -> list[Passage]:
    """The passages of the first ``<context>`` block in ``text`` (``[]`` if none).

    Text before ``<context>`` and after ``</context>`` is ignored; a block
    missing its closing tag runs to the end of the text.
    """
    lines = text.split("\n")
    try:
        start = lines.index(OPEN_TAG)
    except ValueError:
        return []
    passages: list[tuple[int, str | None, str | None, list[str]]] = []
    for line in lines[start + 1 :]:
        if line == CLOSE_TAG:
            break
        header = _HEADER.fullmatch(line)
        if header is not None:
            n, doc_id, rid = header.groups()
            if passages:
                _drop_separator(passages[-1][3])
            passages.append((int(n), _unescape_value(doc_id), _unescape_value(rid), []))
        elif passages:
            passages[-1][3].append(_unescape_line(line))
    return [Passage(n, doc_id, rid, "\n".join(body)) for n, doc_id, rid, body in passages]


def _drop_separator(body: list[str]) -> None:
    # format_context joins passages with one blank line; it belongs to no passage.
    if body and body[-1] == "":
        body.pop()


def parse_question(text: str) -> str | None:
    """The question after the context block (``Question: ...``), or None."""
    lines = text.split("\n")
    try:
        end = lines.index(CLOSE_TAG, lines.index(OPEN_TAG) + 1) + 1
    except ValueError:
        end = 0
    rest = lines[end:]
    for i, line in enumerate(rest):
        if line.startswith(QUESTION_PREFIX):
            first = line[len(QUESTION_PREFIX) :]
            return "\n".join([first, *rest[i + 1 :]]).strip()
    return None
