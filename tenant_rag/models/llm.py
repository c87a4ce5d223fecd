"""The default chat model: ChatOpenAI when configured, else an honest extractive answerer.

:class:`ExtractiveAnswerer` is what a tenant gets with no LLM configured: a
LangChain chat model that reads the context block ``rag_chain`` puts in the
prompt (or a LlamaIndex QA prompt), picks the sentences that best match the
question, and answers with up to three quotes and their ``[n]`` citations. Its
first line says plainly that no language model is configured, so nobody
mistakes it for generation. It is deterministic and costs microseconds, which
also makes the whole RAG stack testable offline.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from tenant_rag.models._openai import OpenAISettings, openai_settings, served_models
from tenant_rag.models.extractive import Prompt, compose_answer, read_prompt

__all__ = ["ExtractiveAnswerer", "default_llm"]

CHAT_MODEL_ENV = "TENANT_RAG_CHAT_MODEL"
DEFAULT_OPENAI_CHAT_MODEL = "gpt-4o-mini"
LLM_TYPE = "tenant-rag-extractive"

_WORD_CHUNK = re.compile(r"\s*\S+|\s+$")


def _text_of(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def _prompt_of(messages: Sequence[BaseMessage]) -> Prompt | None:
    """The latest message that carries a context block, read; else None.

    Every role is searched, newest first, because custom prompts may put the
    context in the system message. A context block without a ``Question:``
    line takes the latest human message as the question.
    """
    for message in reversed(messages):
        prompt = read_prompt(_text_of(message))
        if prompt is None:
            continue
        if not prompt.question:
            humans = [m for m in messages if isinstance(m, HumanMessage) and m is not message]
            if humans:
                return Prompt(prompt.passages, _text_of(humans[-1]), prompt.existing_answer)
        return prompt
    return None


class ExtractiveAnswerer(BaseChatModel):
    """Answers by quoting the context it is given; never generates. Local fallback.

    Output: a first line saying no language model is configured (and how to
    configure one), then up to ``max_quotes`` quoted sentences each followed by
    its passage's ``[n]``; or, when the prompt has no context or nothing in it
    matches the question, a plain statement that nothing relevant was found in
    this tenant's documents. Streaming yields the same text word by word.

    Sentences are matched by words (BM25). With ``embeddings`` (any LangChain
    ``Embeddings``; `default_llm` passes the local MiniLM model), a question
    that shares no word with the context is matched by meaning instead, so
    "How long does delivery take?" finds "We ship within 2 days."
    """

    max_quotes: int = 3
    max_quote_chars: int = 400
    #: LangChain ``Embeddings`` for the by-meaning fallback; None: words only
    embeddings: Any = None

    @property
    def _llm_type(self) -> str:
        return LLM_TYPE

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "max_quotes": self.max_quotes,
            "max_quote_chars": self.max_quote_chars,
            "by_meaning": self.embeddings is not None,
        }

    def answer(self, messages: Sequence[BaseMessage]) -> str:
        """The full answer text for ``messages`` (what ``invoke`` returns as content)."""
        embed = self.embeddings.embed_documents if self.embeddings is not None else None
        return compose_answer(
            _prompt_of(messages),
            max_quotes=self.max_quotes,
            max_chars=self.max_quote_chars,
            embed=embed,
        )

    def _message(self, text: str) -> AIMessage:
        return AIMessage(content=text, response_metadata={"model_name": LLM_TYPE})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self.answer(messages)
        return ChatResult(generations=[ChatGeneration(message=self._message(text))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, None, **kwargs)

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        text = self.answer(messages)
        pieces = _WORD_CHUNK.findall(text) or [text]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            message = AIMessageChunk(
                content=piece,
                response_metadata={"model_name": LLM_TYPE} if last else {},
                chunk_position="last" if last else None,
            )
            yield ChatGenerationChunk(message=message)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


def default_llm() -> BaseChatModel:
    """``ChatOpenAI`` when a chat server is configured, else the extractive answerer.

    Configured means ``TENANT_RAG_CHAT_BASE_URL``/``OPENAI_BASE_URL`` or
    ``TENANT_RAG_CHAT_API_KEY``/``OPENAI_API_KEY`` is set (see
    `tenant_rag.models._openai`); it never changes the embedding model.

    The model is ``$TENANT_RAG_CHAT_MODEL``; without it, ``gpt-4o-mini`` on
    OpenAI, and on another server (Ollama, vLLM, llama.cpp) the one model the
    server lists at ``/models`` (several: an error naming them). Streaming. The
    extractive answerer gets the shared local embedding model for its
    by-meaning fallback (loaded only when a question matches no word). The
    environment is read on each call.
    """
    settings = openai_settings("chat")
    if settings is None:
        from tenant_rag.models.embeddings import shared_local_embeddings

        return ExtractiveAnswerer(embeddings=shared_local_embeddings())
    from langchain_openai import ChatOpenAI

    model = os.environ.get(CHAT_MODEL_ENV, "").strip() or chat_model_of(settings)
    return ChatOpenAI(
        model=model,
        streaming=True,
        api_key=settings.api_key,  # type: ignore[arg-type]
        base_url=settings.base_url,
    )


def chat_model_of(settings: OpenAISettings) -> str:
    """The chat model when ``TENANT_RAG_CHAT_MODEL`` is unset.

    OpenAI itself: ``gpt-4o-mini``. A compatible server usually serves one
    model (vLLM, llama.cpp server), so pointing at it is one variable: its
    only model is used. Several (Ollama with more than one pulled): the error
    lists them.
    """
    if not settings.custom_server:
        return DEFAULT_OPENAI_CHAT_MODEL
    from tenant_rag.errors import ConfigurationError

    models = served_models(settings)
    if len(models) == 1:
        return models[0]
    where = f"the chat server at {settings.base_url}"
    if not models:
        raise ConfigurationError(f"{where} lists no model; set TENANT_RAG_CHAT_MODEL.")
    raise ConfigurationError(
        f"{where} serves {len(models)} models ({', '.join(models[:10])}); choose one with "
        "TENANT_RAG_CHAT_MODEL."
    )
