"""Which embedding model and LLM the LlamaIndex objects use, decided explicitly.

LlamaIndex resolves a missing model from its global ``Settings``, whose
defaults are OpenAI: without a key that fails late, and with one it silently
sends tenant documents to a service nobody chose. So every tenant_rag
LlamaIndex object is built with explicit models, resolved here:

* given a LlamaIndex model: used as is;
* given a LangChain model: wrapped with LlamaIndex's LangChain embedding adapter, or
  `tenant_rag.models.llamaindex.LangChainChatLLM` for chat models;
* given nothing: the project's default (OpenAI when configured, else the
  local model), from `tenant_rag.models.llamaindex`.

Strings (``"default"``, ``"local:..."``) are refused: LlamaIndex would turn
them into OpenAI or a model download.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import LLM

from tenant_rag.errors import ConfigurationError


def resolve_embed_model(embed_model: Any = None) -> BaseEmbedding:
    """A LlamaIndex embedding model for ``embed_model`` (see the module docstring)."""
    if embed_model is None:
        try:
            from tenant_rag.models.llamaindex import default_embed_model
        except ImportError as exc:  # pragma: no cover - only while models are missing
            raise ConfigurationError(
                "no default LlamaIndex embedding model is available "
                f"({exc}); pass embed_model= explicitly."
            ) from exc
        return default_embed_model()
    if isinstance(embed_model, BaseEmbedding):
        return embed_model
    if isinstance(embed_model, str):
        raise ConfigurationError(
            f"embed_model={embed_model!r}: model names are not resolved here, because "
            "LlamaIndex would pick OpenAI or download a model. Pass a model object."
        )
    if _is_langchain_embeddings(embed_model):
        from llama_index.embeddings.langchain import LangchainEmbedding

        return LangchainEmbedding(embed_model)
    raise ConfigurationError(
        f"embed_model must be a LlamaIndex BaseEmbedding or a LangChain Embeddings, got "
        f"{type(embed_model).__name__}."
    )


def resolve_llm(llm: Any = None) -> LLM:
    """A LlamaIndex LLM for ``llm`` (see the module docstring)."""
    if llm is None:
        try:
            from tenant_rag.models.llamaindex import default_llamaindex_llm
        except ImportError as exc:  # pragma: no cover - only while models are missing
            raise ConfigurationError(
                f"no default LlamaIndex LLM is available ({exc}); pass llm= explicitly."
            ) from exc
        return default_llamaindex_llm()
    if isinstance(llm, LLM):
        return llm
    if isinstance(llm, str):
        raise ConfigurationError(
            f"llm={llm!r}: model names are not resolved here, because LlamaIndex would "
            "pick OpenAI. Pass a model object."
        )
    if _is_langchain_model(llm):
        # The project's adapter: upstream LangChainLLM (0.9.0) needs
        # langchain_community for chat, which is not installed.
        from tenant_rag.models.llamaindex import LangChainChatLLM

        return LangChainChatLLM(llm=llm)  # type: ignore[call-arg]
    raise ConfigurationError(
        f"llm must be a LlamaIndex LLM or a LangChain language model, got {type(llm).__name__}."
    )


def _is_langchain_embeddings(obj: Any) -> bool:
    try:
        from langchain_core.embeddings import Embeddings
    except ImportError:  # pragma: no cover - langchain-core is a dependency
        return False
    return isinstance(obj, Embeddings)


def _is_langchain_model(obj: Any) -> bool:
    try:
        from langchain_core.language_models import BaseLanguageModel
    except ImportError:  # pragma: no cover - langchain-core is a dependency
        return False
    return isinstance(obj, BaseLanguageModel)
