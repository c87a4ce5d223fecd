"""The default LlamaIndex chunker: `SentenceSplitter` with stable ids and no NLTK.

Two changes from LlamaIndex's default ``SentenceSplitter()``:

* Chunk ids are ``"{doc_id}#{n}"`` (:func:`stable_chunk_id`), not random
  UUIDs, so a retried run overwrites instead of duplicating, and the store
  writes chunk ``n`` to the record `tenant_rag.ingestion` would write for it
  (the one scheme of `tenant_rag.tenancy.records`).
* Sentences are found by a regular expression (:func:`split_sentences`)
  instead of NLTK's punkt. LlamaIndex loads punkt and the stopword list from
  a bundled NLTK cache, downloads them when they are missing (a network
  call in the middle of ingestion), and NLTK 3.10 refuses to read them when
  the installer hard-linked the files (``uv``'s default), so every document
  longer than one chunk failed with ``PermissionError``. Chunk boundaries
  still prefer sentence ends; punkt only knew abbreviations better.
"""

from __future__ import annotations

import re
from typing import Any

from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode

_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])[\"')\]]*\s+")


def stable_chunk_id(i: int, doc: BaseNode) -> str:
    """Chunk ``i`` of document ``doc`` is ``"{doc_id}#{i}"``."""
    return f"{doc.node_id}#{i}"


def split_sentences(text: str) -> list[str]:
    """Split after sentence-ending punctuation; the pieces join back to ``text`` exactly."""
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        out.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        out.append(text[start:])
    return out


def default_splitter(**kwargs: Any) -> SentenceSplitter:
    """``SentenceSplitter(**kwargs)`` with stable chunk ids and regex sentence splitting."""
    kwargs.setdefault("id_func", stable_chunk_id)
    kwargs.setdefault("chunking_tokenizer_fn", split_sentences)
    return SentenceSplitter(**kwargs)
