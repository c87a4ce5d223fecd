"""Every error tenant_rag raises on purpose.

They share one base, :class:`TenantRagError`, so an application can catch the
library's refusals in one place, and each message names what to fix. The
isolation errors are deliberately distinct types: a chatbot backend should
treat a :class:`TenantIsolationError` as a bug or an attack, never retry it.
"""

from __future__ import annotations


class TenantRagError(Exception):
    """Base class for the errors tenant_rag raises on purpose."""


class InvalidTenantError(TenantRagError, ValueError):
    """A tenant id broke one of the rules; the message names the rule."""


class TenantIsolationError(TenantRagError, PermissionError):
    """A call tried to reach outside the tenant it is pinned to.

    Raised instead of silently widening the scope: another namespace, a
    ``namespace=None``, a filter naming the tenant field, or a missing
    per-request tenant.
    """


class IndexMismatchError(TenantRagError, ValueError):
    """An existing index has another dimension, metric or type than asked."""


class ConfigurationError(TenantRagError, RuntimeError):
    """The environment or arguments do not describe a usable setup."""


class QuotaExceededError(TenantRagError):
    """A tenant is over one of its configured quotas (records or read units)."""

    def __init__(self, tenant: str, quota: str, limit: float, used: float) -> None:
        self.tenant, self.quota, self.limit, self.used = tenant, quota, limit, used
        super().__init__(
            f"tenant {tenant!r} is over its {quota} quota: {used:g} used of {limit:g}. "
            "Raise the quota with Quotas(...) or wait for the window to pass."
        )


class IngestError(TenantRagError):
    """A document could not be ingested; the message names the document."""


class InvalidAclError(TenantRagError, ValueError):
    """An access list or a principal broke a rule; the message names the rule.

    Raised before anything is read or written: a bad access list never falls
    back to wider access (nor to none), it is refused.
    """


class AccessControlError(TenantIsolationError):
    """A read tried to reach outside what its principal may see inside the tenant.

    A filter naming the access-list field, or a record the principal may not
    read coming back from the index (which would mean the filter was ignored).
    A subclass of :class:`TenantIsolationError`: treat it as a bug or an
    attack, never retry it.
    """
