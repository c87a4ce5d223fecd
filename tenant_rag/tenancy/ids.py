"""Tenant id rules.

A tenant id becomes a Pinecone namespace name (or, in metadata isolation, a
metadata value and an id prefix). Pinecone treats a missing namespace, ``""``
and ``"__default__"`` as its shared default namespace, so accepting any of
them would put a tenant's data where every unpinned client can read it. We
refuse them, and everything else Pinecone would reject, here and only here.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from tenant_rag.errors import InvalidTenantError

MAX_TENANT_ID_LENGTH = 512
DEFAULT_NAMESPACE_NAMES = frozenset({"", "__default__"})
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
_SAFE = re.compile(r"[^A-Za-z0-9._@+=-]")


def validate_tenant(tenant: Any) -> str:
    """Return ``tenant`` unchanged if it is a valid tenant id, else raise.

    Rules: a ``str``; non-empty; printable ASCII only (so no NUL, no control
    characters, no unicode look-alikes); at most 512 characters; no leading or
    trailing whitespace; never ``"__default__"``, ``"."`` or ``".."``.

    Raises:
        InvalidTenantError: naming the rule that was broken.
    """
    if tenant is None:
        raise InvalidTenantError(
            "tenant is required: got None. Pass the tenant id explicitly; "
            "tenant_rag never falls back to Pinecone's default namespace."
        )
    if not isinstance(tenant, str):
        raise InvalidTenantError(
            f"tenant must be a str, got {type(tenant).__name__}. "
            "Map other keys with tenant_id_for(...)."
        )
    if tenant == "":
        raise InvalidTenantError(
            "tenant must be non-empty: '' is Pinecone's shared default namespace."
        )
    if tenant == "__default__":
        raise InvalidTenantError(
            "tenant must not be '__default__': that is Pinecone's shared default namespace."
        )
    if len(tenant) > MAX_TENANT_ID_LENGTH:
        raise InvalidTenantError(
            f"tenant must be at most {MAX_TENANT_ID_LENGTH} characters, got {len(tenant)}. "
            "Map long keys with tenant_id_for(...)."
        )
    if "\x00" in tenant:
        raise InvalidTenantError("tenant must not contain NUL characters.")
    if not _PRINTABLE_ASCII.fullmatch(tenant):
        raise InvalidTenantError(
            f"tenant must be printable ASCII, got {tenant!r}. "
            "Map unicode or binary keys with tenant_id_for(...)."
        )
    if tenant != tenant.strip():
        raise InvalidTenantError(
            f"tenant must not have leading or trailing whitespace: {tenant!r}."
        )
    if tenant in (".", ".."):
        # HTTP clients normalise a "." or ".." path segment away, so the namespace
        # routes (describe/delete namespace) could never address it: writable, never offboardable.
        raise InvalidTenantError(
            f"tenant must not be {tenant!r}: a URL path cannot name that namespace."
        )
    return tenant


def tenant_id_for(key: str | bytes, *, prefix: str = "t-") -> str:
    """Map an arbitrary key (an email, a UUID, a unicode name) to a valid tenant id.

    The result is deterministic, so the same key always finds the same
    namespace. Keys that are already safe (letters, digits and ``._@+=-``,
    at most 64 characters) stay readable; anything else becomes a hash, so
    two keys that differ only in case or look-alike characters never collide
    into one tenant.

    >>> tenant_id_for("Alice@Example.com")
    't-Alice@Example.com'
    >>> tenant_id_for("Ünïcode Corp")[:2]
    't-'
    """
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not raw:
        raise InvalidTenantError("cannot map an empty key to a tenant id.")
    text = raw.decode("utf-8", "replace")
    if isinstance(key, str) and len(key) <= 64 and not _SAFE.search(key):
        return validate_tenant(prefix + key)
    digest = hashlib.sha256(raw).hexdigest()[:32]
    readable = _SAFE.sub("-", text)[:24].strip("-")
    return validate_tenant(f"{prefix}{readable + '-' if readable else ''}{digest}")
