"""Chunking: LangChain text splitters, plus a fingerprint of the chunking configuration.

The default is `langchain_text_splitters.RecursiveCharacterTextSplitter`;
any LangChain ``TextSplitter`` (anything with ``split_text(str) -> list[str]``)
can be passed instead. The fingerprint goes into each document's content
hash, so changing the splitter or its settings (or the embedding model)
makes the next run re-ingest every document instead of reporting it
unchanged while its stored chunks follow the old configuration.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from langchain_text_splitters import RecursiveCharacterTextSplitter


class Splitter(Protocol):
    """What ingestion needs from a splitter (every LangChain ``TextSplitter`` has it)."""

    def split_text(self, text: str) -> list[str]: ...


def default_splitter(chunk_size: int = 1000, chunk_overlap: int = 150) -> Splitter:
    """Recursive character splitting (paragraphs, then lines, then words)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}.")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError(
            f"chunk_overlap must be at least 0 and below chunk_size ({chunk_size}), "
            f"got {chunk_overlap}."
        )
    return RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)


def _plain(value: Any) -> Any:
    """A JSON-stable view of a configuration value (callables by name, objects by type)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if callable(value):
        return getattr(value, "__qualname__", type(value).__qualname__)
    return type(value).__qualname__


def splitter_fingerprint(splitter: Any) -> dict[str, Any]:
    """The splitter's class and its public settings (private ``_x`` attributes as LangChain stores them)."""
    settings = {k: _plain(v) for k, v in sorted(vars(splitter).items()) if not k.startswith("__")}
    return {"splitter": f"{type(splitter).__module__}.{type(splitter).__qualname__}", **settings}


def embedding_fingerprint(embedding: Any) -> dict[str, Any]:
    """The embedding model's identity: class, model name and dimension where it says them."""
    out: dict[str, Any] = {"embedding": type(embedding).__qualname__}
    for attr in ("model", "model_name", "dimension", "dimensions"):
        value = getattr(embedding, attr, None)
        if isinstance(value, str | int):
            out[attr] = value
    return out


def config_fingerprint(splitter: Any, embedding: Any) -> str:
    """A short hash of the chunking and embedding configuration."""
    blob = json.dumps(
        {**splitter_fingerprint(splitter), **embedding_fingerprint(embedding)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def split(splitter: Splitter, text: str) -> list[str]:
    """Non-empty chunks of ``text``; a splitter that returns none gives the stripped text."""
    chunks = [c for c in splitter.split_text(text) if c.strip()]
    return chunks or ([text.strip()] if text.strip() else [])
