"""The chatbot backend: a FastAPI app serving per-tenant RAG chat over SSE.

Start it with ``tenant-rag chat-server --keys keys.json`` (or
``python -m tenant_rag.chat``). Each tenant has its own bearer key; the key
alone decides the tenant, so no request can name another tenant's data.

Routes: ``POST /chat`` (SSE: token, sources, done), ``POST /documents``,
``GET /documents``, ``DELETE /documents/{doc_id}``, admin-only
``DELETE /tenants/{id}``, ``GET /me``, ``GET /healthz``, and the chat page at ``/``.

The names below are loaded on first use, so the CLI, which registers
``chat-server`` from `tenant_rag.chat.command`, does not import FastAPI to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DEFAULT_INDEX": "tenant_rag.chat.app",
    "create_chat_app": "tenant_rag.chat.app",
    "KeyRing": "tenant_rag.chat.config",
    "Principal": "tenant_rag.chat.config",
    "load_keys": "tenant_rag.chat.config",
    "ChatLimits": "tenant_rag.chat.service",
}

__all__ = [
    "DEFAULT_INDEX",
    "ChatLimits",
    "KeyRing",
    "Principal",
    "create_chat_app",
    "load_keys",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenant_rag.chat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from tenant_rag.chat.app import DEFAULT_INDEX, create_chat_app
    from tenant_rag.chat.config import KeyRing, Principal, load_keys
    from tenant_rag.chat.service import ChatLimits
