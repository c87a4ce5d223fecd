"""Deprecated: the chatbot backend is `tenant_rag.chat`. This alias goes in the next release.

``tenant_rag.server`` was renamed so that it is not confused with the
embedded Pinecone server (`tenant_rag.local`). Importing it warns
(`DeprecationWarning`) and gives the old names: ``create_app`` (now
`tenant_rag.chat.create_chat_app`), ``Limits`` (now `tenant_rag.chat.ChatLimits`),
``KeyRing``, ``Principal``, ``load_keys``, ``DEFAULT_INDEX``.
``python -m tenant_rag.server`` still starts the backend. Submodules
(``tenant_rag.server.config``, ...) are not aliased: import them from `tenant_rag.chat`.
"""

from __future__ import annotations

import warnings

from tenant_rag.chat.app import DEFAULT_INDEX
from tenant_rag.chat.app import create_chat_app as create_app
from tenant_rag.chat.config import KeyRing, Principal, load_keys
from tenant_rag.chat.service import ChatLimits as Limits

warnings.warn(
    "tenant_rag.server was renamed tenant_rag.chat (create_app -> create_chat_app, "
    "Limits -> ChatLimits); the old name goes in the next release.",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["DEFAULT_INDEX", "KeyRing", "Limits", "Principal", "create_app", "load_keys"]
