"""Reading LlamaIndex's prompts back into passages, for the extractive answerer.

LlamaIndex (0.14) formats retrieved nodes itself, so a LlamaIndex query or
chat engine over :class:`~tenant_rag.models.ExtractiveAnswerer` sends one of:

* QA / tree-summarize: ``Context information ... is below.``, the context
  between two dashed lines, then ``Query: ...`` and ``Answer:``;
* chat engine "context": a system message with the context between two dashed
  lines; the question is the user's message;
* chat engine "condense_plus_context": a system message with
  ``Here are the relevant documents for the context:`` ... ``Instruction:``;
* refine: ``New Context: ...`` ``Query: ...`` ``Original Answer: ...``
  (and the older ``The original query is as follows:`` form).

Nodes are joined by blank lines and each may start with a ``key: value``
metadata block followed by a blank line. When the context starts with such a
block, metadata blocks mark node boundaries, so passage ``[n]`` is the n-th
node (the order of ``response.source_nodes``) and takes its ``doc_id``;
otherwise every paragraph is a passage. The templates' wording (the markers
matched here) lives in `tenant_rag._compat.llamaindex_prompts`, with a canary.
"""

from __future__ import annotations

import ast
import re

from tenant_rag._compat.llamaindex_prompts import (
    ANSWER_MARKER,
    DASHES,
    DOCS_INTRO,
    INSTRUCTION_PREFIX,
    META_LINE,
    QUERY_PREFIX,
    REFINE,
    REFINE_OLD,
)
from tenant_rag.context import Passage

_DOC_ID_KEYS = ("doc_id", "file_name", "file_path", "source", "ref_doc_id", "document_id")


def read_llamaindex_prompt(text: str) -> tuple[list[Passage], str, str | None] | None:
    """``(passages, question, existing_answer)`` from a LlamaIndex prompt, or None.

    ``question`` is ``""`` when the prompt does not carry it (chat engines put
    it in the user message).
    """
    refine = REFINE.search(text)
    if refine:
        context, question, existing = refine.groups()
        return node_passages(context), question.strip(), existing.strip()
    old = REFINE_OLD.search(text)
    if old:
        question, existing, context = old.groups()
        return node_passages(context), question.strip(), existing.strip()

    lines = text.split("\n")
    dashes = [i for i, line in enumerate(lines) if DASHES.match(line)]
    if len(dashes) >= 2 and "context" in "\n".join(lines[: dashes[0]]).lower():
        context = "\n".join(lines[dashes[0] + 1 : dashes[1]])
        return node_passages(context), _query(lines[dashes[1] + 1 :]), None

    starts = [i for i, line in enumerate(lines) if line.strip() == DOCS_INTRO]
    if starts:
        body = lines[starts[0] + 1 :]
        ends = [i for i, line in enumerate(body) if line.strip().startswith(INSTRUCTION_PREFIX)]
        body = body[: ends[0]] if ends else body
        return node_passages("\n".join(line.strip() for line in body)), "", None
    return None


def _query(tail: list[str]) -> str:
    for i, line in enumerate(tail):
        if line.startswith(QUERY_PREFIX):
            rest = "\n".join([line[len(QUERY_PREFIX) :], *tail[i + 1 :]])
            return ANSWER_MARKER.split(rest)[0].strip()
    return ""


def _unlist(context: str) -> str:
    # response_mode="simple_summarize" in llama-index-core 0.14 formats the
    # context as the repr of a list of strings; read it back.
    stripped = context.strip()
    if stripped[:2] in ("['", '["') and stripped[-2:] in ("']", '"]'):
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError):
            return context
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "\n\n".join(value)
    return context


def _meta_block_end(lines: list[str], start: int) -> int | None:
    """End of a metadata block starting at ``start`` (followed by a blank line), or None."""
    end = start
    while end < len(lines) and META_LINE.match(lines[end]):
        end += 1
    if end == start or (end < len(lines) and lines[end].strip()):
        return None
    return end


def node_passages(context: str) -> list[Passage]:
    """Split a LlamaIndex context string into numbered passages."""
    lines = _unlist(context).strip().split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return []
    if _meta_block_end(lines, 0) is None:
        paragraphs = re.split(r"\n\s*\n", "\n".join(lines))
        texts = [p.strip() for p in paragraphs if p.strip()]
        return [Passage(n, None, None, t) for n, t in enumerate(texts, start=1)]

    nodes: list[tuple[dict[str, str], list[str]]] = []
    i = 0
    while i < len(lines):
        end = _meta_block_end(lines, i)
        if end is not None:
            meta = {k: v for k, _, v in (line.partition(": ") for line in lines[i:end])}
            nodes.append((meta, []))
            i = end
            continue
        nodes[-1][1].append(lines[i])
        i += 1
    passages: list[Passage] = []
    for meta, body in nodes:
        text = "\n".join(body).strip()
        if text:
            doc_id = next((meta[k] for k in _DOC_ID_KEYS if k in meta), None)
            passages.append(Passage(len(passages) + 1, doc_id, None, text))
    return passages
