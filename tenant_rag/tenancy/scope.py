"""`TenantScope`: what "pinned to one tenant" means, in one place.

Every pinned object (raw index, LangChain store, LlamaIndex store, ingestion,
lifecycle) holds a `TenantScope` and asks it three things: which namespace to
send, how to turn the caller's ids and filters into stored ones, and whether
a caller-supplied namespace is an attempt to escape. Keeping those answers
here means the fail-closed rules cannot drift apart between integrations.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote

from tenant_rag.errors import TenantIsolationError
from tenant_rag.tenancy.ids import DEFAULT_NAMESPACE_NAMES, validate_tenant

Isolation = Literal["namespace", "metadata"]

#: Shared namespace used by metadata isolation. Never Pinecone's default
#: namespace, so unpinned clients that forget a namespace do not see it.
DEFAULT_SHARED_NAMESPACE = "tenant-shared"
#: Metadata field that carries the tenant id under metadata isolation.
TENANT_FIELD = "tenant_id"
_ID_SEPARATOR = "::"
_MISSING = object()


@dataclass(frozen=True)
class TenantScope:
    """The single tenant a pinned object may touch, and how it is isolated.

    ``isolation="namespace"`` (Pinecone's recommended model): the namespace is
    the tenant id and ids are stored as given.

    ``isolation="metadata"`` (the guide's alternative): all tenants share
    ``shared_namespace``; ids are stored as ``quote(tenant) + "::" + id``
    (prefix-free, because a quoted tenant never contains ``:``), so a
    tenant's records can be listed and deleted by prefix without a filter;
    the tenant id is written into metadata and forced into every filter.
    """

    tenant: str
    isolation: Isolation = "namespace"
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE
    tenant_field: str = TENANT_FIELD

    def __post_init__(self) -> None:
        validate_tenant(self.tenant)
        if self.isolation not in ("namespace", "metadata"):
            raise ValueError(
                f"isolation must be 'namespace' or 'metadata', got {self.isolation!r}."
            )
        if self.isolation == "metadata":
            if self.shared_namespace in DEFAULT_NAMESPACE_NAMES or not self.shared_namespace:
                raise TenantIsolationError(
                    "metadata isolation needs a named shared namespace, not Pinecone's "
                    "default namespace; pass shared_namespace='tenant-shared' or similar."
                )
            if not self.tenant_field:
                raise ValueError("tenant_field must be a non-empty metadata key.")

    # -- namespace ---------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The namespace every request of this tenant is sent to."""
        return self.tenant if self.isolation == "namespace" else self.shared_namespace

    def check_namespace_kwarg(self, kwargs: MutableMapping[str, Any], *, where: str = "") -> None:
        """Refuse a caller-supplied namespace that is not this tenant's own.

        Removes ``namespace`` from ``kwargs`` when it equals the pinned
        namespace (a harmless no-op). Anything else, including ``None`` and
        ``""``, raises instead of silently reaching another namespace; that
        silent fallback is exactly how the upstream integrations fail open.
        """
        value = kwargs.pop("namespace", _MISSING)
        if value is _MISSING or value == self.namespace:
            return
        place = f" in {where}" if where else ""
        raise TenantIsolationError(
            f"namespace={value!r} was passed{place}, but this object is pinned to tenant "
            f"{self.tenant!r} (namespace {self.namespace!r}). Build a pinned object for the "
            "other tenant instead; a pinned object never targets another namespace."
        )

    # -- ids ---------------------------------------------------------------------

    @property
    def id_prefix(self) -> str:
        """Prefix of every stored id ('' under namespace isolation)."""
        if self.isolation == "namespace":
            return ""
        return quote(self.tenant, safe="") + _ID_SEPARATOR

    def stored_id(self, record_id: str) -> str:
        """The id as stored in Pinecone for the caller's ``record_id``."""
        if not isinstance(record_id, str) or not record_id:
            raise ValueError(f"record ids must be non-empty strings, got {record_id!r}.")
        return self.id_prefix + record_id

    def public_id(self, stored: str) -> str:
        """The caller's id for a stored id; refuses ids of another tenant."""
        prefix = self.id_prefix
        if not stored.startswith(prefix):
            raise TenantIsolationError(
                f"record {stored!r} does not belong to tenant {self.tenant!r}; refusing to "
                "return it."
            )
        return stored[len(prefix) :]

    def owns_stored_id(self, stored: str) -> bool:
        """Whether a stored id belongs to this tenant (always true by namespace)."""
        return stored.startswith(self.id_prefix)

    @staticmethod
    def tenant_of_stored_id(stored: str) -> str | None:
        """The tenant encoded in a metadata-isolation id, for admin tooling."""
        head, sep, _ = stored.partition(_ID_SEPARATOR)
        return unquote(head) if sep else None

    # -- metadata and filters ----------------------------------------------------------

    def stored_metadata(self, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
        """Metadata to store: under metadata isolation the tenant field is forced."""
        out = dict(metadata or {})
        if self.isolation == "metadata":
            if self.tenant_field in out and out[self.tenant_field] != self.tenant:
                raise TenantIsolationError(
                    f"metadata field {self.tenant_field!r} is reserved for the tenant id; "
                    f"got {out[self.tenant_field]!r} for tenant {self.tenant!r}."
                )
            out[self.tenant_field] = self.tenant
        return out

    def public_metadata(self, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
        """Metadata as shown to the caller (the forced tenant field removed)."""
        out = dict(metadata or {})
        if self.isolation == "metadata":
            out.pop(self.tenant_field, None)
        return out

    def pinned_filter(self, user_filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Combine the caller's filter with the pin; the result can never be wider.

        Under metadata isolation the tenant condition is joined with ``$and``,
        and a user filter that names the tenant field anywhere (including
        inside ``$or``) is refused rather than interpreted.
        """
        if user_filter is not None and not isinstance(user_filter, Mapping):
            raise TypeError(
                f"filter must be a dict of Pinecone filter operators, got {type(user_filter).__name__}."
            )
        user = dict(user_filter) if user_filter else None
        if self.isolation == "namespace":
            return user
        if user and _names_field(user, self.tenant_field):
            raise TenantIsolationError(
                f"filters may not name the reserved tenant field {self.tenant_field!r}; the "
                "tenant is applied automatically."
            )
        pin: dict[str, Any] = {self.tenant_field: {"$eq": self.tenant}}
        return {"$and": [pin, user]} if user else pin

    def owns_metadata(self, metadata: Mapping[str, Any] | None) -> bool:
        """Defence in depth: does a returned record carry this tenant's mark?"""
        if self.isolation == "namespace":
            return True
        return (metadata or {}).get(self.tenant_field) == self.tenant


def _names_field(node: Any, field: str) -> bool:
    """Whether a filter expression mentions ``field`` at any depth."""
    if isinstance(node, Mapping):
        return any(k == field or _names_field(v, field) for k, v in node.items())
    if isinstance(node, list | tuple):
        return any(_names_field(v, field) for v in node)
    return False
