"""The ``tenant-rag`` command line. Each command group lives in its own module, registered here."""

from __future__ import annotations

import typer

from tenant_rag.cli.chat_server import chat_server
from tenant_rag.cli.serve import serve

app = typer.Typer(
    name="tenant-rag",
    help="Per-tenant RAG on Pinecone, with an embedded Pinecone-compatible server.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Keeps ``tenant-rag <command>`` a command group even while it has one command."""


app.command("serve")(serve)
app.command("chat-server")(chat_server)


def main() -> None:
    """Console-script entry point."""
    app()
