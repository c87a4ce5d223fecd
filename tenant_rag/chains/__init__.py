"""LangChain chains over tenant-pinned retrievers (``rag_chain``) and their context format."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "rag_chain": "tenant_rag.chains.rag",
    "per_request_rag_chain": "tenant_rag.chains.rag",
    "format_context": "tenant_rag.context",
    "parse_context": "tenant_rag.context",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenant_rag.chains' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
