"""``tenant-rag docs``: a tenant's documents, with chunk counts, sources and when each was written."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from tenant_rag.cli._common import (
    IndexOption,
    IsolationOption,
    JsonOption,
    Output,
    TenantOption,
    existing_tenant,
    plural,
)


def docs(
    ctx: typer.Context,
    tenant: TenantOption,
    index: IndexOption = "rag",
    isolation: IsolationOption = "namespace",
    json_output: JsonOption = False,
) -> None:
    """List the tenant's documents: id, chunks, source, when ingested."""
    out = Output(ctx, json_output)
    ix, mode = existing_tenant(ctx, tenant, index, isolation)
    from tenant_rag.lifecycle.documents import list_documents

    found = list_documents(ix, tenant, isolation=mode)
    if out.json_mode:
        out.json({"tenant": tenant, "index": index, "documents": [d.to_dict() for d in found]})
        return
    table = Table(title=f"documents of tenant {tenant} in index {index}", title_justify="left")
    table.add_column("document", overflow="fold")
    table.add_column("chunks", justify="right")
    table.add_column("source", overflow="fold")
    table.add_column("ingested")
    for d in found:
        when = (
            time.strftime("%Y-%m-%d %H:%M", time.localtime(d.ingested_at))
            if d.ingested_at is not None
            else "-"
        )
        table.add_row(d.doc_id, f"{d.chunks:,}", d.source or "-", when)
    chunks = sum(d.chunks for d in found)
    table.caption = f"{plural(len(found), 'document')}, {plural(chunks, 'chunk')}"
    out.console.print(table)
