"""When and how tenant_rag uses an OpenAI-compatible service.

One rule for embeddings and chat alike: the service is configured when
``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` is set to a non-blank value.
``OPENAI_BASE_URL`` alone means an OpenAI-compatible server that needs no key
(vLLM, llama.cpp, Ollama, LM Studio, a test fake); the OpenAI client refuses
to start without some key, so a placeholder is passed then. Both values are
passed explicitly rather than left to the SDK's own environment lookup, so
what :func:`openai_settings` reports is exactly what the client uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Sent as the API key when only ``OPENAI_BASE_URL`` is set.
PLACEHOLDER_API_KEY = "tenant-rag-no-key"


@dataclass(frozen=True)
class OpenAISettings:
    """The key and base URL to use (``base_url`` None means the OpenAI cloud)."""

    api_key: str
    base_url: str | None

    @property
    def custom_server(self) -> bool:
        """True when requests go to a base URL other than the SDK default."""
        return self.base_url is not None


def openai_settings() -> OpenAISettings | None:
    """The configured OpenAI-compatible service, or None to use local models."""
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    base = os.environ.get("OPENAI_BASE_URL", "").strip()
    if not key and not base:
        return None
    return OpenAISettings(api_key=key or PLACEHOLDER_API_KEY, base_url=base or None)
