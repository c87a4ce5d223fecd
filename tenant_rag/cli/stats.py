"""``tenant-rag stats``: one tenant's record count and what the index reports about itself."""

from __future__ import annotations

import typer
from rich.table import Table

from tenant_rag.cli._common import (
    IndexOption,
    IsolationOption,
    JsonOption,
    Output,
    TenantOption,
    existing_tenant,
)


def stats(
    ctx: typer.Context,
    tenant: TenantOption,
    index: IndexOption = "rag",
    isolation: IsolationOption = "namespace",
    json_output: JsonOption = False,
) -> None:
    """Show a tenant's record count and the index's figures."""
    out = Output(ctx, json_output)
    ix, mode = existing_tenant(ctx, tenant, index, isolation)
    from tenant_rag.lifecycle.tenants import tenant_stats

    result = tenant_stats(ix, tenant, isolation=mode)
    data = result.to_dict()
    if out.json_mode:
        out.json(data)
        return
    table = Table(
        title=f"tenant {tenant} in index {index}", title_justify="left", show_header=False
    )
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in data.items():
        if value is None:
            continue
        shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        table.add_row(key.replace("_", " "), str(shown))
    out.console.print(table)
