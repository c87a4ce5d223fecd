"""Keys files on disk: new keys, adding their hashes, migrating plain keys files.

A keys file maps stored key hashes to tenants (``{"keys": {"sha256:<hex>":
"acme"}, "admin_keys": ["sha256:<hex>"]}``, JSON or TOML). The key itself is
shown once, when it is made, and never written anywhere by this module.

Every write goes to a temporary file in the same directory, readable by its
owner only, and replaces the old file with one ``os.replace``: a running
chat server polling the file (`tenant_rag.chat.keystore`) sees the old file
or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tenant_rag.chat.config import (
    KeyRing,
    KeysFileData,
    check_key,
    hash_key,
    is_hashed,
    read_keys_file,
)
from tenant_rag.errors import ConfigurationError
from tenant_rag.tenancy.ids import validate_tenant

#: Generated keys start with this marker (easy to recognise in a leak scan and in logs).
KEY_MARKER = "trk_"
#: Random bytes in a generated key: 256 bits, twice the minimum.
KEY_BYTES = 32


def new_key() -> str:
    """A fresh key: ``trk_`` and 43 characters of base64url (256 random bits)."""
    return KEY_MARKER + secrets.token_urlsafe(KEY_BYTES)


@dataclass(frozen=True)
class MigrationResult:
    """What `migrate_keys_file` did: how many keys it hashed and how many already were."""

    path: Path
    hashed: int
    already_hashed: int


def migrate_keys_file(path: str | os.PathLike[str]) -> MigrationResult:
    """Replace every plain key in a keys file by its SHA-256, in place.

    Every plain key is checked first (strength, characters) and the file is
    left untouched if any fails, so no weak key gets hashed beyond the reach of
    the strength check. The tenants and admin keys stay as they were.
    """
    data = read_keys_file(path)
    problems: list[str] = []
    for n, (key, tenant) in enumerate(data.keys.items(), start=1):
        if not (isinstance(key, str) and is_hashed(key)):
            _collect(problems, key, f"tenant key #{n} ({tenant})")
    for n, key in enumerate(data.admin_keys, start=1):
        if not (isinstance(key, str) and is_hashed(key)):
            _collect(problems, key, f"admin key #{n}")
    if problems:
        raise ConfigurationError(
            f"keys file {str(data.path)!r} was not changed: "
            + "; ".join(problems)
            + ". Replace those keys (`tenant-rag chat-keys new`) and run the migration again."
        )
    keys = {k if is_hashed(k) else hash_key(k): t for k, t in data.keys.items()}
    admin = [k if is_hashed(k) else hash_key(k) for k in data.admin_keys]
    # the result must be a valid key ring (duplicates, bad tenant ids) before it is written
    KeyRing.from_mapping(keys, admin)
    hashed = len(data.plain_entries())
    if hashed:
        write_keys_file(KeysFileData(data.path, keys, admin))
    return MigrationResult(data.path, hashed, len(keys) + len(admin) - hashed)


def _collect(problems: list[str], key: object, where: str) -> None:
    try:
        check_key(key, where)
    except ConfigurationError as exc:
        problems.append(str(exc).rstrip("."))


def add_key(path: str | os.PathLike[str], key: str, *, tenant: str | None) -> KeysFileData:
    """Add ``key``'s hash to a keys file for ``tenant`` (``None``: an admin key).

    Creates the file when it does not exist. A file that still holds plain
    keys is refused (migrate it first), as is a key already configured.
    """
    check_key(key, "the new key")
    if tenant is not None:
        validate_tenant(tenant)
    p = Path(path)
    if p.exists():
        data = read_keys_file(p)
        if data.plain_entries():
            raise ConfigurationError(
                f"keys file {str(p)!r} still stores plain keys; run `tenant-rag chat-keys "
                f"migrate {str(p)}` first."
            )
    else:
        data = KeysFileData(p, {}, [])
    stored = hash_key(key)
    keys, admin = dict(data.keys), list(data.admin_keys)
    if stored in keys or stored in admin:
        raise ConfigurationError(f"that key is already in {str(p)!r}.")
    if tenant is None:
        admin.append(stored)
    else:
        keys[stored] = tenant
    KeyRing.from_mapping(keys, admin)
    result = KeysFileData(p, keys, admin)
    write_keys_file(result)
    return result


def write_keys_file(data: KeysFileData) -> None:
    """Write ``data`` atomically (same directory, mode 0600, then ``os.replace``)."""
    text = _toml(data) if data.toml else _json(data)
    target = data.path
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json(data: KeysFileData) -> str:
    return json.dumps({"keys": data.keys, "admin_keys": data.admin_keys}, indent=2) + "\n"


def _toml(data: KeysFileData) -> str:
    # json.dumps of an ASCII string is a valid TOML basic string (tenant ids are ASCII)
    lines = ["admin_keys = [" + ", ".join(json.dumps(k) for k in data.admin_keys) + "]", ""]
    lines.append("[keys]")
    lines += [f"{json.dumps(k)} = {json.dumps(t)}" for k, t in data.keys.items()]
    return "\n".join(lines) + "\n"
