"""tenant_rag command line (Typer app in ``tenant_rag.cli.app``)."""
