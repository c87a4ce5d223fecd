"""``rag_chain``: retrieve, answer, cite — one LCEL runnable.

Input::

    {"question": "How many vacation days?",
     "chat_history": [("user", "hi"), ("assistant", "hello")]}   # optional

``chat_history`` items may be ``(role, text)`` tuples, ``BaseMessage`` objects
or message dicts; a bare string input is taken as the question.

Output of ``invoke`` / ``batch``::

    {"answer": "...",
     "sources": [{"id": "handbook.md#0", "doc_id": "handbook.md", "score": 0.83,
                  "text": "...", "metadata": {...}}, ...]}

``stream`` / ``astream`` yield ``{"answer": "<token>"}`` chunks as the model
produces them (at least one, possibly ``""``), then exactly one
``{"sources": [...]}`` chunk last. Chunks are LangChain ``AddableDict``s, so
``sum``-ing them (or ``a + b``) rebuilds the ``invoke`` output.

Retrieval uses the question as typed (the history goes to the model, not to
the retriever). Passages reach the model in the shared context format of
:mod:`tenant_rag.context`, which the local
:class:`~tenant_rag.models.llm.ExtractiveAnswerer` reads back. ``score`` is the
raw Pinecone score that tenant retrievers put in ``metadata["score"]``
(``None`` for retrievers that do not).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage, convert_to_messages
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.prompts.base import BasePromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableGenerator,
    RunnableLambda,
    RunnablePassthrough,
)
from langchain_core.runnables.utils import AddableDict

from tenant_rag.context import SCORE_KEY, doc_id_of, format_context, format_question

SYSTEM_PROMPT = (
    "You answer questions for one organisation, using only the numbered passages inside "
    "<context>. Cite the passages you use as [n]. If the passages do not contain the answer, "
    "say so plainly instead of guessing."
)


def default_prompt() -> ChatPromptTemplate:
    """The default prompt: system rules, the chat history, then context + question.

    A custom ``prompt`` gets the same variables: ``question``, ``context``
    (the ``<context>`` block), ``input`` (context block + ``Question: ...``,
    the default human message) and ``chat_history`` (a list of messages).
    """
    return ChatPromptTemplate.from_messages(
        [
            ("system", SYSTEM_PROMPT),
            MessagesPlaceholder("chat_history", optional=True),
            ("human", "{input}"),
        ]
    )


def sources_of(docs: Sequence[Document]) -> list[dict[str, Any]]:
    """The ``sources`` list for retrieved documents, in retrieval order."""
    out = []
    for doc in docs:
        metadata = dict(doc.metadata)
        score = metadata.pop(SCORE_KEY, None)
        out.append(
            {
                "id": doc.id,
                "doc_id": doc_id_of(doc),
                "score": float(score) if score is not None else None,
                "text": doc.page_content,
                "metadata": metadata,
            }
        )
    return out


def _normalise_input(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"question": value}
    if not isinstance(value, Mapping):
        raise TypeError(
            "rag_chain input must be {'question': str, 'chat_history': [...]} or a string, "
            f"got {type(value).__name__}."
        )
    question = value.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("rag_chain input needs a non-empty 'question' string.")
    history = value.get("chat_history") or []
    messages: list[BaseMessage] = convert_to_messages(list(history))
    return {"question": question, "chat_history": messages}


def _chunk_text(chunk: Any) -> str:
    if isinstance(chunk, str):
        return chunk
    content = getattr(chunk, "content", chunk)
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _collect(chunks: Iterator[Any]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for chunk in chunks:
        state.update(chunk)
    return state


async def _acollect(chunks: AsyncIterator[Any]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    async for chunk in chunks:
        state.update(chunk)
    return state


class _Answerer:
    """The streaming tail of the chain: prompt the model, stream tokens, then sources."""

    def __init__(self, llm: Runnable, prompt: BasePromptTemplate) -> None:
        self.llm = llm
        self.prompt = prompt

    def _variables(self, state: Mapping[str, Any]) -> dict[str, Any]:
        docs = state["docs"]
        return {
            "question": state["question"],
            "chat_history": state["chat_history"],
            "context": format_context(docs),
            "input": format_question(docs, state["question"]),
        }

    def transform(self, inputs: Iterator[Any], config: RunnableConfig) -> Iterator[AddableDict]:
        state = _collect(inputs)
        messages = self.prompt.invoke(self._variables(state), config)
        sent = False
        for chunk in self.llm.stream(messages, config):
            text = _chunk_text(chunk)
            if text:
                sent = True
                yield AddableDict(answer=text)
        if not sent:
            yield AddableDict(answer="")
        yield AddableDict(sources=sources_of(state["docs"]))

    async def atransform(
        self, inputs: AsyncIterator[Any], config: RunnableConfig
    ) -> AsyncIterator[AddableDict]:
        state = await _acollect(inputs)
        messages = await self.prompt.ainvoke(self._variables(state), config)
        sent = False
        async for chunk in self.llm.astream(messages, config):
            text = _chunk_text(chunk)
            if text:
                sent = True
                yield AddableDict(answer=text)
        if not sent:
            yield AddableDict(answer="")
        yield AddableDict(sources=sources_of(state["docs"]))


def rag_chain(
    retriever: BaseRetriever | Runnable,
    llm: BaseLanguageModel | Runnable | None = None,
    *,
    prompt: BasePromptTemplate | None = None,
) -> Runnable:
    """Retrieval-augmented answering over ``retriever`` as one LCEL runnable.

    ``retriever`` is any LangChain retriever; with :func:`tenant_retriever` the
    chain can only ever see one tenant, and with :func:`per_request_retriever`
    each call names its tenant in ``config["configurable"]["tenant_id"]``.
    ``llm`` defaults to :func:`tenant_rag.models.llm.default_llm` (OpenAI when
    configured, else the extractive answerer). See the module docs for the
    input, output and streaming shapes.
    """
    if llm is None:
        from tenant_rag.models.llm import default_llm

        llm = default_llm()
    answerer = _Answerer(llm, prompt or default_prompt())
    prepare = RunnableLambda(_normalise_input).with_config(run_name="prepare_input")
    retrieve = RunnablePassthrough.assign(docs=itemgetter("question") | retriever).with_config(
        run_name="retrieve"
    )
    answer: Runnable = RunnableGenerator(
        answerer.transform,  # type: ignore[arg-type]  # takes config, LangChain passes it
        answerer.atransform,  # type: ignore[arg-type]
        name="answer_with_sources",
    )
    return (prepare | retrieve | answer).with_config(run_name="rag_chain")


def per_request_rag_chain(
    index: Any,
    embedding: Embeddings,
    llm: BaseLanguageModel | Runnable | None = None,
    *,
    prompt: BasePromptTemplate | None = None,
    **retriever_kwargs: Any,
) -> Runnable:
    """``rag_chain`` over a :func:`per_request_retriever`: one chain for every tenant.

    ``chain.invoke({"question": q}, config={"configurable": {"tenant_id": "acme"}})``.
    A call without a tenant raises :class:`TenantIsolationError` before any
    model is called. ``retriever_kwargs`` are those of ``per_request_retriever``
    (``k``, ``search_type``, ``isolation``, ``filter``, ...).
    """
    from tenant_rag.stores.per_request import per_request_retriever

    retriever = per_request_retriever(index, embedding, **retriever_kwargs)
    return rag_chain(retriever, llm, prompt=prompt)


__all__ = ["default_prompt", "per_request_rag_chain", "rag_chain", "sources_of"]
