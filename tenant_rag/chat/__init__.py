"""The chatbot backend: a FastAPI app serving per-tenant RAG chat over SSE.

Start it with ``tenant-rag chat-server --keys keys.json`` (or
``python -m tenant_rag.chat``). Each tenant has its own bearer key; the key
alone decides the tenant, so no request can name another tenant's data.

Routes: ``POST /chat`` (SSE: token, sources, done), ``POST /documents``,
``GET /documents``, ``DELETE /documents/{doc_id}``, admin-only
``DELETE /tenants/{id}``, ``GET /me``, ``GET /healthz``, and the chat page at ``/``.
"""

from tenant_rag.chat.app import DEFAULT_INDEX, create_chat_app
from tenant_rag.chat.config import KeyRing, Principal, load_keys
from tenant_rag.chat.service import ChatLimits

__all__ = ["DEFAULT_INDEX", "KeyRing", "ChatLimits", "Principal", "create_chat_app", "load_keys"]
