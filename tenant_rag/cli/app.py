"""The ``tenant-rag`` command line. Each command group lives in its own module, registered here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from tenant_rag.chat import keys_command
from tenant_rag.chat.command import chat_server
from tenant_rag.cli._backend import SERVER_ENV
from tenant_rag.cli._common import DEBUG_ENV, ErrorHandlingGroup, set_debug, set_location
from tenant_rag.cli._help import PlainHelpCommand, PlainHelpGroup
from tenant_rag.cli.ask import ask
from tenant_rag.cli.demo import demo
from tenant_rag.cli.docs import docs
from tenant_rag.cli.erase import erase
from tenant_rag.cli.ingest import delete_doc, ingest
from tenant_rag.cli.offboard import offboard
from tenant_rag.cli.portability import copy, export, import_, migrate_isolation, move, reembed
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


def version_text() -> str:
    """``tenant-rag X.Y.Z`` from the installed package's metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"tenant-rag {version('tenant_rag')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "tenant-rag (version unknown: the package is not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            metavar="DIR",
            help="Data dir of the embedded server. Default: $TENANT_RAG_HOME, else the nearest "
            ".tenant_rag in this folder or a parent, else ./.tenant_rag (created only by "
            "commands that write).",
            show_default=False,
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            envvar=SERVER_ENV,
            help="Use this running server (e.g. a tenant-rag serve) instead of finding one "
            "through the data dir.",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar=DEBUG_ENV, help="Show tracebacks instead of one-line errors."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Per-tenant RAG on Pinecone: every command names its tenant; nothing falls back to a default."""
    set_debug(ctx, debug)
    # --home only reaches this process's commands; TENANT_RAG_HOME is read where it is needed
    set_location(ctx, home=home, server=server)


def _command(name: str, fn: Callable[..., Any]) -> None:
    app.command(name, cls=PlainHelpCommand)(fn)


_command("serve", serve)
_command("chat-server", chat_server)
chat_keys = typer.Typer(
    cls=PlainHelpGroup, no_args_is_help=True, add_completion=False, help=keys_command.HELP
)
chat_keys.command("new", cls=PlainHelpCommand)(keys_command.new)
chat_keys.command("migrate", cls=PlainHelpCommand)(keys_command.migrate)
app.add_typer(chat_keys, name="chat-keys")
_command("ingest", ingest)
_command("delete-doc", delete_doc)
_command("docs", docs)
_command("ask", ask)
_command("search", search)
_command("tenants", tenants)
_command("stats", stats)
_command("offboard", offboard)
_command("erase", erase)
_command("export", export)
_command("import", import_)
_command("copy", copy)
_command("move", move)
_command("migrate-isolation", migrate_isolation)
_command("reembed", reembed)
_command("demo", demo)


def main() -> None:
    """Console-script entry point."""
    app()
