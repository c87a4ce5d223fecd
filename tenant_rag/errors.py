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


class UnknownTenantError(TenantRagError, LookupError):
    """An operation named a tenant that has no data in the index; ``suggestions`` are close names.

    Pinecone creates a namespace with its first record, so "unknown" and
    "holds nothing" are the same thing; reading such a tenant is almost
    always a typo, which is why it is an error rather than an empty answer.
    """

    def __init__(self, message: str, tenant: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.tenant = tenant
        self.suggestions = suggestions


class UnknownDocumentError(TenantRagError, LookupError):
    """A document id the tenant does not have; ``suggestions`` are close ids."""

    def __init__(self, message: str, doc_id: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.doc_id = doc_id
        self.suggestions = suggestions


class DocumentConflictError(IngestError):
    """Documents of this run would replace documents ingested from another source.

    Raised by ``ingest`` after the run, which wrote everything else and left
    those documents as they were; ``.report`` is the run's `IngestReport` and
    ``.conflicts`` maps each document id to ``(stored source, this run's source)``.
    """

    def __init__(self, report: object, conflicts: dict[str, tuple[str, str | None]]) -> None:
        self.report = report
        self.conflicts = conflicts
        lines = [
            f"{len(conflicts)} document(s) were not written: each would replace a document of "
            "the same id ingested from another source."
        ]
        for doc_id, (was, new) in sorted(conflicts.items()):
            lines.append(f"  {doc_id!r}: stored from {was}; this run's source is {new or '(code)'}")
        lines.append(
            "Replace them with on_conflict='replace' (CLI: --replace), or keep both by giving "
            "this source's documents an id prefix with doc_id_prefix='docs2/' (CLI: --prefix docs2/)."
        )
        super().__init__("\n".join(lines))


class PortabilityError(TenantRagError):
    """An export, import, copy, move or re-embedding was refused or could not be verified."""


class CorruptExportError(PortabilityError, ValueError):
    """An export directory is incomplete or damaged: a missing or edited manifest, a
    truncated or altered Parquet file. Nothing was written; the message names the file."""


class DestinationNotEmptyError(PortabilityError):
    """The destination tenant already has records and ``on_existing="fail"`` was asked.

    Pass ``on_existing="merge"`` (keep them, overwrite same ids) or ``"replace"``
    (the destination ends with exactly the source's records)."""


class AclPolicyMismatchError(PortabilityError, PermissionError):
    """The source and destination indexes give documents without an access list different readers.

    In a ``"private"`` index only tenant admins read such a document; in a
    ``"tenant"`` index everyone in the tenant does. A copy, move, re-embedding or
    import between the two would silently widen (or narrow) who reads them, so it
    is refused before anything is written. Give the destination the source's
    policy (`tenant_rag.set_acl_policy`), or name the destination's policy with
    ``acl_policy=`` to accept the change."""


class TransferVerificationError(PortabilityError):
    """After writing, the destination's count or checksum differs from the source's.

    ``report`` holds both sides' figures. The source was not deleted."""

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class ErasureVerificationError(TenantRagError):
    """Records that should have been erased were still visible after the bounded wait.

    ``receipt`` holds what was deleted and what verification saw; erasing again is safe."""

    def __init__(self, message: str, receipt: object = None) -> None:
        super().__init__(message)
        self.receipt = receipt
