"""``tenant-rag chat-keys``: make chat backend keys and keep keys files hashed.

``new`` prints a fresh 256-bit key on stdout (alone on its line, so
``KEY=$(tenant-rag chat-keys new)`` works); with ``--keys FILE`` and
``--tenant``/``--admin`` it also adds the key's hash to that file, which a
running ``chat-server`` picks up without a restart. ``migrate FILE`` replaces
the plain keys of an older keys file by their hashes, in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: The group's help (``tenant-rag chat-keys --help``); `tenant_rag.cli.app` registers
#: `new` and `migrate` under it.
HELP = "Make chat backend keys (256 bits) and keep keys files hashed."


def new(
    tenant: Annotated[
        str | None, typer.Option(help="The tenant the key is for (with --keys: added to the file).")
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="An admin key (offboarding, tenant list).")
    ] = False,
    keys: Annotated[
        Path | None,
        typer.Option(
            "--keys",
            help="Keys file to add the key's hash to (created if missing).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print a new random key (256 bits); with --keys, also store its hash for a tenant."""
    from tenant_rag.chat.config import hash_key
    from tenant_rag.chat.keyfile import add_key, new_key
    from tenant_rag.errors import TenantRagError

    if tenant is not None and admin:
        typer.echo(
            "error: a key is for one tenant (--tenant) or for the admin (--admin).", err=True
        )
        raise typer.Exit(2)
    if keys is not None and tenant is None and not admin:
        typer.echo(
            "error: with --keys, say whom the key is for: --tenant NAME or --admin.", err=True
        )
        raise typer.Exit(2)
    key = new_key()
    if keys is not None:
        try:
            add_key(keys, key, tenant=None if admin else tenant)
        except TenantRagError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        who = "the admin" if admin else f"tenant {tenant!r}"
        typer.echo(
            f"added a key for {who} to {keys} (stored as its SHA-256; a running chat-server "
            "picks it up within a second). The key is shown once, here:",
            err=True,
        )
    else:
        entry = f'"{hash_key(key)}": "{tenant or "<tenant>"}"'
        typer.echo(
            'a new key (shown once). Its keys-file entry, for "keys" (or its hash alone in '
            f'"admin_keys"): {entry}',
            err=True,
        )
    typer.echo(key)


def migrate(
    path: Annotated[Path, typer.Argument(help="The keys file to rewrite with hashed keys.")],
) -> None:
    """Replace the plain keys of a keys file by their SHA-256 hashes, in place.

    Clients keep using the same keys. Every key is checked for strength first;
    when one is too weak, nothing is changed.
    """
    from tenant_rag.chat.keyfile import migrate_keys_file
    from tenant_rag.errors import TenantRagError

    try:
        result = migrate_keys_file(path)
    except TenantRagError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if result.hashed:
        typer.echo(
            f"{path}: {result.hashed} key(s) now stored as SHA-256 hashes "
            f"({result.already_hashed} already were); the plain keys are no longer in the "
            "file, so keep them where your clients have them."
        )
    else:
        typer.echo(f"{path}: nothing to do; all {result.already_hashed} key(s) are hashed.")
