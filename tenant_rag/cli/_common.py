"""What every ``tenant-rag`` command shares: error handling, output, index and model set-up.

Errors are turned into one-line messages and exit codes in one place,
`ErrorHandlingGroup.invoke`, so a command body only raises. ``--debug``
(or ``TENANT_RAG_DEBUG=1``) lets the traceback through instead.

Exit codes: 0 success; 1 tenant_rag refused (invalid tenant, isolation,
quota, configuration, an unconfirmed offboarding); 2 usage error (bad option
or argument); 3 Pinecone or network error; 4 unexpected internal error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from tenant_rag.cli._help import PlainHelpGroup

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_BACKEND = 3
EXIT_INTERNAL = 4
DEBUG_ENV = "TENANT_RAG_DEBUG"
#: ``hashing`` (or ``hashing:DIM``): the CLI embeds with `HashingTestEmbeddings` instead of
#: the default model; for tests and offline smoke runs only (its vectors carry no meaning).
TEST_EMBEDDINGS_ENV = "TENANT_RAG_TEST_EMBEDDINGS"
_JSON_KEY = "tenant_rag.json"
_DEBUG_KEY = "tenant_rag.debug"
_LOCATION_KEY = "tenant_rag.location"
_BACKEND_KEY = "tenant_rag.backend"
#: the backend of the command running in this process (for messages that name it)
_last_backend: list[Any] = [None]


class ErrorHandlingGroup(PlainHelpGroup):
    """The root command group: turns exceptions into a one-line message and an exit code."""

    def invoke(self, ctx: Any) -> Any:  # a Click context (typer.Context at runtime)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt):
            raise
        except Exception as exc:
            if ctx.meta.get(_DEBUG_KEY) or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            code, message = describe_error(exc)
            report_error(message, type(exc).__name__, json_mode=bool(ctx.meta.get(_JSON_KEY)))
            raise typer.Exit(code) from None


def set_debug(ctx: typer.Context, debug: bool) -> None:
    ctx.meta[_DEBUG_KEY] = debug


def set_location(ctx: typer.Context, *, home: Path | None, server: str | None) -> None:
    """Remember the root options ``--home`` and ``--server`` for `client`."""
    ctx.meta[_LOCATION_KEY] = (home, server)


def location(ctx: typer.Context) -> tuple[Path | None, str | None]:
    """The root options ``(--home, --server)`` of this run."""
    home, server = ctx.meta.get(_LOCATION_KEY, (None, None))
    return home, server


def describe_error(exc: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception raised by a command."""
    from tenant_rag.cli._backend import ServerUnreachableError
    from tenant_rag.errors import TenantRagError

    if isinstance(exc, ServerUnreachableError):
        return EXIT_BACKEND, _one_line(str(exc))
    # a path that does not exist (or cannot be read) is the user's to fix, not a crash
    if isinstance(exc, TenantRagError | ValueError | FileNotFoundError | PermissionError):
        return EXIT_REFUSED, _one_line(str(exc))
    status = getattr(exc, "status", None)
    module = type(exc).__module__
    if module.startswith(("pinecone", "urllib3", "grpc", "aiohttp")) or isinstance(
        exc, ConnectionError | TimeoutError
    ):
        reason = getattr(exc, "reason", None)
        body = getattr(exc, "body", None)
        parts = [f"Pinecone request failed ({type(exc).__name__}"]
        parts.append(f", HTTP {status})" if status else ")")
        detail = body or reason or str(exc)
        return EXIT_BACKEND, _one_line("".join(parts) + f": {detail}")
    return EXIT_INTERNAL, _one_line(
        f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"
    )


def report_error(message: str, kind: str, *, json_mode: bool) -> None:
    """Print the error line to stderr (and a JSON object to stdout with ``--json``)."""
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {message}", soft_wrap=True)
    if json_mode:
        sys.stdout.write(json.dumps({"error": message, "type": kind}) + "\n")


def _one_line(text: str, limit: int = 600) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Output:
    """Human output (Rich, to stdout) or machine output (``--json``), one per command run."""

    def __init__(self, ctx: typer.Context, json_mode: bool) -> None:
        ctx.meta[_JSON_KEY] = json_mode
        self.json_mode = json_mode
        self.console = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False)

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """A progress or status line: stderr, so ``--json`` stdout stays parseable."""
        self.err.print(text, soft_wrap=True)


# -- connection, indexes, models ---------------------------------------------------------------


def print_receipt(out: Output, receipt: Any, table: Any, *, unverified: str) -> None:
    """Print a deletion receipt (``--json``, or ``table`` and its notes); exit 1 if unverified.

    ``offboard`` and ``erase`` end the same way: the receipt whatever happened,
    then an error naming the fix when the deletion could not be verified.
    """
    if out.json_mode:
        out.json(receipt.to_dict())
    else:
        out.console.print(table)
        for note in getattr(receipt, "notes", ()):
            out.note(f"[yellow]note:[/] {note}")
    if not receipt.verified:
        out.note(f"[bold red]error:[/] {unverified}")
        raise typer.Exit(EXIT_REFUSED)


def client(ctx: typer.Context, *, writes: bool = False) -> Any:
    """The Pinecone client for this command, after one stderr line naming the backend.

    See `tenant_rag.cli._backend` for the order (``--server``, ``PINECONE_API_KEY``,
    the ``tenant-rag serve`` of the data dir, an embedded server). With
    ``writes=False`` a missing data dir is an error, never created.
    """
    from tenant_rag.cli._backend import choose, open_client

    home, server = location(ctx)
    backend = choose(server=server, home=home, writes=writes)
    ctx.meta[_BACKEND_KEY] = backend
    _last_backend[0] = backend
    Console(stderr=True, highlight=False).print(backend.line, style="dim", soft_wrap=True)
    return open_client(backend)


def open_index(pc: Any, name: str, *, dimension: int | None = None) -> Any:
    """A handle to an existing index, with a message that says what to do when it is missing."""
    from tenant_rag.connection import ensure_index
    from tenant_rag.errors import ConfigurationError, IndexMismatchError

    try:
        desc = pc.describe_index(name)
    except Exception as exc:
        if getattr(exc, "status", None) == 404 or type(exc).__name__ == "NotFoundException":
            raise ConfigurationError(
                f"index {name!r} does not exist{_where()}. Create it by ingesting documents: "
                f"`tenant-rag ingest --tenant TENANT{index_flag(name)} PATH...`."
            ) from None
        raise
    have = int(desc.dimension)
    if dimension is not None and dimension != have:
        raise IndexMismatchError(
            f"index {name!r} has dimension {have}, but the embedding model makes {dimension}-d "
            "vectors. Use the model the index was built with (TENANT_RAG_EMBEDDING_MODEL) or "
            "another index."
        )
    return ensure_index(pc, name, dimension=have, metric=str(desc.metric or "cosine"))


def _where() -> str:
    backend = _last_backend[0]
    if backend is None:
        return ""
    if backend.data_dir is not None:
        return f" in data dir {backend.data_dir}"
    return f" on {backend.description}"


def index_flag(name: str) -> str:
    """`` --index NAME`` for commands printed in hints (nothing for the default index)."""
    return "" if name == "rag" else f" --index {name}"


def embeddings(pc: Any = None, index: str | None = None) -> Any:
    """The embedding model for ``index``: the one it was built with (its tags), else the default.

    ``TENANT_RAG_TEST_EMBEDDINGS`` overrides both (tests only). Without ``pc``
    and ``index``, or for an index that does not exist yet, the default model
    (``TENANT_RAG_EMBEDDING_MODEL``, else the local one).
    """
    spec = os.environ.get(TEST_EMBEDDINGS_ENV, "").strip()
    if spec:
        from tenant_rag.models.hashing import HashingTestEmbeddings

        name, _, dim = spec.partition(":")
        if name != "hashing":
            from tenant_rag.errors import ConfigurationError

            raise ConfigurationError(
                f"{TEST_EMBEDDINGS_ENV}={spec!r}: the only test model is 'hashing' "
                "(optionally 'hashing:DIM')."
            )
        return HashingTestEmbeddings(dimension=int(dim) if dim else 64)
    from tenant_rag.models.embeddings import default_embeddings, index_embeddings

    if pc is not None and index is not None and _index_exists(pc, index):
        return index_embeddings(pc, index)
    return default_embeddings()


def _index_exists(pc: Any, name: str) -> bool:
    try:
        pc.describe_index(name)
    except Exception as exc:
        if getattr(exc, "status", None) == 404 or type(exc).__name__ == "NotFoundException":
            return False
        raise
    return True


def dimension_of(emb: Any) -> int:
    from tenant_rag.models.embeddings import embedding_dimension

    return embedding_dimension(emb)


def check_tenant(tenant: str) -> str:
    """Validate the tenant before any connection is made, so the error comes first."""
    from tenant_rag.tenancy.ids import validate_tenant

    return validate_tenant(tenant)


def existing_tenant(ctx: typer.Context, tenant: str, index: str, isolation: str) -> tuple[Any, Any]:
    """(index handle, isolation mode) for a command on a tenant that must already have data.

    The tenant id and the mode are checked before any connection is made; a missing index
    or a tenant with no data (a typo) stops the command with what to do instead.
    """
    check_tenant(tenant)
    mode = isolation_of(isolation)
    ix = open_index(client(ctx), index)
    require_tenant(ix, tenant, mode)
    return ix, mode


def require_tenant(index: Any, tenant: str, isolation: Any, *, action: str = "") -> None:
    """Stop with the close tenant names when ``tenant`` has no data in ``index`` (a typo)."""
    from tenant_rag.errors import UnknownTenantError
    from tenant_rag.lifecycle.lookup import require_tenant as check

    try:
        check(index, tenant, isolation=isolation, action=action)
    except UnknownTenantError as exc:
        from tenant_rag.tenancy.pinned import index_name_of

        flag = index_flag(index_name_of(index))
        raise UnknownTenantError(
            f"{exc} (`tenant-rag tenants{flag}` lists them.)", exc.tenant, exc.suggestions
        ) from None


def plural(n: int, noun: str) -> str:
    """``1 tenant``, ``2 tenants``, ``1,234 records``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def snippet(text: Any, width: int = 160) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= width else line[: width - 1] + "…"


# -- shared option types -------------------------------------------------------------------------

TenantOption = Annotated[
    str,
    typer.Option(
        "--tenant", "-t", help="Tenant id (its namespace). Required: there is no default."
    ),
]
IndexOption = Annotated[str, typer.Option("--index", "-i", help="Index name.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout instead of tables.")
]
IsolationOption = Annotated[
    str,
    typer.Option(
        "--isolation",
        help="How tenants are isolated in the index: 'namespace' (default) or 'metadata'.",
    ),
]


def isolation_of(value: str) -> Any:
    if value not in ("namespace", "metadata"):
        raise typer.BadParameter(
            f"{value!r} is not an isolation mode; use 'namespace' or 'metadata'.",
            param_hint="--isolation",
        )
    return value
