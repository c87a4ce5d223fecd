"""``POST /chat``: the tenant's RAG answer, streamed over Server-Sent Events.

Events, in order: ``notice`` (JSON ``{"text": ...}``, at most once: the
extractive answerer's "No language model is configured" line, taken out of
the answer so a chat page can say it once rather than in every answer),
``token`` (JSON ``{"text": ...}``, repeated), ``sources`` (JSON list of
``{id, doc_id, score, text}``), ``done``. If the chain fails
after the stream has started, an ``error`` event (JSON ``{detail, code}``)
replaces ``sources``/``done``. The chain's first chunk is awaited before the
response starts, so failures up to retrieval (a quota, a store error) still
get a proper 4xx status instead of a broken stream.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from tenant_rag.chat.auth import AclReader, Tenant
from tenant_rag.chat.errors import ChatApiError, error_body, status_for
from tenant_rag.chat.service import ChatService, ForegroundGate, service_of
from tenant_rag.errors import TenantRagError
from tenant_rag.models.extractive import NO_LLM_NOTICE

router = APIRouter()
log = logging.getLogger("tenant_rag.chat")
_ROLES = {"user": "human", "human": "human", "assistant": "ai", "ai": "ai"}


class ChatTurn(BaseModel):
    """One earlier message of the conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "human", "ai"]
    content: str = Field(max_length=20_000)


class ChatRequest(BaseModel):
    """The chat body. There is deliberately no tenant field: extra fields are refused."""

    model_config = ConfigDict(extra="forbid")
    question: str
    chat_history: list[ChatTurn] = Field(default_factory=list)

    @field_validator("question")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty; ask a question")
        return value


def _source(item: Any) -> dict[str, Any]:
    """The public shape of one source: ``{id, doc_id, score, text}``."""
    if not isinstance(item, Mapping):  # a LangChain Document
        metadata = dict(getattr(item, "metadata", None) or {})
        item = {
            "id": getattr(item, "id", None) or metadata.get("id"),
            "doc_id": metadata.get("doc_id"),
            "score": metadata.get("score"),
            "text": getattr(item, "page_content", ""),
            "metadata": metadata,
        }
    metadata = item.get("metadata") or {}
    score = item.get("score")
    return {
        "id": item.get("id"),
        "doc_id": item.get("doc_id") or metadata.get("doc_id"),
        "score": float(score) if score is not None else None,
        "text": item.get("text") or "",
    }


def _pieces(chunk: Any) -> tuple[str, list[Any] | None]:
    """Split one streamed chain chunk into (answer text, sources if present)."""
    if isinstance(chunk, str):
        return chunk, None
    if isinstance(chunk, Mapping):
        answer = chunk.get("answer")
        text = answer if isinstance(answer, str) else getattr(answer, "content", "") or ""
        sources = chunk.get("sources")
        return text, list(sources) if sources is not None else None
    return str(getattr(chunk, "content", "") or ""), None


@router.post("/chat")
async def chat(
    body: ChatRequest,
    tenant: Tenant,
    reader: AclReader,
    service: Annotated[ChatService, Depends(service_of)],
) -> EventSourceResponse:
    limits = service.limits
    if len(body.question) > limits.max_question_chars:
        raise ChatApiError(
            422,
            "question_too_long",
            f"question is {len(body.question)} characters; the limit is "
            f"{limits.max_question_chars}.",
        )
    history = [(_ROLES[t.role], t.content) for t in body.chat_history[-limits.max_history_turns :]]
    # ingestion jobs give way while this question is answered (ChatService.foreground)
    release = _once(service.foreground)
    try:
        # the retriever reads for the caller: a user's token sees only what its ACLs allow
        stream = service.chain(tenant, reader).astream(
            {"question": body.question, "chat_history": history}
        )
        iterator = aiter(stream)
        try:
            first = await anext(iterator)
        except StopAsyncIteration:
            first = None
    except BaseException:
        release()
        raise
    return EventSourceResponse(
        _events(first, iterator, tenant, release),
        ping=15,
        sep="\n",
        background=BackgroundTask(release),  # also when the stream never started
    )


def _once(gate: ForegroundGate) -> Callable[[], None]:
    """Enter ``gate`` now; the returned function leaves it, once, however often called."""
    gate.enter()
    left = False

    def release() -> None:
        nonlocal left
        if not left:
            left = True
            gate.leave()

    return release


class _NoticeSplitter:
    """Takes the no-language-model notice off the start of an answer's text, if it is there.

    Text is held back only until it can no longer be the notice's first line.
    """

    def __init__(self) -> None:
        self.head: str | None = ""  # None once decided
        self.notice: str | None = None

    def feed(self, text: str) -> str:
        if self.head is None:
            return text
        self.head += text
        line = NO_LLM_NOTICE + "\n"
        if self.head.startswith(line):
            self.notice, rest = NO_LLM_NOTICE, self.head[len(line) :]
        elif line.startswith(self.head):
            return ""  # still possibly the notice: wait for more
        else:
            rest = self.head
        self.head = None
        return rest

    def flush(self) -> str:
        rest, self.head = self.head or "", None
        return rest


async def _events(
    first: Any, rest: AsyncIterator[Any], tenant: str, release: Callable[[], None]
) -> AsyncIterator[dict[str, str]]:
    try:
        async for event in _answer_events(first, rest, tenant):
            yield event
    finally:
        release()


async def _answer_events(
    first: Any, rest: AsyncIterator[Any], tenant: str
) -> AsyncIterator[dict[str, str]]:
    sources: list[Any] = []
    pending = [first] if first is not None else []
    notice = _NoticeSplitter()
    try:
        while True:
            if pending:
                chunk = pending.pop()
            else:
                try:
                    chunk = await anext(rest)
                except StopAsyncIteration:
                    break
            text, found = _pieces(chunk)
            if text:
                text = notice.feed(text)
                if notice.notice is not None:
                    yield {"event": "notice", "data": json.dumps({"text": notice.notice})}
                    notice.notice = None
                if text:
                    yield {"event": "token", "data": json.dumps({"text": text})}
            if found is not None:
                sources = found
        if tail := notice.flush():
            yield {"event": "token", "data": json.dumps({"text": tail})}
    except TenantRagError as exc:
        status, code = status_for(exc)
        yield {"event": "error", "data": json.dumps(error_body(code, str(exc), status=status))}
        return
    except Exception as exc:  # the stream has started: report, do not crash the response
        log.error("chat stream failed for tenant=%s: %s", tenant, type(exc).__name__, exc_info=exc)
        body = error_body("internal_error", "the answer stream failed; see the server log.")
        yield {"event": "error", "data": json.dumps(body)}
        return
    yield {"event": "sources", "data": json.dumps([_source(s) for s in sources])}
    yield {"event": "done", "data": json.dumps({"ok": True})}
