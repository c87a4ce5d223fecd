"""``tenant-rag erase``: delete one data subject inside a tenant, with a receipt.

``tenant-rag erase acme --filter '{"user_id": "u1"}'`` deletes the records of
tenant ``acme`` matching the filter (never another tenant's: the filter is
combined with the tenant's pin), verifies that none is left, and prints the
`DeletionReceipt` (``--json``: the whole receipt). ``--audit-log FILE`` (or
``$TENANT_RAG_AUDIT_LOG``) appends it to a JSON-lines audit log. Asks for
confirmation unless ``--yes``. Exit 0 only when the erasure was verified.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tenant_rag.cli._common import (
    IsolationOption,
    JsonOption,
    Output,
    check_tenant,
    client,
    isolation_of,
    open_index,
    print_receipt,
)


def erase(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant holding the subject.", show_default=False)],
    filter: Annotated[
        str,
        typer.Option(
            "--filter",
            "-f",
            help='The subject, as a Pinecone metadata filter in JSON: \'{"user_id": "u1"}\'.',
            show_default=False,
        ),
    ],
    index: Annotated[str, typer.Option("--index", "-i", help="Index holding the tenant.")] = "rag",
    isolation: IsolationOption = "namespace",
    audit_log: Annotated[
        Path | None,
        typer.Option(
            "--audit-log",
            help="Append the receipt to this JSON-lines file. Default: $TENANT_RAG_AUDIT_LOG.",
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for the deletion to be visible.")
    ] = 30.0,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Delete the records of TENANT that match --filter; verify; print the receipt."""
    out = Output(ctx, json_output)
    mode = isolation_of(isolation)
    check_tenant(tenant)
    try:
        subject = json.loads(filter)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON ({exc}): {filter!r}", param_hint="--filter") from None
    if not isinstance(subject, dict) or not subject:
        raise typer.BadParameter(
            'give a non-empty JSON object, e.g. \'{"user_id": "u1"}\'; to delete a whole '
            "tenant use `tenant-rag offboard`.",
            param_hint="--filter",
        )
    from tenant_rag.lifecycle.erasure import erase as do_erase

    pc = client(ctx)
    handle = open_index(pc, index)
    if not yes:
        typer.confirm(
            f"Delete every record of tenant {tenant!r} in {index!r} matching {filter}? This "
            "cannot be undone",
            abort=True,
            err=True,
        )
    receipt = do_erase(
        handle,
        tenant,
        filter=subject,
        isolation=mode,
        wait=wait,
        pc=pc,
        audit_log=audit_log,
        raise_if_unverified=False,
    )
    print_receipt(
        out,
        receipt,
        receipt_table(receipt),
        unverified=f"records matching the filter were still visible after {wait:g} s; run "
        "erase again (it is idempotent) or raise --wait.",
    )


def receipt_table(receipt: Any) -> Table:
    """The receipt as a table: one row per index, then the receipt id."""
    table = Table(
        title=f"{receipt.kind} of tenant {receipt.tenant} (receipt {receipt.receipt_id})",
        title_justify="left",
    )
    for col in ("index", "namespace", "before", "deleted", "left", "ids sha256", "verified"):
        table.add_column(col)
    for row in receipt.indexes:
        table.add_row(
            row.index,
            row.namespace,
            f"{row.records_before:,}",
            f"{row.deleted:,}",
            str(row.remaining),
            (row.deleted_ids_sha256[:16] + "…") if row.deleted_ids_sha256 else "-",
            "[green]yes[/]" if row.verified else "[red]NO[/]",
        )
    return table
