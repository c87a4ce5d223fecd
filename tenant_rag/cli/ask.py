"""``tenant-rag ask``: a streamed answer from the tenant's documents, then its sources.

The chain is `rag_chain` over a `tenant_retriever`, with the default models
(OpenAI when configured, else the local MiniLM embeddings and the extractive
answerer), so the answer can only draw on the named tenant's documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tenant_rag.cli._common import (
    IndexOption,
    IsolationOption,
    JsonOption,
    Output,
    TenantOption,
    check_tenant,
    client,
    dimension_of,
    embeddings,
    isolation_of,
    open_index,
    require_tenant,
    snippet,
)


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question.", show_default=False)],
    tenant: TenantOption,
    index: IndexOption = "rag",
    k: Annotated[int, typer.Option("-k", "--top-k", min=1, max=50, help="Passages to use.")] = 4,
    isolation: IsolationOption = "namespace",
    json_output: JsonOption = False,
) -> None:
    """Answer QUESTION from the tenant's documents (streamed), then list the sources."""
    out = Output(ctx, json_output)
    check_tenant(tenant)
    if not question.strip():
        raise typer.BadParameter("the question is empty", param_hint="QUESTION")
    mode = isolation_of(isolation)
    pc = client(ctx)
    require_tenant(open_index(pc, index), tenant, mode)  # before loading a model
    emb = embeddings(pc, index)  # the model the index was built with
    ix = open_index(pc, index, dimension=dimension_of(emb))
    on_token = None if out.json_mode else _printer(out.console)
    result = answer(ix, tenant, question, emb, k=k, isolation=mode, on_token=on_token)
    if out.json_mode:
        out.json({"tenant": tenant, "index": index, "question": question, **result})
        return
    out.console.print()
    out.console.print(sources_table(result["sources"]))


def answer(
    index: Any,
    tenant: str,
    question: str,
    emb: Any,
    *,
    k: int = 4,
    isolation: Any = "namespace",
    on_token: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the tenant's RAG chain, calling ``on_token`` per streamed piece; shared with ``demo``."""
    from tenant_rag.chains.rag import rag_chain
    from tenant_rag.stores.langchain import tenant_retriever

    retriever = tenant_retriever(index, tenant, emb, k=k, isolation=isolation)
    parts: list[str] = []
    sources: list[dict[str, Any]] = []
    for chunk in rag_chain(retriever).stream({"question": question}):
        text = chunk.get("answer")
        if text:
            parts.append(text)
            if on_token is not None:
                on_token(text)
        if "sources" in chunk:
            sources = list(chunk["sources"])
    return {"answer": "".join(parts), "sources": sources}


def _printer(console: Console) -> Callable[[str], None]:
    def write(text: str) -> None:
        console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        console.file.flush()

    return write


def sources_table(sources: list[dict[str, Any]]) -> Table:
    """The sources of an answer, shared with ``demo``."""
    table = Table(title="sources", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("doc")
    table.add_column("score", justify="right")
    table.add_column("passage")
    for n, src in enumerate(sources, 1):
        score = src.get("score")
        table.add_row(
            str(n),
            str(src.get("doc_id") or src.get("id") or ""),
            "" if score is None else f"{score:.3f}",
            snippet(src.get("text"), 100),
        )
    if not sources:
        table.add_row("", "(no passages found for this tenant)", "", "")
    return table
