"""Document record ids: the one scheme every writer and every document delete uses.

A document ``doc_id`` is stored as records ``{base}#{key}``:

* ``base`` is ``doc_id`` itself for the usual printable-ASCII ids. Pinecone ids
  must be ASCII, so other characters, and ``%`` (to keep the mapping
  one-to-one), are percent-encoded: ``café.md`` -> ``caf%C3%A9.md``,
  ``50%-off`` -> ``50%25-off``. ``#`` stays as it is, so a URL with a fragment
  (``https://acme.test/page#faq``) keeps its readable form.
* ``key`` names the record within the document and never contains ``#``: the
  chunk number for `tenant_rag.ingestion` and LlamaIndex's default splitter
  (``#0``, ``#1``...), or a node id percent-encoded with ``#`` escaped
  (``guide#3f1c-uuid``, ``page#sec%231``).

Exactness: a record belongs to a document when its id is the document's
``base``, ``#``, then a key without ``#``. Because ``base`` is one-to-one and
the key holds no ``#``, the last ``#`` of an id splits it unambiguously, so
the records of ``https://acme.test/page`` (``.../page#0``) can never include
those of ``https://acme.test/page#faq`` (``.../page#faq#0``) or of
``https://acme.test/page2`` (``.../page2#0``), although all three share a
list prefix. Listing a prefix is therefore only a first cut; `belongs` decides.

Migration: before this scheme, the LlamaIndex store stored
``{ref_doc_id}#{node_id}`` as given (ASCII ids only). Those ids differ from the
current form when the document id holds ``%`` or control characters, or the
node id holds ``#``. `document_record_ids` therefore also lists the document's
raw id as a prefix and keeps any record there that is not a current-form
record only when its metadata names the document (``doc_id``, which every
writer of this project stores), so old indexes keep working without a rewrite.
The one case it cannot tell apart: an old-form record of a document whose id
is itself the percent-encoding of another document's id (``a%C3%A9`` beside
``aé``), which both resolve to the same stored id.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, unquote

#: Separates a document's base from a record's key.
SEPARATOR = "#"
#: Metadata key that names a record's document (every writer of this project sets it).
DOC_ID_KEY = "doc_id"
_BASE_SAFE = "".join(c for c in string.printable if c not in "%\t\n\r\x0b\x0c")
_KEY_SAFE = _BASE_SAFE.replace(SEPARATOR, "")


def record_base(doc_id: str) -> str:
    """The id stem of a document's records (``doc_id`` unless it needs escaping)."""
    return quote(doc_id, safe=_BASE_SAFE)


def doc_id_of_base(base: str) -> str:
    """The document id a ``base`` stands for (the inverse of `record_base`)."""
    return unquote(base)


def record_key(key: int | str) -> str:
    """A record's key within its document: a chunk number, or an id with ``#`` escaped."""
    if isinstance(key, int):
        if key < 0:
            raise ValueError(f"chunk numbers are non-negative, got {key}.")
        return str(key)
    if not isinstance(key, str) or not key:
        raise ValueError(f"a record key must be a chunk number or a non-empty string, got {key!r}.")
    return quote(key, safe=_KEY_SAFE)


def record_id(doc_id: str, key: int | str) -> str:
    """The stored id of record ``key`` (usually a chunk number) of document ``doc_id``."""
    return f"{record_base(doc_id)}{SEPARATOR}{record_key(key)}"


def node_record_id(ref_doc_id: str, node_id: str) -> str:
    """The record id of a LlamaIndex node of document ``ref_doc_id``.

    A node id that already starts with ``"{ref_doc_id}#"`` (the default
    splitter's ``{doc_id}#{n}``) keeps only its suffix as the key, so it lands
    on the same record ingestion would write for that chunk; any other node id
    (a UUID, say) becomes the key as a whole.
    """
    head = f"{ref_doc_id}{SEPARATOR}"
    key = node_id[len(head) :] if node_id.startswith(head) and len(node_id) > len(head) else node_id
    return record_id(ref_doc_id, int(key) if _is_number(key) else key)


def doc_prefix(doc_id: str) -> str:
    """The list prefix of a document's records: a first cut, to be filtered with `belongs`."""
    return f"{record_base(doc_id)}{SEPARATOR}"


def split_record_id(rid: str) -> tuple[str, str] | None:
    """``(base, key)`` of a record id in this scheme; None for ids of no document."""
    base, sep, key = rid.rpartition(SEPARATOR)
    if not sep or not base or not key:
        return None
    return base, key


def belongs(rid: str, doc_id: str) -> bool:
    """Whether ``rid`` is a current-form record of document ``doc_id`` (exact)."""
    parts = split_record_id(rid)
    return parts is not None and parts[0] == record_base(doc_id)


def chunk_number(key: str) -> int | None:
    """The chunk number a key stands for, or None for a non-numeric key (a node id)."""
    return int(key) if _is_number(key) else None


def _is_number(key: str) -> bool:
    return key.isdigit() and key.isascii() and (key == "0" or not key.startswith("0"))


def chunk_numbers(ids: Iterable[str], doc_id: str) -> set[int]:
    """The chunk numbers among ``ids`` that are numbered records of ``doc_id`` (exact).

    Ingestion replaces only these, the records it writes itself; records of
    the document with other keys (node ids another writer chose) go only
    when the document is deleted by name.
    """
    base = record_base(doc_id)
    out = set()
    for rid in ids:
        parts = split_record_id(rid)
        if parts is not None and parts[0] == base:
            n = chunk_number(parts[1])
            if n is not None:
                out.add(n)
    return out


def delete_order(ids: Iterable[str]) -> list[str]:
    """Record ids in the order a document is deleted: chunk ``#0`` (the commit marker) first.

    An interrupted delete then leaves a document whose ``#0`` is gone, which
    ingestion's next run rewrites in full.
    """

    def rank(rid: str) -> tuple[int, int, str]:
        parts = split_record_id(rid)
        n = chunk_number(parts[1]) if parts else None
        return (0, n, rid) if n is not None else (1, 0, rid)

    return sorted(set(ids), key=rank)


def document_record_ids(
    list_ids: Callable[[str], Iterable[str]],
    fetch_metadata: Callable[[list[str]], dict[str, dict[str, Any]]],
    doc_id: str,
) -> list[str]:
    """Every record of document ``doc_id``: the current form, plus old-form ids it owns.

    ``list_ids(prefix)`` lists the tenant's ids under a prefix and
    ``fetch_metadata(ids)`` returns ``{id: metadata}`` (both pinned to one
    tenant, e.g. a `PinnedIndex`'s). Candidates that are not current-form
    records (other documents' records under the same prefix, old-form
    records) are fetched only when there are any, and kept only when their
    metadata's ``doc_id`` is ``doc_id``. Ordered by `delete_order`.
    """
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError(f"doc_id must be a non-empty string, got {doc_id!r}.")
    current = doc_prefix(doc_id)
    prefixes = [current]
    raw = f"{doc_id}{SEPARATOR}"
    if raw != current and raw.isascii() and "\x00" not in raw and not raw.startswith(current):
        prefixes.append(raw)  # where the old LlamaIndex store put this document
    found: dict[str, None] = {}
    candidates: dict[str, None] = {}
    for prefix in prefixes:
        for rid in list_ids(prefix):
            (found if belongs(rid, doc_id) else candidates)[rid] = None
    pending = [rid for rid in candidates if rid not in found]
    if pending:
        for rid, md in fetch_metadata(pending).items():
            if md.get(DOC_ID_KEY) == doc_id:
                found[rid] = None
    return delete_order(found)


def documents_of(ids: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(doc_id, record_id)`` for each id in this scheme (others are skipped)."""
    for rid in ids:
        parts = split_record_id(rid)
        if parts is not None:
            yield doc_id_of_base(parts[0]), rid
