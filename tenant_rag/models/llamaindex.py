"""The default models as LlamaIndex objects, built from the same choice.

``default_embed_model()`` wraps :func:`~tenant_rag.models.default_embeddings`
in LlamaIndex's ``LangchainEmbedding``; ``default_llamaindex_llm()`` wraps
:func:`~tenant_rag.models.default_llm` in :class:`LangChainChatLLM`. So the
LlamaIndex path and the LangChain path always use the same models and the same
environment switch.

Why not ``llama_index.llms.langchain.LangChainLLM`` as it is: in
llama-index-llms-langchain 0.9.0 its ``metadata``, ``chat`` and streaming
methods import ``llama_index.core.bridge.langchain``, which needs
``langchain_classic`` and ``langchain_community`` (and, for ``ChatOpenAI``,
``llama-index-llms-openai``): heavy packages this project does not install,
so every call raised ``ModuleNotFoundError``. :class:`LangChainChatLLM`
subclasses it (``isinstance`` checks and ``.llm`` still work) and replaces
those methods with direct ``langchain_core`` message handling, with real
async and token streaming.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.embeddings.langchain import LangchainEmbedding
from llama_index.llms.langchain import LangChainLLM

from tenant_rag.models.embeddings import default_embeddings
from tenant_rag.models.llm import ExtractiveAnswerer, default_llm

__all__ = ["LangChainChatLLM", "default_embed_model", "default_llamaindex_llm"]

#: Batch size LlamaIndex uses when it embeds nodes through the LangChain model.
EMBED_BATCH_SIZE = 64

# Context windows LlamaIndex packs prompts to. The extractive answerer reads any
# length, so a large window makes "compact" answer in one call; OpenAI's current
# chat models take 128k; an unknown model on a compatible server gets a
# conservative 8k.
_EXTRACTIVE_WINDOW = 100_000
_OPENAI_WINDOW = 128_000
_UNKNOWN_WINDOW = 8_192


def _model_name(llm: BaseChatModel) -> str:
    for attr in ("model_name", "model"):
        value = getattr(llm, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(llm).__name__


def _context_window(llm: BaseChatModel) -> int:
    if isinstance(llm, ExtractiveAnswerer):
        return _EXTRACTIVE_WINDOW
    name = _model_name(llm)
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")):
        return _OPENAI_WINDOW
    return _UNKNOWN_WINDOW


def _to_langchain(messages: Sequence[ChatMessage]) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for message in messages:
        text = message.content or ""
        if message.role == MessageRole.SYSTEM:
            out.append(SystemMessage(content=text))
        elif message.role in (MessageRole.ASSISTANT, MessageRole.CHATBOT):
            out.append(AIMessage(content=text))
        else:  # user, and tool/function results as plain text
            out.append(HumanMessage(content=text))
    return out


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        block if isinstance(block, str) else str(block.get("text", ""))
        for block in content
        if isinstance(block, str) or block.get("type") == "text"
    )


class LangChainChatLLM(LangChainLLM):
    """A LangChain chat model as a LlamaIndex ``LLM`` (chat, complete, stream, async)."""

    @classmethod
    def class_name(cls) -> str:
        return "TenantRagLangChainChatLLM"

    @property
    def metadata(self) -> LLMMetadata:
        llm: BaseChatModel = self.llm  # type: ignore[assignment]
        return LLMMetadata(
            context_window=_context_window(llm),
            num_output=512,
            is_chat_model=True,
            model_name=_model_name(llm),
        )

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        reply = self.llm.invoke(_to_langchain(messages), **kwargs)
        text = _text(reply) if isinstance(reply, BaseMessage) else str(reply)
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        if not formatted:
            prompt = self.completion_to_prompt(prompt)  # type: ignore[misc]
        reply = self.llm.invoke([HumanMessage(content=prompt)], **kwargs)
        return CompletionResponse(
            text=_text(reply) if isinstance(reply, BaseMessage) else str(reply)
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        lc_messages = _to_langchain(messages)

        def gen() -> Generator[ChatResponse, None, None]:
            text = ""
            for chunk in self.llm.stream(lc_messages, **kwargs):
                delta = _text(chunk) if isinstance(chunk, BaseMessage) else str(chunk)
                text += delta
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta
                )

        return gen()

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        if not formatted:
            prompt = self.completion_to_prompt(prompt)  # type: ignore[misc]
        lc_messages: list[BaseMessage] = [HumanMessage(content=prompt)]

        def gen() -> Generator[CompletionResponse, None, None]:
            text = ""
            for chunk in self.llm.stream(lc_messages, **kwargs):
                delta = _text(chunk) if isinstance(chunk, BaseMessage) else str(chunk)
                text += delta
                yield CompletionResponse(text=text, delta=delta)

        return gen()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        reply = await self.llm.ainvoke(_to_langchain(messages), **kwargs)
        text = _text(reply) if isinstance(reply, BaseMessage) else str(reply)
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        if not formatted:
            prompt = self.completion_to_prompt(prompt)  # type: ignore[misc]
        reply = await self.llm.ainvoke([HumanMessage(content=prompt)], **kwargs)
        return CompletionResponse(
            text=_text(reply) if isinstance(reply, BaseMessage) else str(reply)
        )

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        lc_messages = _to_langchain(messages)

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            text = ""
            async for chunk in self.llm.astream(lc_messages, **kwargs):
                delta = _text(chunk) if isinstance(chunk, BaseMessage) else str(chunk)
                text += delta
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta
                )

        return gen()

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        if not formatted:
            prompt = self.completion_to_prompt(prompt)  # type: ignore[misc]
        lc_messages: list[BaseMessage] = [HumanMessage(content=prompt)]

        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            text = ""
            async for chunk in self.llm.astream(lc_messages, **kwargs):
                delta = _text(chunk) if isinstance(chunk, BaseMessage) else str(chunk)
                text += delta
                yield CompletionResponse(text=text, delta=delta)

        return gen()


def default_embed_model() -> BaseEmbedding:
    """:func:`default_embeddings` as a LlamaIndex embedding model."""
    embeddings = default_embeddings()
    return LangchainEmbedding(embeddings, embed_batch_size=EMBED_BATCH_SIZE)


def default_llamaindex_llm() -> LangChainChatLLM:
    """:func:`default_llm` as a LlamaIndex LLM (``ExtractiveAnswerer`` when none is configured)."""
    return LangChainChatLLM(llm=default_llm())  # type: ignore[call-arg]
