"""Where tenant_rag's OpenAI-compatible requests go, for chat and for embeddings separately.

Choosing the chat model and choosing the embedding model are separate
decisions, so each has its own settings, each falling back to the shared
OpenAI variables:

* chat: ``TENANT_RAG_CHAT_BASE_URL`` else ``OPENAI_BASE_URL``;
  ``TENANT_RAG_CHAT_API_KEY`` else ``OPENAI_API_KEY``.
* embeddings: ``TENANT_RAG_EMBEDDING_BASE_URL`` else ``OPENAI_BASE_URL``;
  ``TENANT_RAG_EMBEDDING_API_KEY`` else ``OPENAI_API_KEY``.

A side is configured when its key or base URL is set to a non-blank value.
A base URL without a key means an OpenAI-compatible server that needs none
(Ollama, vLLM, llama.cpp, LM Studio, a test fake); the OpenAI client refuses
to start without some key, so a placeholder is passed then. Values are passed
explicitly rather than left to the SDK's own environment lookup, so what
:func:`openai_settings` reports is exactly what the client uses.

Configuring chat never changes the embedding model: embeddings stay local
unless ``TENANT_RAG_EMBEDDING_MODEL`` names a remote model (see
`tenant_rag.models.embeddings`), so an OpenAI key cannot silently change the
vectors an existing index was built with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

#: Sent as the API key when only a base URL is set.
PLACEHOLDER_API_KEY = "tenant-rag-no-key"

Purpose = Literal["chat", "embedding"]

#: (base URL variable, key variable) of each purpose, before the shared OPENAI_* ones
PURPOSE_ENV: dict[str, tuple[str, str]] = {
    "chat": ("TENANT_RAG_CHAT_BASE_URL", "TENANT_RAG_CHAT_API_KEY"),
    "embedding": ("TENANT_RAG_EMBEDDING_BASE_URL", "TENANT_RAG_EMBEDDING_API_KEY"),
}


@dataclass(frozen=True)
class OpenAISettings:
    """The key and base URL to use (``base_url`` None means the OpenAI cloud)."""

    api_key: str
    base_url: str | None
    #: the variable the base URL came from (for messages), or None
    base_url_env: str | None = None

    @property
    def custom_server(self) -> bool:
        """True when requests go to a base URL other than the SDK default."""
        return self.base_url is not None


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def openai_settings(purpose: Purpose = "chat") -> OpenAISettings | None:
    """The OpenAI-compatible service configured for ``purpose``, or None (local models)."""
    base_var, key_var = PURPOSE_ENV[purpose]
    key = _env(key_var) or _env("OPENAI_API_KEY")
    base_env = (
        base_var if _env(base_var) else ("OPENAI_BASE_URL" if _env("OPENAI_BASE_URL") else None)
    )
    base = _env(base_env) if base_env else ""
    if not key and not base:
        return None
    return OpenAISettings(
        api_key=key or PLACEHOLDER_API_KEY, base_url=base or None, base_url_env=base_env
    )


def served_models(settings: OpenAISettings, *, timeout: float = 5.0) -> list[str]:
    """The model ids an OpenAI-compatible server lists at ``GET {base_url}/models``.

    Raises ``ConfigurationError`` naming the server when it cannot be asked.
    """
    import json
    import urllib.error
    import urllib.request

    from tenant_rag.errors import ConfigurationError

    base = (settings.base_url or "https://api.openai.com/v1").rstrip("/")
    request = urllib.request.Request(
        f"{base}/models", headers={"Authorization": f"Bearer {settings.api_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - configured URL
            body = json.loads(resp.read())
        return [str(m["id"]) for m in body.get("data", []) if isinstance(m, dict) and m.get("id")]
    except (OSError, ValueError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ConfigurationError(
            f"could not ask the server at {base} which models it serves ({reason}). Is it "
            "running? Or name the chat model with TENANT_RAG_CHAT_MODEL."
        ) from None
