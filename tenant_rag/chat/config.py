"""API keys and the tenants they stand for.

The chatbot backend never takes a tenant id from a request. Each tenant has
its own bearer key, and the key alone decides the tenant: the mapping lives
here, loaded from a JSON or TOML file or from the environment, and checked
when it is loaded (every tenant id goes through `validate_tenant`, so a key
can never map to Pinecone's default namespace).

Lookups hash the presented key and compare it against *every* configured
key's hash with `hmac.compare_digest`, without stopping early, so neither the
position of a key nor the length of the presented one leaks through timing.

Keys must be strong enough that guessing is hopeless: at least `MIN_KEY_BITS`
(128) bits by `key_strength_bits`, which is what ``tenant-rag chat-keys new``
makes (256). Keys files store keys as ``sha256:<hex>`` (`HASH_PREFIX`), so a
leaked keys file does not leak a key: a plain SHA-256 is enough for secrets of
128 bits or more (no salt or slow hash is needed when the input cannot be
enumerated). A keys file still holding plain keys is refused with the command
that converts it (``tenant-rag chat-keys migrate``; see `tenant_rag.chat.keyfile`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
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
#: Keys weaker than this (estimated by `key_strength_bits`) are refused.
MIN_KEY_BITS = 128
#: How a stored key's SHA-256 is written in keys files and in ``TENANT_RAG_CHAT_KEYS``.
HASH_PREFIX = "sha256:"
_HASHED = re.compile(r"sha256:[0-9a-f]{64}")
_NEW_KEY_HINT = "make one with `tenant-rag chat-keys new`"


@dataclass(frozen=True)
class Principal:
    """Who a request speaks for: one tenant, or the operator (admin)."""

    tenant: str | None
    admin: bool = False

    def __repr__(self) -> str:  # never includes the key it came from
        return f"Principal(tenant={self.tenant!r}, admin={self.admin})"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def hash_key(key: str) -> str:
    """The stored form of a key: ``sha256:<64 hex digits>``."""
    return HASH_PREFIX + _digest(key).hex()


def is_hashed(entry: str) -> bool:
    """Whether a configured entry is a stored hash (``sha256:<hex>``) rather than a key."""
    return bool(_HASHED.fullmatch(entry))


def key_strength_bits(key: str) -> float:
    """Estimated bits of entropy of ``key``, as if each character were drawn at random.

    The alphabet is the union of the character classes the key uses (hex digits
    only: 16; lowercase letters 26, uppercase 26, digits 10, other printable
    ASCII 33, anything else 100), and the estimate is ``len * log2(alphabet)``.
    That is an upper bound for a human-chosen key, so two shapes no random key
    has score 0: fewer than 8 distinct characters, or one character making up
    more than a quarter of the key. At 128 bits: 32 hex digits, 22 characters
    of base64url (``secrets.token_urlsafe(16)``), 20 of printable ASCII.
    """
    if not key:
        return 0.0
    if len(set(key)) < min(8, len(key)) or max(key.count(c) for c in set(key)) * 4 > len(key):
        return 0.0
    if all(c in "0123456789abcdef" for c in key) or all(c in "0123456789ABCDEF" for c in key):
        alphabet = 16
    else:
        alphabet = 0
        alphabet += 26 if any("a" <= c <= "z" for c in key) else 0
        alphabet += 26 if any("A" <= c <= "Z" for c in key) else 0
        alphabet += 10 if any(c.isascii() and c.isdigit() for c in key) else 0
        alphabet += 33 if any(c.isascii() and not c.isalnum() for c in key) else 0
        alphabet += 100 if any(not c.isascii() for c in key) else 0
    return len(key) * math.log2(alphabet)


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
        """Build a key ring, refusing bad keys and bad tenant ids with a clear message.

        Each key is either the key itself (checked for strength) or its stored
        hash ``sha256:<hex>`` (`hash_key`), which matches the same presented key.
        """
        if not isinstance(keys, Mapping):
            raise ConfigurationError(
                '"keys" must be an object mapping each API key to a tenant id, '
                'e.g. {"keys": {"<key>": "acme"}}.'
            )
        entries: list[tuple[bytes, Principal]] = []
        seen: set[bytes] = set()
        secrets: set[str] = set()
        for n, (key, tenant) in enumerate(keys.items(), start=1):
            digest = _stored_digest(key, f"tenant key #{n}", secrets)
            try:
                validate_tenant(tenant)
            except InvalidTenantError as exc:
                raise ConfigurationError(f"tenant key #{n} maps to a bad tenant id: {exc}") from exc
            if digest in seen:
                raise ConfigurationError(f"tenant key #{n} is configured twice.")
            seen.add(digest)
            entries.append((digest, Principal(tenant=tenant)))
        for n, key in enumerate(admin_keys, start=1):
            digest = _stored_digest(key, f"admin key #{n}", secrets)
            if digest in seen:
                raise ConfigurationError(
                    f"admin key #{n} is also configured as a tenant key (or twice); "
                    "every key must stand for exactly one tenant or for the admin."
                )
            seen.add(digest)
            entries.append((digest, Principal(tenant=None, admin=True)))
        return cls(tuple(entries), frozenset(secrets))

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


def _stored_digest(key: Any, what: str, secrets: set[str]) -> bytes:
    """The SHA-256 a configured entry stands for; plain keys are checked and kept for redaction."""
    if isinstance(key, str) and is_hashed(key):
        return bytes.fromhex(key.removeprefix(HASH_PREFIX))
    check_key(key, what)
    secrets.add(key)
    return _digest(key)


def check_key(key: Any, what: str) -> None:
    """Refuse a key that is not a string, too weak to be safe, or unusable in a header."""
    if not isinstance(key, str):
        raise ConfigurationError(f"{what} must be a string, got {type(key).__name__}.")
    if isinstance(key, str) and key.lower().startswith(HASH_PREFIX):
        raise ConfigurationError(
            f"{what} looks like a stored hash but is not 'sha256:' followed by 64 lowercase "
            "hex digits."
        )
    bits = key_strength_bits(key)
    if bits < MIN_KEY_BITS:
        raise ConfigurationError(
            f"{what} is too weak: about {bits:.0f} bits, and at least {MIN_KEY_BITS} are needed "
            f"(for example 32 random hex digits or 22 random base64url characters); "
            f"{_NEW_KEY_HINT}."
        )
    if key != key.strip() or any(c.isspace() or not c.isprintable() for c in key):
        raise ConfigurationError(f"{what} must not contain whitespace or control characters.")
    if "," in key or "=" in key:
        raise ConfigurationError(
            f"{what} must not contain ',' or '=' (they separate entries in {KEYS_ENV})."
        )


@dataclass(frozen=True)
class KeysFileData:
    """A keys file as read: its entries (stored hashes or, before migration, plain keys)."""

    path: Path
    keys: dict[str, str]
    admin_keys: list[str]

    @property
    def toml(self) -> bool:
        return self.path.suffix.lower() == ".toml"

    def plain_entries(self) -> list[str]:
        """Where plain keys are (``tenant key #2 (acme)``), never the keys themselves."""
        where = [
            f"tenant key #{n} ({tenant})"
            for n, (key, tenant) in enumerate(self.keys.items(), start=1)
            if not (isinstance(key, str) and is_hashed(key))
        ]
        where += [
            f"admin key #{n}"
            for n, key in enumerate(self.admin_keys, start=1)
            if not (isinstance(key, str) and is_hashed(key))
        ]
        return where


def read_keys_file(path: str | os.PathLike[str]) -> KeysFileData:
    """Parse a keys file (JSON, or TOML by its ``.toml`` suffix) and check its shape.

    ``{"keys": {"sha256:<hex>": "acme"}, "admin_keys": ["sha256:<hex>"]}``; TOML form::

        admin_keys = ["sha256:<hex>"]
        [keys]
        "sha256:<hex>" = "acme"
    """
    import json
    import tomllib

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
    keys = data.get("keys", {})
    if not isinstance(keys, Mapping):
        raise ConfigurationError(
            '"keys" must be an object mapping each API key to a tenant id, '
            'e.g. {"keys": {"sha256:<hex>": "acme"}}.'
        )
    admin = data.get("admin_keys", [])
    if isinstance(admin, str):
        admin = [admin]
    if not isinstance(admin, list):
        raise ConfigurationError('"admin_keys" must be a list of keys.')
    return KeysFileData(p, dict(keys), list(admin))


def load_keys_file(path: str | os.PathLike[str]) -> KeyRing:
    """The key ring of a keys file whose keys are all stored as hashes.

    A file that still holds plain keys is refused, naming where they are (never
    what they are) and the command that hashes them in place.
    """
    data = read_keys_file(path)
    plain = data.plain_entries()
    if plain:
        raise ConfigurationError(
            f"keys file {str(data.path)!r} stores {len(plain)} key(s) in plain text "
            f"({', '.join(plain[:5])}{', ...' if len(plain) > 5 else ''}); keys files hold "
            "only SHA-256 hashes now. Run `tenant-rag chat-keys migrate "
            f"{str(data.path)}` to hash them in place (clients keep using the same keys)."
        )
    return KeyRing.from_mapping(data.keys, data.admin_keys)


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
            "no tenant API keys configured: pass --keys keys.json (add a key with "
            "`tenant-rag chat-keys new --tenant acme --keys keys.json`) or set "
            f"{KEYS_ENV}=key1=acme,key2=globex (and {ADMIN_KEY_ENV} for offboarding)."
        )
    return ring
