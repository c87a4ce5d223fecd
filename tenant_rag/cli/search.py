"""``tenant-rag search``: the tenant's top-k records for a query, with their scores.

Retrieval only, no answer: the quickest way to see what a RAG chain would be
given. It embeds the query with the default model and queries through a
`PinnedIndex`, so it can only ever return the tenant's own records.
"""

from __future__ import annotations

import json as jsonlib
from typing import Annotated, Any

import typer
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


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to search for.", show_default=False)],
    tenant: TenantOption,
    k: Annotated[
        int, typer.Option("-k", "--top-k", min=1, max=10_000, help="Records to return.")
    ] = 4,
    index: IndexOption = "rag",
    filter: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help='Pinecone metadata filter as JSON, e.g. \'{"doc_id": {"$eq": "handbook.md"}}\'. '
            "Combined with the tenant pin; it can never widen it.",
            show_default=False,
        ),
    ] = None,
    isolation: IsolationOption = "namespace",
    json_output: JsonOption = False,
) -> None:
    """Show the tenant's top-k records for QUERY, with scores (retrieval only)."""
    out = Output(ctx, json_output)
    check_tenant(tenant)
    mode = isolation_of(isolation)
    user_filter = _parse_filter(filter)
    from tenant_rag.tenancy.pinned import PinnedIndex

    pc = client(ctx)
    require_tenant(open_index(pc, index), tenant, mode)  # before loading a model
    emb = embeddings(pc, index)  # the model the index was built with
    ix = open_index(pc, index, dimension=dimension_of(emb))
    pinned = PinnedIndex(ix, tenant, isolation=mode)
    records = pinned.query(vector=emb.embed_query(query), top_k=k, filter=user_filter)
    rows = [
        {
            "rank": n,
            "id": r.id,
            "score": r.score,
            "doc_id": r.metadata.get("doc_id") or r.metadata.get("source"),
            "text": r.metadata.get("text", ""),
            "metadata": {key: v for key, v in r.metadata.items() if key != "text"},
        }
        for n, r in enumerate(records, 1)
    ]
    if out.json_mode:
        out.json({"tenant": tenant, "index": index, "query": query, "k": k, "results": rows})
        return
    if not rows:
        out.console.print(f"No records for tenant [bold]{tenant}[/] in index [bold]{index}[/].")
        return
    table = Table(title=f"top {k} for tenant {tenant} in {index}: {query!r}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("id", overflow="fold")
    table.add_column("text")
    for row in rows:
        score = "" if row["score"] is None else f"{row['score']:.3f}"
        table.add_row(str(row["rank"]), score, str(row["id"]), snippet(row["text"], 120))
    out.console.print(table)


def _parse_filter(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = jsonlib.loads(text)
    except jsonlib.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc.msg}", param_hint="--filter") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--filter")
    return value
