"""``tenant-rag ingest`` and ``tenant-rag delete-doc``: a tenant's documents in and out of an index.

``ingest`` creates the index when it is missing (with the embedding model's
dimension), shows a progress bar on a terminal, and ends with a one-screen
summary (or ``--json``). Running it again on unchanged files writes nothing.
A run in which some documents failed exits with code 1 after the summary;
those documents were not left half-written, so running it again retries them.
A document that would replace one ingested from another source (a second
folder holding ``company.md``) is left as it was and the run exits with code 1
naming both sources, unless ``--replace``; ``--prefix docs2/`` keeps both.
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
    dimension_of,
    embeddings,
    isolation_of,
    open_index,
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
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace documents of the same id that were ingested from another source.",
        ),
    ] = False,
    prefix: Annotated[
        str,
        typer.Option(
            "--prefix",
            help="Put this before every document id (e.g. docs2/), to keep documents of "
            "another source with the same names; --sync then stays under it.",
        ),
    ] = "",
    json_output: JsonOption = False,
) -> None:
    """Ingest PATHS into the tenant's namespace: chunk, embed, upsert; unchanged files are skipped."""
    out = Output(ctx, json_output)
    check_tenant(tenant)
    mode = isolation_of(isolation)
    from tenant_rag.connection import ensure_index
    from tenant_rag.errors import DocumentConflictError
    from tenant_rag.ingestion.pipeline import ingest as run_ingest

    emb = embeddings()
    ix = ensure_index(client(), index, dimension=dimension_of(emb))
    conflict: DocumentConflictError | None = None
    try:
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
            on_conflict="replace" if replace else "refuse",
            doc_id_prefix=prefix,
        )
    except DocumentConflictError as exc:
        conflict, report = exc, exc.report  # type: ignore[assignment]
    if out.json_mode:
        out.json(report.to_dict())
    else:
        out.console.print(report)
    if conflict is not None:
        out.note(
            f"[bold red]error:[/] {len(conflict.conflicts)} document(s) left as they were: each "
            "would replace a document of the same id from another source:"
        )
        for doc_id, (was, new) in sorted(conflict.conflicts.items()):
            out.note(f"  {doc_id}: stored from {was}; this run's source is {new}")
        out.note(
            "Run again with --replace to replace them, or with --prefix docs2/ (any prefix) "
            "to keep both."
        )
        raise typer.Exit(EXIT_REFUSED)
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

    ix = open_index(client(), index)
    deleted = delete_document(ix, tenant, doc_id, isolation=mode)
    result: dict[str, Any] = {
        "tenant": tenant,
        "index": index,
        "doc_id": doc_id,
        "chunks_deleted": deleted,
    }
    if out.json_mode:
        out.json(result)
    elif deleted:
        out.console.print(f"Deleted {deleted} chunks of {doc_id!r} from tenant [bold]{tenant}[/].")
    else:
        out.console.print(
            f"Tenant [bold]{tenant}[/] has no document {doc_id!r} in index {index!r}; "
            "nothing deleted."
        )
