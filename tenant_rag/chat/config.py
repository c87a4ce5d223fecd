"""API keys and the tenants they stand for.

The chatbot backend never takes a tenant id from a request. Each tenant has
its own bearer key, and the key alone decides the tenant: the mapping lives
here, loaded from a JSON or TOML file or from the environment, and checked
when it is loaded (every tenant id goes through `validate_tenant`, so a key
can never map to Pinecone's default namespace).

Lookups hash the presented key and compare it against *every* configured
key's hash with `hmac.compare_digest`, without stopping early, so neither the
position of a key nor the length of the presented one leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenant_rag.errors import ConfigurationError, InvalidTenantError
from tenant_rag.tenancy.ids import validate_tenant

#: Environment variable: ``key1=acme,key2=globex``.
KEYS_ENV = "TENANT_RAG_CHAT_KEYS"
#: Environment variable: one admin key (or several, comma-separated).
ADMIN_KEY_ENV = "TENANT_RAG_ADMIN_KEY"
#: Environment variable: path of a keys file (same format as ``--keys``).
KEYS_FILE_ENV = "TENANT_RAG_CHAT_KEYS_FILE"
#: Keys shorter than this are refused: a guessable key is a shared key.
MIN_KEY_LENGTH = 8


@dataclass(frozen=True)
class Principal:
    """Who a request speaks for: one tenant, or the operator (admin)."""

    tenant: str | None
    admin: bool = False

    def __repr__(self) -> str:  # never includes the key it came from
        return f"Principal(tenant={self.tenant!r}, admin={self.admin})"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True)
class KeyRing:
    """The configured keys: tenant keys (key -> tenant id) and admin keys.

    Only SHA-256 digests are kept for lookups; the raw keys are kept apart,
    for the log redaction filter only, and are never part of ``repr``.
    """

    _entries: tuple[tuple[bytes, Principal], ...]
    _secrets: frozenset[str] = field(repr=False)

    @classmethod
    def from_mapping(cls, keys: Mapping[str, str], admin_keys: Iterable[str] = ()) -> KeyRing:
        """Build a key ring, refusing bad keys and bad tenant ids with a clear message."""
        if not isinstance(keys, Mapping):
            raise ConfigurationError(
                '"keys" must be an object mapping each API key to a tenant id, '
                'e.g. {"keys": {"<key>": "acme"}}.'
            )
        entries: list[tuple[bytes, Principal]] = []
        seen: set[str] = set()
        for n, (key, tenant) in enumerate(keys.items(), start=1):
            _check_key(key, f"tenant key #{n}")
            try:
                validate_tenant(tenant)
            except InvalidTenantError as exc:
                raise ConfigurationError(f"tenant key #{n} maps to a bad tenant id: {exc}") from exc
            if key in seen:
                raise ConfigurationError(f"tenant key #{n} is configured twice.")
            seen.add(key)
            entries.append((_digest(key), Principal(tenant=tenant)))
        for n, key in enumerate(admin_keys, start=1):
            _check_key(key, f"admin key #{n}")
            if key in seen:
                raise ConfigurationError(
                    f"admin key #{n} is also configured as a tenant key (or twice); "
                    "every key must stand for exactly one tenant or for the admin."
                )
            seen.add(key)
            entries.append((_digest(key), Principal(tenant=None, admin=True)))
        return cls(tuple(entries), frozenset(seen))

    def lookup(self, presented: str) -> Principal | None:
        """The principal for a presented key, or None; constant time over all keys."""
        probe = _digest(presented)
        found: Principal | None = None
        for digest, principal in self._entries:
            # No early exit: every configured key is compared on every call.
            if hmac.compare_digest(probe, digest):
                found = principal
        return found

    @property
    def tenants(self) -> list[str]:
        """The configured tenant ids, sorted (safe to log: no keys)."""
        return sorted({p.tenant for _, p in self._entries if p.tenant is not None})

    @property
    def admin_count(self) -> int:
        return sum(1 for _, p in self._entries if p.admin)

    def secrets(self) -> frozenset[str]:
        """The raw keys, for redacting logs only."""
        return self._secrets

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"KeyRing(tenants={self.tenants!r}, admin_keys={self.admin_count})"


def _check_key(key: Any, what: str) -> None:
    if not isinstance(key, str):
        raise ConfigurationError(f"{what} must be a string, got {type(key).__name__}.")
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigurationError(
            f"{what} is shorter than {MIN_KEY_LENGTH} characters; use a long random key "
            '(python -c "import secrets; print(secrets.token_urlsafe(32))").'
        )
    if key != key.strip() or any(c.isspace() or not c.isprintable() for c in key):
        raise ConfigurationError(f"{what} must not contain whitespace or control characters.")
    if "," in key or "=" in key:
        raise ConfigurationError(
            f"{what} must not contain ',' or '=' (they separate entries in {KEYS_ENV})."
        )


def load_keys_file(path: str | os.PathLike[str]) -> KeyRing:
    """Read ``{"keys": {"<key>": "<tenant>"}, "admin_keys": ["<key>"]}`` from JSON or TOML.

    TOML form::

        admin_keys = ["<admin key>"]
        [keys]
        "<key>" = "acme"
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read keys file {str(p)!r}: {exc.strerror}.") from exc
    try:
        if p.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        # The parser's message may quote file content (keys); do not repeat it.
        kind = "TOML" if p.suffix.lower() == ".toml" else "JSON"
        raise ConfigurationError(
            f"keys file {str(p)!r} is not valid {kind} (use .toml for TOML, anything else "
            "is read as JSON)."
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f'keys file {str(p)!r} must hold an object with a "keys" table.')
    unknown = set(data) - {"keys", "admin_keys"}
    if unknown:
        raise ConfigurationError(
            f"keys file {str(p)!r} has unknown fields {sorted(unknown)}; "
            'expected "keys" and "admin_keys".'
        )
    admin = data.get("admin_keys", [])
    if isinstance(admin, str):
        admin = [admin]
    if not isinstance(admin, list):
        raise ConfigurationError('"admin_keys" must be a list of keys.')
    return KeyRing.from_mapping(data.get("keys", {}), admin)


def parse_keys_env(value: str) -> dict[str, str]:
    """Parse ``key1=acme,key2=globex`` into ``{key: tenant}``."""
    out: dict[str, str] = {}
    for n, item in enumerate(value.split(","), start=1):
        item = item.strip()
        if not item:
            continue
        key, sep, tenant = item.partition("=")
        if not sep:
            raise ConfigurationError(
                f"{KEYS_ENV} entry #{n} has no '='; write key1=acme,key2=globex."
            )
        if key.strip() in out:
            raise ConfigurationError(f"{KEYS_ENV} entry #{n} repeats a key.")
        out[key.strip()] = tenant.strip()
    return out


def load_keys(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> KeyRing:
    """Load keys from ``path``, else ``TENANT_RAG_CHAT_KEYS_FILE``, else the environment.

    Raises `ConfigurationError` when no tenant key is configured at all: a
    chat server that anyone can call would have no tenant to pin to.
    """
    env = os.environ if env is None else env
    path = path or env.get(KEYS_FILE_ENV) or None
    if path is not None:
        ring = load_keys_file(path)
    else:
        admin = [k.strip() for k in env.get(ADMIN_KEY_ENV, "").split(",") if k.strip()]
        ring = KeyRing.from_mapping(parse_keys_env(env.get(KEYS_ENV, "")), admin)
    if not ring.tenants:
        raise ConfigurationError(
            "no tenant API keys configured: pass --keys keys.json "
            '({"keys": {"<key>": "acme"}, "admin_keys": ["<key>"]}) or set '
            f"{KEYS_ENV}=key1=acme,key2=globex (and {ADMIN_KEY_ENV} for offboarding)."
        )
    return ring
