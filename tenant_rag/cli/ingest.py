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

from dataclasses import dataclass
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
    existing_tenant,
    index_flag,
    isolation_of,
    plural,
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

    size = measure_input(paths, root)  # a missing path fails here, before a data dir is made
    pc = client(ctx, writes=True)
    emb = embeddings(pc, index)  # an existing index's own model; a new index records it
    ix = ensure_index(pc, index, embedding=emb)
    warning = long_run_warning(size, emb, chunk_size, chunk_overlap)
    if warning:
        out.note(f"[yellow]warning:[/] {warning}")
    quiet_pdf_warnings()
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
            f"[bold red]error:[/] {plural(report.documents_failed, 'document')} failed "
            f"(listed above); {_cli_next_step(report)}"
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
    ix, mode = existing_tenant(ctx, tenant, index, isolation)
    from tenant_rag.ingestion.pipeline import delete_document

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


def _cli_next_step(report: Any) -> str:
    retry = sum(1 for doc in report.retryable if doc in report.failed)
    if retry == report.documents_failed:
        return "they hit temporary errors: run the same command again to retry them."
    if retry:
        return (
            f"{retry} of them hit a temporary error (running the same command again retries "
            "them); the others need the fix their reason names first."
        )
    return "fix what each reason names, then run the command again."


# -- planning a long run -----------------------------------------------------------------------

#: Characters of chunk text the local model (all-MiniLM-L6-v2, int8 ONNX) embeds per second
#: at the CLI defaults on an otherwise idle 2-core machine. ``benchmarks/bench_ingest_defaults.py``
#: measured 18,400 from the model's CPU time (its 2 threads on idle cores); the issue's 2 MB
#: one-line file took 148 s, 15,900/s. The lower, rounded down, keeps the estimate honest.
LOCAL_CHARS_PER_SECOND = 15_000
#: Warn before a run expected to take longer than this (seconds), or remote-embed this many chunks.
WARN_SECONDS = 60.0
WARN_REMOTE_CHUNKS = 2_000
_LINE_PROBE = 1 << 20


@dataclass(frozen=True)
class InputSize:
    """What a run is about to read: files, bytes, and files that are one long line."""

    files: int
    bytes: int
    one_line: tuple[tuple[str, int], ...] = ()


def measure_input(paths: list[str], root: Path | None) -> InputSize:
    """Stat the files ``paths`` expand to (the same expansion ingest does)."""
    from tenant_rag.ingestion.loaders import FileSource, expand_paths

    files = total = 0
    one_line: list[tuple[str, int]] = []
    for item in expand_paths(list(paths), root):
        if not isinstance(item, FileSource):
            continue
        size = item.path.stat().st_size
        files += 1
        total += size
        if size > _LINE_PROBE and _no_line_break(item.path):
            one_line.append((item.rel, size))
    return InputSize(files, total, tuple(one_line))


def _no_line_break(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return b"\n" not in fh.read(_LINE_PROBE)
    except OSError:
        return False


def long_run_warning(size: InputSize, emb: Any, chunk_size: int, chunk_overlap: int) -> str | None:
    """One paragraph before a run that will take long (or cost many remote calls); else None.

    The estimate assumes every document is new; unchanged ones are skipped.
    """
    from tenant_rag.models.embeddings import HashingTestEmbeddings, LocalMiniLMEmbeddings

    if size.bytes == 0 or isinstance(emb, HashingTestEmbeddings):
        return None
    step = max(1, chunk_size - chunk_overlap)
    chunks = max(size.files, -(-size.bytes // step))
    embedded_chars = chunks * min(chunk_size, max(1, size.bytes // max(1, chunks)) + chunk_overlap)
    what = (
        f"about {_mb(size.bytes)} of text in {plural(size.files, 'file')}, about "
        f"{chunks:,} chunks of up to {chunk_size:,} characters"
    )
    if isinstance(emb, LocalMiniLMEmbeddings):
        seconds = embedded_chars / LOCAL_CHARS_PER_SECOND
        if seconds < WARN_SECONDS:
            return None
        message = (
            f"{what}: embedding them with the local model takes about {_duration(seconds)} "
            f"(~{LOCAL_CHARS_PER_SECOND:,} characters/s on 2 cores)."
        )
    else:
        if chunks < WARN_REMOTE_CHUNKS:
            return None
        message = f"{what}, each sent to the embedding service."
    for rel, nbytes in size.one_line[:3]:
        message += (
            f" {rel} is {_mb(nbytes)} without a line break: it is cut every "
            f"{chunk_size:,} characters, mid-sentence."
        )
    return message + (
        " Unchanged documents are skipped. Ctrl-C is safe: finished documents are kept and "
        "the same command continues."
    )


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n / 1000:.0f} KB"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} minutes" if seconds >= 600 else f"{seconds / 60:.1f} minutes"


def quiet_pdf_warnings() -> None:
    """pypdf logs every oddity of a PDF it can still read; the report names files it cannot."""
    import logging

    logging.getLogger("pypdf").setLevel(logging.ERROR)
