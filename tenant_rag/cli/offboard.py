"""``tenant-rag offboard``: delete a tenant's data everywhere and show that nothing is left.

Asks for confirmation (``--yes`` skips it; the prompt goes to stderr so
``--json`` output stays clean). Exit code 0 only when every index verified
that the tenant has no record left; 1 when the deletion could not be
verified within ``--wait`` seconds (running it again is safe).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tenant_rag.cli._common import (
    IsolationOption,
    JsonOption,
    Output,
    client,
    isolation_of,
    open_index,
    print_receipt,
)


def offboard(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant id to delete.", show_default=False)],
    index: Annotated[
        list[str] | None,
        typer.Option(
            "--index",
            "-i",
            help="Index to delete the tenant from; repeat for each workload index. Default: rag.",
            show_default=False,
        ),
    ] = None,
    all_indexes: Annotated[
        bool, typer.Option("--all-indexes", help="Delete the tenant from every index.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for the deletion to be visible.")
    ] = 30.0,
    missing_ok: Annotated[
        bool,
        typer.Option(
            "--missing-ok",
            help="Succeed when the tenant has no data (for scripts that offboard twice).",
        ),
    ] = False,
    isolation: IsolationOption = "namespace",
    audit_log: Annotated[
        Path | None,
        typer.Option(
            "--audit-log",
            help="Append the deletion receipt to this JSON-lines file. "
            "Default: $TENANT_RAG_AUDIT_LOG.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Delete every record of TENANT, verify that nothing is left, print the receipt."""
    out = Output(ctx, json_output)
    mode = isolation_of(isolation)
    from tenant_rag.lifecycle.lookup import has_records, unknown_tenant
    from tenant_rag.lifecycle.tenants import offboard as do_offboard
    from tenant_rag.lifecycle.tenants import tenant_scope

    tenant_scope(tenant, mode)  # refuse a bad tenant before asking anything
    if all_indexes and index:
        raise typer.BadParameter("use either --index or --all-indexes", param_hint="--index")
    pc = client(ctx)
    names = _all_index_names(pc) if all_indexes else (index or ["rag"])
    if not names:
        if not missing_ok:
            from tenant_rag.errors import UnknownTenantError

            raise UnknownTenantError(
                f"tenant {tenant!r} has no data: no index exists; nothing to offboard.", tenant, []
            )
        out.note("No index exists; nothing to offboard.")
        if out.json_mode:
            out.json({"tenant": tenant, "deleted": 0, "verified": True, "indexes": []})
        return
    handles = [open_index(pc, n) for n in names]
    present = any(has_records(h, tenant, isolation=mode) for h in handles)
    if not present:
        if not missing_ok:
            # a typo must not look like a successful offboarding
            others = f" (nor in {', '.join(names[1:])})" if len(names) > 1 else ""
            raise unknown_tenant(
                handles[0], tenant, isolation=mode, action=f"nothing to offboard{others}"
            )
        out.note(f"Tenant {tenant!r} has no data in {', '.join(names)}; nothing to offboard.")
    if present and not yes:
        typer.confirm(
            f"Delete every record of tenant {tenant!r} from {', '.join(names)}? "
            "This cannot be undone",
            abort=True,
            err=True,
        )
    report = do_offboard(
        tenant,
        *handles,
        isolation=mode,
        wait=wait,
        pc=pc,
        raise_if_unverified=False,
        audit_log=audit_log,
    )
    print_receipt(
        out,
        report,
        report_table(report),
        unverified=f"tenant {tenant!r} still has records after {wait:g} s; run offboard again "
        "(it is idempotent) or raise --wait.",
    )


def report_table(report: Any) -> Table:
    """The per-index verification table, shared with ``demo``."""
    receipt = getattr(report, "receipt_id", "")
    title = f"offboarded tenant {report.tenant}" + (f" (receipt {receipt})" if receipt else "")
    table = Table(title=title, title_justify="left")
    table.add_column("index")
    table.add_column("namespace")
    table.add_column("deleted", justify="right")
    table.add_column("left", justify="right")
    table.add_column("verified")
    for row in report.indexes:
        mark = "[green]yes[/]" if row.verified else "[red]NO[/]"
        table.add_row(row.index, row.namespace, f"{row.deleted:,}", str(row.remaining), mark)
    return table


def _all_index_names(pc: Any) -> list[str]:
    listing = pc.list_indexes()
    names = listing.names() if hasattr(listing, "names") else [i["name"] for i in listing]
    return sorted(str(n) for n in names)
