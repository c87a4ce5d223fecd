"""The ACL policy travels with a tenant's records, or the transfer is refused.

A document without an access list follows its index's policy
(`tenant_rag.lifecycle.access`): admins only in a ``"private"`` index,
everyone in the tenant in a ``"tenant"`` one. Records carry no trace of the
policy, so copying them between indexes whose policies differ would change who
reads them without anyone saying so: from ``"private"`` to ``"tenant"`` it
exposes them. Every transfer (export and import, copy, move, isolation
migration, re-embedding) therefore checks the two policies before writing
anything, and goes on across a difference only when the caller names the
destination's policy with ``acl_policy=``.
"""

from __future__ import annotations

from typing import Any

from tenant_rag.errors import AclPolicyMismatchError
from tenant_rag.tenancy.acl import AclPolicy, check_policy

_MEANS = {
    "private": "only tenant admins",
    "tenant": "everyone in the tenant",
}


def check_acl_policies(
    source: AclPolicy | None,
    destination: AclPolicy,
    named: Any,
    *,
    source_what: str,
    destination_index: str,
) -> None:
    """Refuse a transfer that would change who reads documents without an access list.

    ``source`` is ``None`` when it is not known (an export written before
    manifests recorded it). ``named`` is the caller's ``acl_policy=``: when
    given it must be the destination's policy, and it accepts the change.
    """
    fix = (
        f"Give index {destination_index!r} the source's policy first "
        f"(set_acl_policy(pc, {destination_index!r}, ...); CLI: --acl-policy when the command "
        "creates the index), or pass acl_policy="
    )
    if named is not None:
        chosen = check_policy(named)
        if chosen != destination:
            raise AclPolicyMismatchError(
                f"acl_policy={chosen!r} was named, but index {destination_index!r} has ACL "
                f"policy {destination!r}: documents without an access list would be read by "
                f"{_MEANS[destination]} there. Set it with set_acl_policy(pc, "
                f"{destination_index!r}, {chosen!r}) first, or name acl_policy={destination!r}. "
                "Nothing was written."
            )
        return
    if source == destination:
        return
    if source is None:
        raise AclPolicyMismatchError(
            f"{source_what} does not say which ACL policy its index had, and index "
            f"{destination_index!r} has policy {destination!r}: documents without an access "
            f"list would be read by {_MEANS[destination]} ('private' allows only tenant "
            f"admins, 'tenant' everyone in the tenant). {fix}{destination!r} to accept that. "
            "Nothing was written."
        )
    raise AclPolicyMismatchError(
        f"{source_what} comes from an index with ACL policy {source!r} ({_MEANS[source]} read "
        f"its documents without an access list), but index {destination_index!r} has policy "
        f"{destination!r} ({_MEANS[destination]} would read them). {fix}{destination!r} to "
        "accept the change. Nothing was written."
    )


__all__ = ["check_acl_policies"]
