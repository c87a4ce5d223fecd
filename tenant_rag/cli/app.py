"""The ``tenant-rag`` command line. Each command group lives in its own module, registered here."""

from __future__ import annotations

from typing import Annotated

import typer

from tenant_rag.chat.command import chat_server
from tenant_rag.cli._common import DEBUG_ENV, ErrorHandlingGroup, set_debug
from tenant_rag.cli.ask import ask
from tenant_rag.cli.demo import demo
from tenant_rag.cli.ingest import delete_doc, ingest
from tenant_rag.cli.offboard import offboard
from tenant_rag.cli.search import search
from tenant_rag.cli.serve import serve
from tenant_rag.cli.stats import stats
from tenant_rag.cli.tenants import tenants

app = typer.Typer(
    name="tenant-rag",
    help="Per-tenant RAG on Pinecone, with an embedded Pinecone-compatible server.",
    no_args_is_help=True,
    add_completion=False,
    cls=ErrorHandlingGroup,
    epilog="Exit codes: 0 ok, 1 refused (bad tenant, quota, unconfirmed), 2 usage, "
    "3 Pinecone/network error, 4 internal error.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar=DEBUG_ENV, help="Show tracebacks instead of one-line errors."
        ),
    ] = False,
) -> None:
    """Per-tenant RAG on Pinecone: every command names its tenant; nothing falls back to a default."""
    set_debug(ctx, debug)


app.command("serve")(serve)
app.command("chat-server")(chat_server)
app.command("ingest")(ingest)
app.command("delete-doc")(delete_doc)
app.command("ask")(ask)
app.command("search")(search)
app.command("tenants")(tenants)
app.command("stats")(stats)
app.command("offboard")(offboard)
app.command("demo")(demo)


def main() -> None:
    """Console-script entry point."""
    app()
