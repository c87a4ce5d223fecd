"""The ACL policy of an index: what a document without an access list means.

``"tenant"`` (the default): everyone in the tenant may read it, as before
ACLs existed. ``"private"``: tenant admins only. The policy is kept in the
index's tags (``tenant-rag-acl``), so every process and every handle agree;
handles from `tenant_rag.connection.ensure_index` re-read their tags at
most once a minute, and this process's own handles at once.
"""

from __future__ import annotations

from typing import Any

from tenant_rag.connection import refresh_index_tags, tags_of
from tenant_rag.tenancy.acl import (
    ACL_POLICY_TAG,
    DEFAULT_ACL_POLICY,
    AclPolicy,
    check_policy,
)


def set_acl_policy(pc: Any, index_name: str, policy: AclPolicy) -> None:
    """Set the ACL policy of ``index_name`` (``"tenant"`` or ``"private"``) in its tags.

    Other tags are kept. This process's handles from ``ensure_index(pc, ...)``
    see the new policy at once; other processes within a minute.
    """
    value = check_policy(policy)
    pc.configure_index(index_name, tags={ACL_POLICY_TAG: value})
    refresh_index_tags(pc, index_name)


def acl_policy(pc: Any, index_name: str) -> AclPolicy:
    """The ACL policy of ``index_name`` as its tags say now (the default when they say none)."""
    value = tags_of(pc.describe_index(index_name)).get(ACL_POLICY_TAG)
    return check_policy(value) if value else DEFAULT_ACL_POLICY


__all__ = ["acl_policy", "set_acl_policy"]
