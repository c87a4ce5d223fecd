"""``tenant-rag demo``: the whole per-tenant lifecycle in one command, on the embedded server.

1. starts the embedded Pinecone-compatible server over a data dir
   (``--data-dir``, else ``$TENANT_RAG_HOME``, else a temporary dir that is
   removed afterwards) and creates the ``rag`` index with the embedding
   model's dimension;
2. ingests the sample corpus for two tenants, each into its own namespace,
   with progress;
3. asks each tenant one question: the answer streams, then its sources, all
   from that tenant's documents only;
4. shows the tenant table and what each tenant's usage cost (read and write
   units, metered per tenant);
5. offboards one tenant and shows the verification;
6. shows the remaining tenant intact: same record count, still answering.

It always runs on the embedded server, even when ``PINECONE_API_KEY`` is
set, so it can never touch a real project's data.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tenant_rag.cli._common import JsonOption, Output, dimension_of, embeddings

INDEX = "rag"


@dataclass(frozen=True)
class DemoTenant:
    """A demo tenant: its id, the sample documents it owns, and the question it asks."""

    tenant: str
    corpus: Path
    question: str


def demo(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Data dir of the embedded server. Default: $TENANT_RAG_HOME, else a "
            "temporary dir removed afterwards.",
            show_default=False,
        ),
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            help="Folder with one sub-folder of documents per tenant (the first two are used). "
            "Default: the sample corpus shipped with tenant_rag.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Two tenants end to end: ingest, ask (streamed), list, offboard one, verify the other."""
    out = Output(ctx, json_output)
    started = time.perf_counter()
    from tenant_rag.lifecycle.metering import UsageMeter

    tenants = sample_tenants(corpus)  # before any start-up cost: a bad corpus fails fast
    summary: dict[str, Any] = {"index": INDEX}
    with _server(data_dir) as srv, UsageMeter() as meter:
        summary["data_dir"] = str(srv.data_dir)
        _step(out, f"Embedded Pinecone-compatible server at {srv.url} (data dir {srv.data_dir})")
        with out.err.status("Loading the embedding model…"):
            emb = embeddings()
            emb.embed_query("warm-up")  # load the model now, not inside the first ingest
            from tenant_rag.connection import ensure_index
            from tenant_rag.errors import IndexMismatchError

            try:
                index = ensure_index(srv.client(), INDEX, embedding=emb)
            except IndexMismatchError as exc:
                raise IndexMismatchError(
                    f"{exc} The data dir {srv.data_dir} was used with another embedding "
                    "model: run the demo with --data-dir on a new folder, or unset "
                    "TENANT_RAG_HOME to use a temporary one."
                ) from None
        summary["embeddings"] = type(emb).__name__
        _step(out, f"Index [bold]{INDEX}[/] ready: {dimension_of(emb)}-d, {type(emb).__name__}")

        names = " and ".join(t.tenant for t in tenants)
        _step(out, f"Ingesting the sample documents of {names}, one namespace each")
        summary["ingested"] = _ingest_all(out, index, emb, tenants)

        from tenant_rag.cli.ask import answer, sources_table

        summary["answers"] = {}
        for t in tenants:
            _step(out, f"Tenant [bold]{t.tenant}[/] asks: {t.question}")
            result = answer(
                index,
                t.tenant,
                t.question,
                emb,
                on_token=None if out.json_mode else _token_printer(out),
            )
            if not out.json_mode:
                out.console.print()
                out.console.print(sources_table(result["sources"]))
            summary["answers"][t.tenant] = {"question": t.question, **result}

        from tenant_rag.cli.tenants import tenant_table
        from tenant_rag.lifecycle.tenants import list_tenants, offboard

        before = list_tenants(index)
        summary["tenants_before"] = [t.to_dict() for t in before]
        _step(out, "Tenants and their metered usage")
        if not out.json_mode:
            out.console.print(tenant_table(before, INDEX))
            out.console.print(_usage_table(meter))
        summary["usage"] = {k: v.to_dict() for k, v in meter.totals().items()}

        gone, kept = tenants[-1].tenant, tenants[0].tenant
        _step(out, f"Offboarding tenant [bold]{gone}[/]")
        report = offboard(gone, index)
        summary["offboard"] = report.to_dict()
        from tenant_rag.cli.offboard import report_table

        if not out.json_mode:
            out.console.print(report_table(report))

        after = list_tenants(index)
        summary["tenants_after"] = [t.to_dict() for t in after]
        kept_before = next(t.record_count for t in before if t.tenant == kept)
        kept_after = next((t.record_count for t in after if t.tenant == kept), 0)
        check = answer(index, kept, tenants[0].question, emb)
        intact = (
            kept_after == kept_before
            and gone not in {t.tenant for t in after}
            and bool(check["sources"])
        )
        summary["remaining"] = {
            "tenant": kept,
            "records_before": kept_before,
            "records_after": kept_after,
            "still_answers": bool(check["sources"]),
            "intact": intact,
        }
        _step(out, f"Tenant [bold]{kept}[/] after the offboarding")
        if not out.json_mode:
            out.console.print(tenant_table(after, INDEX))
            verdict = "[green]intact[/]" if intact else "[red]NOT intact[/]"
            out.console.print(
                f"{kept}: {kept_after} records (was {kept_before}), still answers from "
                f"{len(check['sources'])} of its passages: {verdict}"
            )
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["ok"] = bool(report.verified and intact)
    if out.json_mode:
        out.json(summary)
    else:
        style = "green" if summary["ok"] else "red"
        out.console.print(
            Panel(
                f"Demo finished in {summary['seconds']} s: {gone} offboarded and verified gone, "
                f"{kept} intact.",
                border_style=style,
            )
        )
    if not summary["ok"]:
        raise typer.Exit(1)


# -- steps -------------------------------------------------------------------------------------


@contextmanager
def _server(data_dir: Path | None) -> Iterator[Any]:
    """The embedded server over the chosen data dir (a temporary one is removed afterwards)."""
    import os

    from tenant_rag.local import start

    chosen = data_dir or (
        Path(os.environ["TENANT_RAG_HOME"]) if os.environ.get("TENANT_RAG_HOME") else None
    )
    temp = None if chosen else Path(tempfile.mkdtemp(prefix="tenant-rag-demo-"))
    srv = start(chosen or temp)
    try:
        yield srv
    finally:
        srv.stop()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _ingest_all(out: Output, index: Any, emb: Any, tenants: list[DemoTenant]) -> dict[str, Any]:
    """Ingest each tenant's folder with `tenant_rag.ingestion.ingest`, one progress bar each."""
    from tenant_rag.errors import IngestError
    from tenant_rag.ingestion import ingest

    ingested: dict[str, Any] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("documents, {task.fields[chunks]} chunks"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out.err, disable=out.json_mode) as progress:
        for t in tenants:
            task = progress.add_task(f"ingesting {t.tenant:<8}", total=None, chunks=0)

            def on_progress(done: int, total: int | None, chunks: int, task: Any = task) -> None:
                progress.update(task, completed=done, total=total, chunks=chunks)

            report = ingest(index, t.tenant, [str(t.corpus)], embedding=emb, progress=on_progress)
            if not report.ok:
                raise IngestError(
                    f"the sample documents of {t.tenant!r} did not ingest: "
                    + "; ".join(f"{doc}: {why}" for doc, why in sorted(report.failed.items()))
                )
            progress.update(task, total=report.documents_seen, completed=report.documents_seen)
            ingested[t.tenant] = report.to_dict()
    return ingested


def _usage_table(meter: Any) -> Table:
    table = Table(title="metered usage (per tenant, this run)", title_justify="left")
    table.add_column("tenant")
    table.add_column("requests", justify="right")
    table.add_column("read units", justify="right")
    table.add_column("write units (est.)", justify="right")
    for tenant, totals in meter.totals().items():
        table.add_row(
            tenant, str(totals.requests), f"{totals.read_units:g}", f"{totals.write_units:,.0f}"
        )
    return table


def _step(out: Output, text: str) -> None:
    if not out.json_mode:
        out.console.print()
        out.console.rule(text, align="left", style="cyan")


def _token_printer(out: Output) -> Any:
    def write(text: str) -> None:
        out.console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        out.console.file.flush()

    return write


def sample_tenants(corpus: Path | None = None) -> list[DemoTenant]:
    """The first two tenant folders of ``corpus`` (default: the shipped sample corpus).

    A corpus is a folder with one sub-folder per tenant holding documents
    (any type `tenant_rag.ingestion` loads), and optionally ``questions.json`` (``{"tenant": "question"}``).
    """
    from tenant_rag.errors import ConfigurationError

    root = corpus or shipped_corpus()
    dirs = sorted(d for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    if len(dirs) < 2:
        raise ConfigurationError(
            f"the demo corpus {root} needs at least two tenant folders of documents."
        )
    questions_file = root / "questions.json"
    questions = json.loads(questions_file.read_text()) if questions_file.is_file() else {}
    return [
        DemoTenant(d.name, d, str(questions.get(d.name, "What do these documents cover?")))
        for d in dirs[:2]
    ]


def shipped_corpus() -> Path:
    """The sample corpus that ships with tenant_rag (package data)."""
    from tenant_rag.ingestion import sample_corpus

    return sample_corpus()
