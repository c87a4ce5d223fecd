"""``tenant-rag ingest`` and ``tenant-rag delete-doc``: a tenant's documents in and out of an index.

``ingest`` creates the index when it is missing (with the embedding model's
dimension), shows a progress bar on a terminal, and ends with a one-screen
summary (or ``--json``). Running it again on unchanged files writes nothing.
A run in which some documents failed exits with code 1 after the summary;
those documents were not left half-written, so running it again retries them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tenant_rag.cli._common import (
    EXIT_REFUSED,
    IndexOption,
    IsolationOption,
    JsonOption,
    Output,
    TenantOption,
    check_tenant,
    client,
    embeddings,
    index_flag,
    isolation_of,
    open_index,
    plural,
    require_tenant,
)


def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files, folders or globs (.txt .md .html .pdf .json .jsonl). A document's id "
            "is its path relative to the folder given (or to --root).",
            show_default=False,
        ),
    ],
    tenant: TenantOption,
    index: IndexOption = "rag",
    sync: Annotated[
        bool,
        typer.Option(
            "--sync", help="Also delete the tenant's documents that are no longer in PATHS."
        ),
    ] = False,
    root: Annotated[
        Path | None,
        typer.Option("--root", help="Folder the document ids are relative to.", show_default=False),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="Characters per chunk.")
    ] = 1000,
    chunk_overlap: Annotated[
        int,
        typer.Option("--chunk-overlap", min=0, help="Characters shared by neighbouring chunks."),
    ] = 150,
    isolation: IsolationOption = "namespace",
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar (on a terminal only).")
    ] = True,
    json_output: JsonOption = False,
) -> None:
    """Ingest PATHS into the tenant's namespace: chunk, embed, upsert; unchanged files are skipped."""
    out = Output(ctx, json_output)
    check_tenant(tenant)
    mode = isolation_of(isolation)
    from tenant_rag.connection import ensure_index
    from tenant_rag.ingestion.pipeline import ingest as run_ingest

    pc = client(ctx, writes=True)
    emb = embeddings(pc, index)  # an existing index's own model; a new index records it
    ix = ensure_index(pc, index, embedding=emb)
    report = run_ingest(
        ix,
        tenant,
        list(paths),
        embedding=emb,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        sync=sync,
        isolation=mode,
        progress=progress and not json_output,
        root=root,
    )
    if out.json_mode:
        out.json(report.to_dict())
    else:
        out.console.print(report)
    if not report.ok:
        out.note(
            f"[bold red]error:[/] {report.documents_failed} document(s) failed (listed above); "
            "run the same command again to retry them."
        )
        raise typer.Exit(EXIT_REFUSED)


def delete_doc(
    ctx: typer.Context,
    doc_id: Annotated[
        str, typer.Argument(help="The document id (its path as ingested).", show_default=False)
    ],
    tenant: TenantOption,
    index: IndexOption = "rag",
    isolation: IsolationOption = "namespace",
    json_output: JsonOption = False,
) -> None:
    """Delete exactly one document's chunks from the tenant (deleting doc1 never touches doc10)."""
    out = Output(ctx, json_output)
    check_tenant(tenant)
    mode = isolation_of(isolation)
    from tenant_rag.ingestion.pipeline import delete_document

    ix = open_index(client(ctx), index)
    require_tenant(ix, tenant, mode)
    deleted = delete_document(ix, tenant, doc_id, isolation=mode)
    if not deleted:
        raise _unknown_document(ix, tenant, doc_id, mode)
    result: dict[str, Any] = {
        "tenant": tenant,
        "index": index,
        "doc_id": doc_id,
        "chunks_deleted": deleted,
    }
    if out.json_mode:
        out.json(result)
    else:
        out.console.print(
            f"Deleted {plural(deleted, 'chunk')} of {doc_id!r} from tenant [bold]{tenant}[/]."
        )


def _unknown_document(index: Any, tenant: str, doc_id: str, isolation: Any) -> Exception:
    """A missing document id is an error naming the close ids (a typo deletes nothing)."""
    from tenant_rag.errors import UnknownDocumentError
    from tenant_rag.lifecycle.documents import list_documents
    from tenant_rag.lifecycle.lookup import close_matches

    known = [d.doc_id for d in list_documents(index, tenant, isolation=isolation)]
    suggestions = close_matches(doc_id, known)
    message = f"tenant {tenant!r} has no document {doc_id!r}; nothing was deleted."
    if suggestions:
        message += " Did you mean " + " or ".join(repr(s) for s in suggestions) + "?"
    from tenant_rag.tenancy.pinned import index_name_of

    flag = index_flag(index_name_of(index))
    message += f" (`tenant-rag docs -t {tenant}{flag}` lists its documents.)"
    return UnknownDocumentError(message, doc_id, suggestions)
