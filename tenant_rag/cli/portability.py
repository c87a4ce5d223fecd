"""``tenant-rag export | import | copy | move | migrate-isolation | reembed``: a tenant's data, portable.

Every command shows a progress bar on stderr, prints a table (or ``--json``
on stdout) and exits 0 only when its result was verified; 1 when it was
refused or not verified (the message names the fix; rerunning resumes).

The source is the usual connection (the embedded server, or Pinecone when
``PINECONE_API_KEY`` is set). ``copy``/``move`` can write to another
Pinecone: ``--to-api-key-env VAR`` names the environment variable holding the
destination's API key (keys never go on the command line, where ``ps`` shows
them) and ``--to-host`` its controller URL (default: Pinecone's).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tenant_rag.cli._common import (
    EXIT_REFUSED,
    IsolationOption,
    JsonOption,
    Output,
    check_tenant,
    client,
    embeddings,
    isolation_of,
    open_index,
)

if TYPE_CHECKING:
    from tenant_rag.tenancy.acl import AclPolicy

ROUTES_ENV = "TENANT_RAG_ROUTES"

IndexOpt = Annotated[str, typer.Option("--index", "-i", help="Index holding the tenant.")]
OnExistingOpt = Annotated[
    str,
    typer.Option(
        "--on-existing",
        help="When the destination tenant has records: fail (default), merge, or replace.",
    ),
]
RoutesOpt = Annotated[
    Path | None,
    typer.Option(
        "--routes",
        help=f"Routing table file to switch (tenant -> index). Default: ${ROUTES_ENV}.",
        show_default=False,
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AclPolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--acl-policy",
        help="The destination's ACL policy (tenant or private), named to accept a source whose "
        "policy differs: documents without an access list follow it there. A destination "
        "index this command creates gets this policy, else the source's.",
        show_default=False,
    ),
]
# copy and move take the same destination options
SettleOpt = Annotated[
    float,
    typer.Option(
        "--settle",
        min=0.0,
        help="Seconds to keep reading back records an eventually consistent index "
        "(Pinecone serverless) does not show yet, before the verification fails.",
    ),
]
ToIndexOpt = Annotated[str, typer.Option("--to-index", help="Destination index.")]
ToTenantOpt = Annotated[
    str | None, typer.Option("--to-tenant", help="Tenant id in the destination.")
]
ToIsolationOpt = Annotated[
    str, typer.Option("--to-isolation", help="Isolation in the destination.")
]
ToHostOpt = Annotated[
    str | None, typer.Option("--to-host", help="Destination Pinecone controller URL.")
]
ToApiKeyEnvOpt = Annotated[
    str | None,
    typer.Option("--to-api-key-env", help="Environment variable with the destination's key."),
]


def export(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant to export.", show_default=False)],
    dest: Annotated[Path, typer.Argument(help="Directory to write (new or empty).")],
    index: IndexOpt = "rag",
    isolation: IsolationOption = "namespace",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an earlier export in DEST.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Write TENANT's records to DEST: Parquet (Pinecone's bulk-import layout) + manifest.json."""
    out = Output(ctx, json_output)
    mode = isolation_of(isolation)
    check_tenant(tenant)
    from tenant_rag.lifecycle.portability import export_tenant

    pc = client(ctx)
    handle = open_index(pc, index)
    with _bar(out, f"export {tenant}") as tick:
        report = export_tenant(
            handle,
            tenant,
            dest,
            isolation=mode,
            overwrite=overwrite,
            pc=pc,
            progress=lambda done, total: tick(done, total),
        )
    if out.json_mode:
        out.json(report.to_dict())
        return
    table = _table(f"exported tenant {tenant}")
    table.add_row("directory", str(report.path))
    table.add_row("records", f"{report.records:,}")
    table.add_row("files", ", ".join(f.path for f in report.manifest.files) or "(none)")
    table.add_row("checksum", report.checksum)
    table.add_row("seconds", f"{report.seconds:.2f}")
    out.console.print(table)


def import_(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant to write into.", show_default=False)],
    src: Annotated[Path, typer.Argument(help="Export directory (with manifest.json).")],
    index: IndexOpt = "rag",
    isolation: IsolationOption = "namespace",
    on_existing: OnExistingOpt = "fail",
    acl_policy: AclPolicyOpt = None,
    settle: SettleOpt = 60.0,
    json_output: JsonOption = False,
) -> None:
    """Write an export into TENANT, resuming an interrupted run; verify count and checksum.

    A missing index is created with the export's dimension, metric and ACL policy.
    """
    out = Output(ctx, json_output)
    mode = isolation_of(isolation)
    check_tenant(tenant)
    _check_on_existing(on_existing)
    named = _acl_policy(acl_policy)
    from tenant_rag.lifecycle.portability import Manifest, import_tenant

    manifest = Manifest.read(src.expanduser().resolve())
    pc = client(ctx, writes=True)
    handle = _open_or_create(
        pc, index, manifest.dimension, manifest.metric, out, named or manifest.acl_policy
    )
    with _bar(out, f"import {tenant}") as tick:
        report = import_tenant(
            handle,
            tenant,
            src,
            isolation=mode,
            on_existing=on_existing,  # type: ignore[arg-type]
            acl_policy=named,
            progress=lambda done, total: tick(done, total),
            settle=settle,
        )
    if out.json_mode:
        out.json(report.to_dict())
        return
    table = _table(f"imported into tenant {tenant}")
    keys = ("index", "on_existing", "records", "written", "pruned", "resumed", "lagged", "verified")
    for key in keys:
        table.add_row(key, _cell(getattr(report, key)))
    table.add_row("checksum", report.checksum)
    out.console.print(table)


def copy(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant to copy.", show_default=False)],
    to_index: ToIndexOpt,
    index: IndexOpt = "rag",
    to_tenant: ToTenantOpt = None,
    isolation: IsolationOption = "namespace",
    to_isolation: ToIsolationOpt = "namespace",
    to_host: ToHostOpt = None,
    to_api_key_env: ToApiKeyEnvOpt = None,
    on_existing: OnExistingOpt = "fail",
    acl_policy: AclPolicyOpt = None,
    settle: SettleOpt = 60.0,
    json_output: JsonOption = False,
) -> None:
    """Copy TENANT to another index (or Pinecone project) and verify the copy."""
    opts = {k: v for k, v in locals().items() if k != "ctx"}
    _transfer(ctx, "copy", opts)


def move(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant to move.", show_default=False)],
    to_index: ToIndexOpt,
    index: IndexOpt = "rag",
    to_tenant: ToTenantOpt = None,
    isolation: IsolationOption = "namespace",
    to_isolation: ToIsolationOpt = "namespace",
    to_host: ToHostOpt = None,
    to_api_key_env: ToApiKeyEnvOpt = None,
    on_existing: OnExistingOpt = "fail",
    acl_policy: AclPolicyOpt = None,
    routes: RoutesOpt = None,
    settle: SettleOpt = 60.0,
    yes: YesOpt = False,
    json_output: JsonOption = False,
) -> None:
    """Move TENANT: copy, verify, switch its route, then delete it from the source."""
    opts = {k: v for k, v in locals().items() if k != "ctx"}
    _transfer(ctx, "move", opts)


def _transfer(ctx: typer.Context, operation: str, opts: dict[str, Any]) -> None:
    out = Output(ctx, bool(opts["json_output"]))
    src_mode, dst_mode = isolation_of(opts["isolation"]), isolation_of(opts["to_isolation"])
    tenant = check_tenant(opts["tenant"])
    if opts["to_tenant"] is not None:
        check_tenant(opts["to_tenant"])
    _check_on_existing(opts["on_existing"])
    named = _acl_policy(opts["acl_policy"])
    from tenant_rag.connection import index_shape
    from tenant_rag.lifecycle.portability import copy_tenant, move_tenant
    from tenant_rag.tenancy.acl import acl_policy_of

    pc = client(ctx, writes=True)
    source = open_index(pc, opts["index"])
    target_pc = _destination_client(opts["to_host"], opts["to_api_key_env"]) or pc
    shape = index_shape(source)  # open_index's handles carry it: no stats of every namespace
    if shape is None:
        desc = source.describe_index_stats()
        shape = (int(desc.dimension), str(getattr(desc, "metric", None) or "cosine"))
    destination = _open_or_create(
        target_pc,
        opts["to_index"],
        *shape,
        out,
        named or acl_policy_of(source),
    )
    kwargs: dict[str, Any] = {
        "dst_tenant": opts["to_tenant"],
        "src_isolation": src_mode,
        "dst_isolation": dst_mode,
        "on_existing": opts["on_existing"],
        "acl_policy": named,
        "settle": opts["settle"],
    }
    if operation == "move":
        if not opts["yes"]:
            typer.confirm(
                f"Move tenant {tenant!r} from {opts['index']!r} to {opts['to_index']!r}? Its "
                "records are deleted from the source once verified in the destination",
                abort=True,
                err=True,
            )
        kwargs["routes"] = _routes(opts.get("routes"))
    with _bar(out, f"{operation} {tenant}") as tick:
        kwargs["progress"] = lambda phase, done, total: tick(done, total, phase)
        run = move_tenant if operation == "move" else copy_tenant
        report = run(source, destination, tenant, **kwargs)
    if out.json_mode:
        out.json(report.to_dict())
    else:
        table = _table(f"{operation} of tenant {tenant}")
        table.add_row("from", _where(report.source))
        table.add_row("to", _where(report.destination))
        for key in ("copied", "records", "recopied", "pruned", "deleted_from_source", "routed"):
            table.add_row(key, _cell(getattr(report, key)))
        table.add_row("verified", _cell(report.verified))
        table.add_row("checksum", report.checksum or "-")
        for note in report.notes:
            table.add_row("note", note)
        out.console.print(table)
    if not report.verified:
        raise typer.Exit(EXIT_REFUSED)


def migrate_isolation(
    ctx: typer.Context,
    index: IndexOpt = "rag",
    to_index: Annotated[
        str | None, typer.Option("--to-index", help="Destination index (default: the same).")
    ] = None,
    tenant: Annotated[
        list[str] | None,
        typer.Option("--tenant", "-t", help="Only these tenants (repeat); default: all."),
    ] = None,
    acl_policy: AclPolicyOpt = None,
    routes: RoutesOpt = None,
    settle: SettleOpt = 60.0,
    yes: YesOpt = False,
    json_output: JsonOption = False,
) -> None:
    """Move every tenant of the shared namespace (metadata isolation) to a namespace of its own."""
    out = Output(ctx, json_output)
    for t in tenant or []:
        check_tenant(t)
    named = _acl_policy(acl_policy)
    from tenant_rag.lifecycle.portability import migrate_isolation as migrate

    pc = client(ctx, writes=True)
    source = open_index(pc, index)
    destination = open_index(pc, to_index) if to_index else source
    if not yes:
        typer.confirm(
            f"Move every metadata-isolated tenant of {index!r} to its own namespace"
            f"{' in ' + repr(to_index) if to_index else ''}? Records leave the shared namespace "
            "once verified",
            abort=True,
            err=True,
        )
    with _bar(out, "migrate") as tick:
        report = migrate(
            source,
            dst_index=destination,
            tenants=tenant,
            acl_policy=named,
            routes=_routes(routes),
            settle=settle,
            progress=lambda t, phase, done, total: tick(done, total, f"{t}: {phase}"),
        )
    if out.json_mode:
        out.json(report.to_dict())
    else:
        table = Table(title=f"isolation migration of {index}", title_justify="left")
        for col in ("tenant", "records", "verified", "namespace"):
            table.add_column(col)
        for move in report.tenants:
            table.add_row(
                move.source["tenant"],
                f"{move.records:,}",
                _cell(move.verified),
                move.destination["namespace"],
            )
        out.console.print(table)
        if not report.tenants:
            out.note("No tenant was found in the shared namespace; nothing to migrate.")
    if not report.verified:
        raise typer.Exit(EXIT_REFUSED)


def reembed(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant to re-embed.", show_default=False)],
    to_index: Annotated[
        str, typer.Option("--to-index", help="Index of the new model (created if missing).")
    ],
    index: IndexOpt = "rag",
    isolation: IsolationOption = "namespace",
    acl_policy: AclPolicyOpt = None,
    routes: RoutesOpt = None,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Route TENANT back to its previous index instead.")
    ] = False,
    settle: SettleOpt = 60.0,
    json_output: JsonOption = False,
) -> None:
    """Re-embed TENANT's text with the current model into --to-index, verify, switch its route.

    The model is the one the CLI embeds with (TENANT_RAG_EMBEDDING_MODEL, or the local model).
    """
    out = Output(ctx, json_output)
    mode = isolation_of(isolation)
    check_tenant(tenant)
    table_routes = _routes(routes)
    if rollback:
        if table_routes is None:
            raise typer.BadParameter(f"--rollback needs --routes or ${ROUTES_ENV}")
        back = table_routes.rollback(tenant)
        if out.json_mode:
            out.json({"tenant": tenant, "route": back.to_dict()})
        else:
            out.console.print(f"tenant {tenant!r} is served by index {back.index!r} again")
        return
    named = _acl_policy(acl_policy)
    from tenant_rag.lifecycle.portability import reembed_tenant
    from tenant_rag.tenancy.acl import acl_policy_of

    model = embeddings()
    pc = client(ctx, writes=True)
    source = open_index(pc, index)
    dimension = _dimension(model)
    destination = _open_or_create(
        pc, to_index, dimension, "cosine", out, named or acl_policy_of(source)
    )
    with _bar(out, f"reembed {tenant}") as tick:
        report = reembed_tenant(
            source,
            destination,
            tenant,
            embedding=model,
            routes=table_routes,
            isolation=mode,
            acl_policy=named,
            settle=settle,
            progress=lambda phase, done, total: tick(done, total, phase),
        )
    if out.json_mode:
        out.json(report.to_dict())
        return
    table = _table(f"re-embedded tenant {tenant}")
    for key in (
        "source_index",
        "destination_index",
        "model",
        "records",
        "probes_found",
        "verified",
        "routed",
        "previous_route",
    ):
        table.add_row(key, _cell(getattr(report, key)))
    for note in report.notes:
        table.add_row("note", note)
    out.console.print(table)


# -- helpers -----------------------------------------------------------------------------------


@contextmanager
def _bar(out: Output, label: str) -> Iterator[Callable[..., None]]:
    """A Rich progress bar on stderr; yields ``tick(done, total, phase=None)``."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out.err,
        transient=True,
    )
    task = progress.add_task(label, total=None)

    def tick(done: int, total: int | None, phase: str | None = None) -> None:
        progress.update(
            task,
            completed=done,
            total=total,
            description=f"{label}: {phase}" if phase else label,
        )

    with progress:
        yield tick


def _open_or_create(
    pc: Any,
    name: str,
    dimension: int | None,
    metric: str | None,
    out: Output,
    acl_policy: str | None,
) -> Any:
    """Open index ``name``, or create it with the source's shape and ACL policy.

    A destination this command creates takes the source's ACL policy (or the
    one named), so documents without an access list keep their readers.
    """
    from tenant_rag.connection import ensure_index
    from tenant_rag.errors import ConfigurationError
    from tenant_rag.lifecycle.access import set_acl_policy
    from tenant_rag.tenancy.acl import DEFAULT_ACL_POLICY, check_policy

    try:
        return open_index(pc, name)
    except ConfigurationError:
        if not dimension:
            raise
        policy = check_policy(acl_policy) if acl_policy else DEFAULT_ACL_POLICY
        out.note(
            f"creating index {name!r} (dimension {dimension}, metric {metric or 'cosine'}, "
            f"ACL policy {policy})"
        )
        handle = ensure_index(pc, name, dimension=int(dimension), metric=metric or "cosine")
        if policy != DEFAULT_ACL_POLICY:
            set_acl_policy(pc, name, policy)
        return handle


def _acl_policy(value: str | None) -> AclPolicy | None:
    from tenant_rag.tenancy.acl import ACL_POLICIES

    if value is None:
        return None
    if value not in ACL_POLICIES:
        raise typer.BadParameter(f"{value!r}: use tenant or private.", param_hint="--acl-policy")
    return cast("AclPolicy", value)


def _destination_client(host: str | None, key_env: str | None) -> Any:
    """A Pinecone client for another project or server, or None for the usual connection."""
    if host is None and key_env is None:
        return None
    from tenant_rag.errors import ConfigurationError

    key = os.environ.get(key_env or "", "") if key_env else ""
    if not key:
        raise ConfigurationError(
            "the destination needs an API key: put it in an environment variable and name it "
            "with --to-api-key-env (it is never read from the command line)."
        )
    from pinecone import Pinecone

    return Pinecone(api_key=key, host=host) if host else Pinecone(api_key=key)


def _routes(path: Path | None) -> Any:
    chosen = path or (Path(os.environ[ROUTES_ENV]) if os.environ.get(ROUTES_ENV) else None)
    if chosen is None:
        return None
    from tenant_rag.tenancy.routing import RoutingTable

    return RoutingTable(chosen)


def _check_on_existing(value: str) -> None:
    if value not in ("fail", "merge", "replace"):
        raise typer.BadParameter(
            f"{value!r}: use fail, merge or replace.", param_hint="--on-existing"
        )


def _dimension(model: Any) -> int:
    from tenant_rag.models.embeddings import embedding_dimension

    return embedding_dimension(model)


def _table(title: str) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    return table


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "[green]yes[/]" if value else "[red]no[/]"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def _where(side: dict[str, Any]) -> str:
    return json.dumps(side, sort_keys=True)
