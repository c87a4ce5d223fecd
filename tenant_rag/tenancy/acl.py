"""Access lists inside a tenant: who may read a document, and the condition that enforces it.

The tenant is a pin nothing can widen (`TenantScope`). This module is the
same guarantee one level down: inside a tenant, each document may carry an
access list, and every read made on behalf of a :class:`Principal` joins the
principal's condition to its filter with ``$and``, exactly like the tenant
pin, and checks each returned record again on the way out.

Access lists
------------
An access list (ACL) is a list of strings:

* ``"user:<id>"`` -- that user may read;
* ``"group:<id>"`` -- every member of that group may read;
* ``"tenant"`` -- everyone in the tenant may read (public in the tenant);
* ``[]`` -- nobody but a tenant admin may read.

It is stored on every chunk of the document as the list-of-strings metadata
field ``acl`` (sorted, without duplicates), which Pinecone filters with
``$in``. A document with no ACL (``None``, or no ``acl`` field, as every
record written before ACLs existed) follows the index's *policy*:

* ``"tenant"`` (the default, and tenant_rag's behaviour before ACLs):
  everyone in the tenant may read it;
* ``"private"``: nobody but a tenant admin may read it.

The policy is set once per index and kept in the index's tags
(``tenant-rag-acl``, see `tenant_rag.lifecycle.access.set_acl_policy`), so
every process reads the same one.

Principals
----------
``Principal(user="u1", groups=["eng"])`` reads what names the user, one of
the groups, or ``"tenant"``, plus documents without an ACL when the policy
is ``"tenant"``. No principal (``None``) reads only what the policy makes
visible to everyone in the tenant. ``TENANT_ADMIN`` reads everything and is
named as such; it is the only reader whose requests carry no ACL condition.

Two stored forms keep Pinecone's rules (metadata updates merge, they cannot
remove a field; an empty list is not a useful ``$in`` target): an empty ACL
is stored as ``["!nobody"]`` and "no ACL" written by ``set_acl(..., None)``
as ``["!policy"]``. No principal ever holds either token, and both read
back as ``[]`` and "no ACL" (the field left out).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from tenant_rag.errors import AccessControlError, ConfigurationError, InvalidAclError

#: Metadata field holding a chunk's access list (reserved: filters may not name it).
ACL_FIELD = "acl"
#: ACL entry: everyone in the tenant may read.
TENANT_READERS = "tenant"
USER_PREFIX = "user:"
GROUP_PREFIX = "group:"
#: Stored form of an empty ACL (no principal holds this token).
NOBODY_TOKEN = "!nobody"
#: Stored form of "no ACL: follow the index policy" (written by ``set_acl(..., None)``).
POLICY_TOKEN = "!policy"

#: Entries per access list. Groups keep lists short: name a group, not its 500 members.
MAX_ACL_ENTRIES = 256
#: Bytes of one stored access list (a quarter of Pinecone's 40 KB of metadata per record).
MAX_ACL_BYTES = 10 * 1024
#: Groups per principal. Its condition is one ``$in`` of groups + 3 values; Pinecone allows
#: 10,000 values per ``$in``, and every query carries the list, so it stays well below that.
MAX_PRINCIPAL_GROUPS = 1000
#: Characters of one user or group id.
MAX_NAME_LENGTH = 256

AclPolicy = Literal["tenant", "private"]
ACL_POLICIES: tuple[AclPolicy, ...] = ("tenant", "private")
#: The policy of an index whose tags name none: today's behaviour, tenant-wide.
DEFAULT_ACL_POLICY: AclPolicy = "tenant"
#: Index tag holding the policy (Pinecone tag keys: letters, digits, ``_``, ``-``).
ACL_POLICY_TAG = "tenant-rag-acl"


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidAclError(f"{what} must be a string, got {type(value).__name__}.")
    if not value:
        raise InvalidAclError(f"{what} must not be empty.")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidAclError(f"{what} is {len(value)} characters; the limit is {MAX_NAME_LENGTH}.")
    if value != value.strip() or not value.isprintable():
        raise InvalidAclError(
            f"{what} {value[:40]!r} has surrounding whitespace or control characters."
        )
    return value


# -- principals -----------------------------------------------------------------------------------


@dataclass(frozen=True, init=False)
class Principal:
    """A user of a tenant, with the groups they belong to.

    ``Principal(user="u1", groups=["eng", "hr"])``. The user id is required
    (a principal with no user is refused: it would be nobody in particular);
    groups are de-duplicated and sorted, at most ``MAX_PRINCIPAL_GROUPS``.
    Hashable, so per-request retrievers can cache by principal.
    """

    user: str
    groups: tuple[str, ...]

    def __init__(self, user: str, groups: Iterable[str] = ()) -> None:
        if user is None:
            raise InvalidAclError(
                "a principal needs a user: Principal(user='u1', groups=[...]). For a read "
                "that sees only what everyone in the tenant may read, pass no principal."
            )
        _check_name(user, "the principal's user")
        if isinstance(groups, str | bytes) or not isinstance(groups, Iterable):
            raise InvalidAclError(
                f"groups must be a list of group ids, got {type(groups).__name__} "
                f"{str(groups)[:40]!r}; write groups=[{str(groups)[:40]!r}]."
            )
        names = tuple(groups)
        if len(names) > MAX_PRINCIPAL_GROUPS:
            raise InvalidAclError(
                f"the principal has {len(names)} groups; the limit is {MAX_PRINCIPAL_GROUPS} "
                "(every query carries them in one $in). Use coarser groups."
            )
        for g in names:
            _check_name(g, "a group id")
        object.__setattr__(self, "user", user)
        object.__setattr__(self, "groups", tuple(sorted(set(names))))

    @property
    def tokens(self) -> frozenset[str]:
        """The ACL entries this principal holds (besides the policy's)."""
        return _tokens_of(self)


class TenantAdmin:
    """The reader that sees every document of the tenant. Use :data:`TENANT_ADMIN`."""

    _instance: TenantAdmin | None = None

    def __new__(cls) -> TenantAdmin:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "TENANT_ADMIN"

    def __reduce__(self) -> str:
        return "TENANT_ADMIN"


#: Reads everything in the tenant, ACLs notwithstanding. Writers and lifecycle use it.
TENANT_ADMIN = TenantAdmin()

#: Who a read is made for: a user, the tenant admin, or nobody in particular (``None``).
Reader = Principal | TenantAdmin | None


def check_reader(reader: Any) -> Reader:
    """``reader`` if it is a `Principal`, ``TENANT_ADMIN`` or ``None``; else a clear error."""
    if reader is None or isinstance(reader, Principal | TenantAdmin):
        return cast(Reader, reader)
    if isinstance(reader, str):
        raise InvalidAclError(
            f"principal={reader!r} is a string; pass Principal(user={reader!r}, groups=[...]) "
            "or TENANT_ADMIN."
        )
    raise InvalidAclError(
        f"principal must be a Principal, TENANT_ADMIN or None, got {type(reader).__name__}."
    )


def principal_from(user: Any = None, groups: Any = None) -> Principal | None:
    """The principal for a ``user_id`` and ``groups`` pair (per-request config, JWT claims).

    No user and no groups: ``None`` (no principal). Groups without a user are
    refused: a principal with no user is not a principal.
    """
    if user is None:
        if groups:
            raise InvalidAclError(
                "groups were given without a user id; a principal needs a user "
                "(configurable 'user_id', or the token's user claim)."
            )
        return None
    return Principal(user, () if groups is None else groups)


#: ``config["configurable"]`` keys naming a call's principal (beside ``tenant_id``).
USER_CONFIG_KEY = "user_id"
GROUPS_CONFIG_KEY = "groups"
#: ...or a ready `Principal` / ``TENANT_ADMIN`` object (never a string: not from a request body).
PRINCIPAL_CONFIG_KEY = "principal"
_CONFIG_KEYS = (USER_CONFIG_KEY, GROUPS_CONFIG_KEY, PRINCIPAL_CONFIG_KEY)
_NO_DEFAULT: Any = object()


def reader_from_config(configurable: Mapping[str, Any], *, default: Any = _NO_DEFAULT) -> Reader:
    """The principal a call's ``configurable`` names, or ``default`` when it names none.

    ``user_id`` and ``groups`` give ``Principal(user_id, groups)``; groups
    without a user are refused. ``principal`` may carry a ready `Principal`
    or ``TENANT_ADMIN`` object instead (not both forms at once). With none of
    these keys: ``default``, or ``None`` (no principal).
    """
    if not any(k in configurable for k in _CONFIG_KEYS):
        return None if default is _NO_DEFAULT else cast(Reader, default)
    if PRINCIPAL_CONFIG_KEY in configurable:
        if USER_CONFIG_KEY in configurable or GROUPS_CONFIG_KEY in configurable:
            raise InvalidAclError(
                "config names a principal twice: pass either 'principal' or 'user_id' "
                "(with 'groups'), not both."
            )
        return check_reader(configurable[PRINCIPAL_CONFIG_KEY])
    return principal_from(configurable.get(USER_CONFIG_KEY), configurable.get(GROUPS_CONFIG_KEY))


def _tokens_of(principal: Principal) -> frozenset[str]:
    return frozenset(
        [
            TENANT_READERS,
            USER_PREFIX + principal.user,
            *(GROUP_PREFIX + g for g in principal.groups),
        ]
    )


# -- access lists ---------------------------------------------------------------------------------


def normalize_acl(acl: Any) -> list[str] | None:
    """An access list in its canonical form (sorted, no duplicates), or ``None`` for none.

    Raises `InvalidAclError` for anything that is not a list of valid entries:
    ``"user:<id>"``, ``"group:<id>"`` or ``"tenant"``. A bare string is refused
    (``"user:u1"`` is almost always a forgotten list). The stored forms
    ``["!nobody"]`` and ``["!policy"]`` read as ``[]`` and ``None``.
    """
    if acl is None:
        return None
    if isinstance(acl, str | bytes) or not isinstance(acl, list | tuple | set | frozenset):
        raise InvalidAclError(
            f"an access list must be a list of strings like ['user:u1', 'group:eng'] (or "
            f"['tenant']), got {type(acl).__name__} {str(acl)[:60]!r}."
        )
    entries = list(acl)
    if entries == [NOBODY_TOKEN]:
        return []
    if entries == [POLICY_TOKEN]:
        return None
    if len(entries) > MAX_ACL_ENTRIES:
        raise InvalidAclError(
            f"the access list has {len(entries)} entries; the limit is {MAX_ACL_ENTRIES}. "
            "Grant groups rather than individual users."
        )
    out = set()
    for entry in entries:
        if not isinstance(entry, str):
            raise InvalidAclError(
                f"access list entries must be strings, got {type(entry).__name__} {entry!r}."
            )
        if entry == TENANT_READERS:
            out.add(entry)
            continue
        for prefix, what in ((USER_PREFIX, "user"), (GROUP_PREFIX, "group")):
            if entry.startswith(prefix):
                _check_name(entry[len(prefix) :], f"the {what} id in access list entry {entry!r}")
                out.add(entry)
                break
        else:
            raise InvalidAclError(
                f"access list entry {entry[:60]!r} is not 'user:<id>', 'group:<id>' or 'tenant'."
            )
    result = sorted(out)
    size = len(json.dumps(result, ensure_ascii=False).encode())
    if size > MAX_ACL_BYTES:
        raise InvalidAclError(
            f"the access list takes {size:,} bytes; the limit is {MAX_ACL_BYTES:,} (Pinecone "
            "allows 40 KB of metadata per record, text included). Grant groups instead."
        )
    return result


def stored_acl(acl: list[str] | None) -> list[str]:
    """What a record stores for a normalized ACL (``[]`` and ``None`` become tokens)."""
    if acl is None:
        return [POLICY_TOKEN]
    return acl if acl else [NOBODY_TOKEN]


def public_acl(value: Any) -> Any:
    """A stored ACL as callers see it: ``[]`` for nobody, ``None`` for "follows the policy"."""
    if isinstance(value, list):
        if value == [NOBODY_TOKEN]:
            return []
        if value == [POLICY_TOKEN]:
            return None
    return value


def store_acl_field(metadata: dict[str, Any]) -> dict[str, Any]:
    """Check and normalize the ``acl`` field of metadata about to be written (in place).

    A missing or ``None`` field is left out (the document follows the
    policy); anything else must be a valid access list.
    """
    if ACL_FIELD in metadata:
        acl = normalize_acl(metadata[ACL_FIELD])
        if acl is None:
            del metadata[ACL_FIELD]
        else:
            metadata[ACL_FIELD] = stored_acl(acl)
    return metadata


def public_acl_field(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata read back: the stored tokens turned into ``[]`` or a missing field (in place)."""
    value = metadata.get(ACL_FIELD)
    if isinstance(value, list) and len(value) == 1 and value[0][:1] == "!":
        shown = public_acl(value)
        if shown is None:
            del metadata[ACL_FIELD]
        else:
            metadata[ACL_FIELD] = shown
    return metadata


def acl_for(
    *, users: Iterable[str] = (), groups: Iterable[str] = (), tenant: bool = False
) -> list[str]:
    """Build an access list: ``acl_for(users=["u1"], groups=["eng"])``."""
    entries = [USER_PREFIX + u for u in users] + [GROUP_PREFIX + g for g in groups]
    if tenant:
        entries.append(TENANT_READERS)
    result = normalize_acl(entries)
    assert result is not None
    return result


# -- policy -------------------------------------------------------------------------------------


def check_policy(policy: Any) -> AclPolicy:
    """``policy`` if it is ``"tenant"`` or ``"private"``; else `ConfigurationError`."""
    if policy not in ACL_POLICIES:
        raise ConfigurationError(
            f"ACL policy must be 'tenant' (documents without an access list are readable by "
            f"the whole tenant) or 'private' (by tenant admins only), got {policy!r}."
        )
    return cast(AclPolicy, policy)


def acl_policy_of(index: Any) -> AclPolicy:
    """The ACL policy of the index behind a data-plane handle, without a request.

    Read from the tags `tenant_rag.connection.ensure_index` recorded on the
    handle (re-read from the control plane at most once a minute). A handle
    built another way carries no tags and gets the default, ``"tenant"``:
    pass ``acl_policy=`` to the pinned object, or build the handle with
    ``ensure_index``, for an index whose policy is ``"private"``. An unknown
    value in the tag is an error, never a guess.
    """
    tags = getattr(index, "_tenant_rag_tags", None)
    if tags is None:
        return DEFAULT_ACL_POLICY
    current = tags.current() if hasattr(tags, "current") else tags
    value = (current or {}).get(ACL_POLICY_TAG) if isinstance(current, Mapping) else None
    if not value:
        return DEFAULT_ACL_POLICY
    try:
        return check_policy(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"the index's {ACL_POLICY_TAG!r} tag is invalid: {exc}") from None


# -- what one reader may see --------------------------------------------------------------------


@dataclass(frozen=True)
class AclView:
    """What one reader may see under one policy: a filter condition and a record check."""

    reader: Reader
    policy: AclPolicy
    #: ACL entries that grant this reader access; ``None`` for the tenant admin (everything).
    tokens: frozenset[str] | None

    @property
    def is_admin(self) -> bool:
        return self.tokens is None

    def condition(self) -> dict[str, Any] | None:
        """The filter clause joined by ``$and`` to every query (``None`` for the admin).

        A fresh dict each time: the SDK owns the request once it is sent.
        """
        if self.tokens is None:
            return None
        granted = {ACL_FIELD: {"$in": sorted(self.tokens)}}
        if self.policy == "private":
            return granted
        return {"$or": [{ACL_FIELD: {"$exists": False}}, granted]}

    def allows(self, metadata: Mapping[str, Any] | None) -> bool:
        """Whether a record with this (stored) metadata may be returned to the reader."""
        if self.tokens is None:
            return True
        value = (metadata or {}).get(ACL_FIELD, _MISSING)
        if value is _MISSING:
            return self.policy == "tenant"
        if isinstance(value, str):
            return value in self.tokens
        if not isinstance(value, list):
            return False
        tokens = self.tokens
        return any(isinstance(v, str) and v in tokens for v in value)

    def join(self, user_filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The caller's filter with this reader's condition joined by ``$and``.

        A filter naming the ``acl`` field at any depth is refused for every
        reader but the tenant admin: it could only try to reach around the
        condition.
        """
        if user_filter is not None and not isinstance(user_filter, Mapping):
            raise TypeError(
                f"filter must be a dict of Pinecone filter operators, got {type(user_filter).__name__}."
            )
        user = dict(user_filter) if user_filter else None
        if self.tokens is None:
            return user
        if user and names_field(user, ACL_FIELD):
            raise AccessControlError(
                f"filters may not name the reserved access-list field {ACL_FIELD!r}; the "
                "principal's access is applied automatically."
            )
        cond = self.condition()
        assert cond is not None
        return {"$and": [cond, user]} if user else cond

    def describe(self) -> str:
        if self.reader is None:
            return "no principal"
        return repr(self.reader)


_MISSING = object()


@functools.lru_cache(maxsize=4096)
def view_for(reader: Reader, policy: AclPolicy) -> AclView:
    """The (cached) view of ``reader`` under ``policy``."""
    if isinstance(reader, TenantAdmin):
        return AclView(reader, policy, None)
    tokens = {TENANT_READERS} if reader is None else set(_tokens_of(reader))
    if policy == "tenant":
        tokens.add(POLICY_TOKEN)
    return AclView(reader, policy, frozenset(tokens))


def names_field(node: Any, field: str) -> bool:
    """Whether a filter expression mentions ``field`` at any depth (``$or`` included)."""
    if isinstance(node, Mapping):
        return any(k == field or names_field(v, field) for k, v in node.items())
    if isinstance(node, list | tuple):
        return any(names_field(v, field) for v in node)
    return False


__all__ = [
    "ACL_FIELD",
    "ACL_POLICIES",
    "ACL_POLICY_TAG",
    "DEFAULT_ACL_POLICY",
    "MAX_ACL_BYTES",
    "MAX_ACL_ENTRIES",
    "MAX_PRINCIPAL_GROUPS",
    "TENANT_ADMIN",
    "TENANT_READERS",
    "AclPolicy",
    "AclView",
    "Principal",
    "Reader",
    "TenantAdmin",
    "acl_for",
    "acl_policy_of",
    "check_policy",
    "check_reader",
    "normalize_acl",
    "principal_from",
    "reader_from_config",
    "view_for",
]
