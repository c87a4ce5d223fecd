"""Who may do what to a document through the chatbot backend, inside one tenant.

Reading follows the document's access list (`tenant_rag.tenancy.acl`): the
routes read through a `PinnedIndex` for the caller's reader, so ``/chat``
and ``GET /documents`` show a user only what they may read; a tenant key or
a token with ``tenant_admin: true`` reads everything.

Changing a document (replacing it by an upload, deleting it, changing its
access list) is stricter than reading it: a user may change a document only
when its access list names them (``"user:<id>"``, as an uploader who keeps
access to their own file does); a group or ``"tenant"`` grant lets them read
it, not replace it. Admins may change anything. A document the user may not
read answers 404 on delete and access-list changes, exactly like a missing
one; an upload that would replace it answers 409 (the name is taken), which
is the one thing a user learns about a document they cannot read.
"""

from __future__ import annotations

import json
from typing import Any

from tenant_rag.chat.errors import ChatApiError
from tenant_rag.errors import InvalidAclError
from tenant_rag.tenancy.acl import (
    USER_PREFIX,
    Principal,
    Reader,
    TenantAdmin,
    normalize_acl,
    view_for,
)


def is_admin(reader: Reader) -> bool:
    return isinstance(reader, TenantAdmin)


def user_of(reader: Reader) -> str | None:
    """The reader's user id, or None for a tenant admin (who sees every job of the tenant)."""
    return reader.user if isinstance(reader, Principal) else None


def names_user(reader: Reader, acl: list[str] | None) -> bool:
    """Whether ``acl`` names the reader's own user (not just a group or the tenant)."""
    return isinstance(reader, Principal) and USER_PREFIX + reader.user in (acl or [])


def may_read(reader: Reader, acl: list[str] | None, policy: Any) -> bool:
    """Whether ``reader`` may read a document with this (public-form) access list."""
    metadata = {} if acl is None else {"acl": acl}
    return view_for(reader, policy).allows(metadata)


def parse_acl(raw: Any, *, where: str) -> list[str] | None:
    """An access list sent by a client (a JSON list, or JSON text of one); 422 when invalid."""
    if isinstance(raw, str):
        if not raw.strip():
            return None
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ChatApiError(
                422,
                "invalid_acl",
                f'{where} must be a JSON list like ["group:hr", "user:u1"] (or '
                '["tenant"]); it is not valid JSON.',
            ) from None
    try:
        return normalize_acl(raw)
    except InvalidAclError as exc:
        raise ChatApiError(422, "invalid_acl", f"{where}: {exc}") from None


def check_may_change(reader: Reader, doc_id: str, acl: list[str] | None) -> None:
    """403 unless ``reader`` may replace, delete or re-permission this (readable) document."""
    if is_admin(reader) or names_user(reader, acl):
        return
    raise ChatApiError(
        403,
        "not_document_owner",
        f"you may read {doc_id!r} but not change it: only users its access list names "
        "(user:<id>) and tenant admins may replace, delete or re-permission a document.",
    )


__all__ = ["check_may_change", "is_admin", "may_read", "names_user", "parse_acl", "user_of"]
