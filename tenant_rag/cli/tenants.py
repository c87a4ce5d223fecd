"""``tenant-rag tenants``: the tenants of an index, with their record counts.

Lists namespaces (paginated, with the ``describe_index_stats`` fallback);
under ``--isolation metadata`` it reads every id of the shared namespace,
an admin operation. The default and shared namespaces are never listed.
"""

from __future__ import annotations

import typer
from rich.table import Table

from tenant_rag.cli._common import (
    IndexOption,
    IsolationOption,
    JsonOption,
    Output,
    client,
    isolation_of,
    open_index,
    plural,
)


def tenants(
    ctx: typer.Context,
    index: IndexOption = "rag",
    isolation: IsolationOption = "namespace",
    json_output: JsonOption = False,
) -> None:
    """List the tenants that have data in an index, with record counts."""
    out = Output(ctx, json_output)
    mode = isolation_of(isolation)
    from tenant_rag.lifecycle.tenants import list_tenants

    found = list_tenants(open_index(client(ctx), index), isolation=mode)
    if out.json_mode:
        out.json({"index": index, "isolation": mode, "tenants": [t.to_dict() for t in found]})
        return
    out.console.print(tenant_table(found, index))


def tenant_table(found: list, index: str) -> Table:
    """The tenants table, shared with ``demo``."""
    table = Table(title=f"tenants in index {index}", title_justify="left", min_width=36)
    table.add_column("tenant")
    table.add_column("records", justify="right")
    for t in found:
        table.add_row(t.tenant, f"{t.record_count:,}")
    if not found:
        table.add_row("(none)", "0")
    records = sum(t.record_count for t in found)
    table.caption = f"{plural(len(found), 'tenant')}, {plural(records, 'record')}"
    return table
