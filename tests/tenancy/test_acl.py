"""Access lists and principals: the rules, the condition, the record check (no server).

Every bad input from issue 14 is refused with a clear error and none falls
back to wider access: an ACL that is not a list of valid strings, a principal
with no user, a group list over the limit. The condition a view joins to a
query and the check it applies to returned records must agree on every case.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from tenant_rag import TENANT_ADMIN, AccessControlError, InvalidAclError, Principal, acl_for
from tenant_rag.errors import ConfigurationError, TenantIsolationError
from tenant_rag.tenancy.acl import (
    ACL_POLICY_TAG,
    DEFAULT_ACL_POLICY,
    MAX_ACL_ENTRIES,
    MAX_PRINCIPAL_GROUPS,
    acl_policy_of,
    normalize_acl,
    public_acl_field,
    reader_from_config,
    store_acl_field,
    view_for,
)

BAD_ACLS: list[Any] = [
    "user:u1",  # a bare string: almost always a forgotten list
    b"user:u1",
    {"users": ["u1"]},
    42,
    ["user:u1", 7],
    ["user:u1", None],
    ["u1"],  # no prefix
    ["user:"],  # empty id
    ["group:"],
    ["user: u1"],  # surrounding whitespace
    ["group:eng\n"],
    ["user:u1\x00"],
    ["everyone"],
    ["*"],
    ["!nobody", "user:u1"],  # the stored tokens are not entries
    ["!policy"] * 2,
    ["user:" + "x" * 300],
    [f"user:u{i}" for i in range(MAX_ACL_ENTRIES + 1)],
    [f"group:{'g' * 200}{i}" for i in range(60)],  # over the byte budget
]


@pytest.mark.parametrize("acl", BAD_ACLS, ids=[repr(a)[:40] for a in BAD_ACLS])
def test_a_bad_acl_is_refused_with_a_clear_error(acl: Any) -> None:
    with pytest.raises(InvalidAclError) as exc:
        normalize_acl(acl)
    assert str(exc.value), "the error names the rule"


def test_acls_are_normalized() -> None:
    assert normalize_acl(None) is None
    assert normalize_acl([]) == []
    assert normalize_acl(("user:b", "group:a", "user:b", "tenant")) == [
        "group:a",
        "tenant",
        "user:b",
    ]
    assert normalize_acl(["user:Zoë Ünïcode"]) == ["user:Zoë Ünïcode"]
    assert acl_for(users=["u1"], groups=["hr"], tenant=True) == ["group:hr", "tenant", "user:u1"]
    # the stored tokens read back as what they stand for
    assert normalize_acl(["!nobody"]) == []
    assert normalize_acl(["!policy"]) is None


def test_stored_and_public_forms_round_trip() -> None:
    for acl, stored in ((["user:u1"], ["user:u1"]), ([], ["!nobody"])):
        md = store_acl_field({"acl": acl})
        assert md == {"acl": stored}
        assert public_acl_field(dict(md)) == {"acl": acl}
    assert store_acl_field({"acl": None}) == {}, "None: no field, the policy decides"
    assert public_acl_field({"acl": ["!policy"]}) == {}


BAD_PRINCIPALS: list[tuple[str, Any, Any]] = [
    ("no user", None, ["eng"]),
    ("empty user", "", []),
    ("user not a string", 42, []),
    ("groups a string", "u1", "eng"),
    ("groups not iterable", "u1", 3),
    ("a group not a string", "u1", ["eng", 4]),
    ("an empty group", "u1", [""]),
    ("control characters", "u1\n", []),
    ("too many groups", "u1", [f"g{i}" for i in range(MAX_PRINCIPAL_GROUPS + 1)]),
]


@pytest.mark.parametrize(
    ("what", "user", "groups"), BAD_PRINCIPALS, ids=[b[0] for b in BAD_PRINCIPALS]
)
def test_a_bad_principal_is_refused(what: str, user: Any, groups: Any) -> None:
    with pytest.raises(InvalidAclError):
        Principal(user, groups)


def test_principals_are_values() -> None:
    a = Principal("u1", ["hr", "eng", "hr"])
    assert a == Principal("u1", ("eng", "hr")) and hash(a) == hash(Principal("u1", ["eng", "hr"]))
    assert a.groups == ("eng", "hr")
    assert a.tokens == {"tenant", "user:u1", "group:eng", "group:hr"}
    assert repr(TENANT_ADMIN) == "TENANT_ADMIN"
    assert pickle.loads(pickle.dumps(TENANT_ADMIN)) is TENANT_ADMIN
    assert Principal("u1", [f"g{i}" for i in range(MAX_PRINCIPAL_GROUPS)])  # at the limit


def test_config_names_a_principal_or_none() -> None:
    assert reader_from_config({"tenant_id": "acme"}) is None
    assert reader_from_config({"user_id": "u1", "groups": ["eng"]}) == Principal("u1", ["eng"])
    assert reader_from_config({"principal": TENANT_ADMIN}) is TENANT_ADMIN
    for bad in (
        {"groups": ["eng"]},  # groups without a user
        {"user_id": None, "groups": ["eng"]},
        {"principal": "admin"},  # strings never stand for the admin
        {"principal": {"user": "u1"}},
        {"principal": TENANT_ADMIN, "user_id": "u1"},
        {"user_id": "u1", "groups": "eng"},
    ):
        with pytest.raises(InvalidAclError):
            reader_from_config(bad)


#: (stored metadata, readers that may read it under "tenant", under "private")
CASES: list[tuple[dict[str, Any], set[str], set[str]]] = [
    ({}, {"anon", "u1", "u2", "admin"}, {"admin"}),  # no ACL: the policy decides
    ({"acl": ["!policy"]}, {"anon", "u1", "u2", "admin"}, {"admin"}),
    ({"acl": ["tenant"]}, {"anon", "u1", "u2", "admin"}, {"anon", "u1", "u2", "admin"}),
    ({"acl": ["!nobody"]}, {"admin"}, {"admin"}),
    ({"acl": ["user:u1"]}, {"u1", "admin"}, {"u1", "admin"}),
    ({"acl": ["group:hr"]}, {"u2", "admin"}, {"u2", "admin"}),
    ({"acl": ["group:hr", "user:u1"]}, {"u1", "u2", "admin"}, {"u1", "u2", "admin"}),
    ({"acl": "user:u1"}, {"u1", "admin"}, {"u1", "admin"}),  # a string field, as $in reads it
    ({"acl": 7}, {"admin"}, {"admin"}),
    ({"acl": ["user:u3"]}, {"admin"}, {"admin"}),
]
READERS = {
    "anon": None,
    "u1": Principal("u1"),
    "u2": Principal("u2", ["hr"]),
    "admin": TENANT_ADMIN,
}


@pytest.mark.parametrize("policy", ["tenant", "private"])
@pytest.mark.parametrize(("md", "tenant_ok", "private_ok"), CASES)
def test_condition_and_check_agree(
    policy: str, md: dict[str, Any], tenant_ok: set[str], private_ok: set[str]
) -> None:
    """The filter sent to Pinecone and the check on the way out say the same, case by case."""
    allowed = tenant_ok if policy == "tenant" else private_ok
    for name, reader in READERS.items():
        view = view_for(reader, policy)  # type: ignore[arg-type]
        assert view.allows(md) == (name in allowed), (name, md, policy)
        assert _matches(view.condition(), md) == (name in allowed), (name, md, policy)


def _matches(cond: Any, md: dict[str, Any]) -> bool:
    """Pinecone's semantics for the few operators a condition uses."""
    if cond is None:
        return True
    if "$or" in cond:
        return any(_matches(c, md) for c in cond["$or"])
    ((field, ops),) = cond.items()
    ((op, arg),) = ops.items()
    if op == "$exists":
        return (field in md) is arg
    value = md.get(field)
    items = value if isinstance(value, list) else [value]
    return field in md and any(isinstance(v, str) and v in arg for v in items)


def test_join_refuses_a_filter_on_the_acl_field_for_every_reader_but_the_admin() -> None:
    attempts = [
        {"acl": {"$in": ["tenant"]}},
        {"$or": [{"acl": {"$exists": True}}, {"doc_id": "x"}]},
        {"$and": [{"doc_id": "x"}, {"$or": [{"acl": "user:u1"}]}]},
    ]
    for reader in (None, Principal("u1")):
        for flt in attempts:
            with pytest.raises(AccessControlError) as exc:
                view_for(reader, "tenant").join(flt)
            assert isinstance(exc.value, TenantIsolationError)
    assert view_for(TENANT_ADMIN, "tenant").join(attempts[0]) == attempts[0]
    joined = view_for(Principal("u1"), "private").join({"doc_id": "x"})
    assert joined == {"$and": [{"acl": {"$in": ["tenant", "user:u1"]}}, {"doc_id": "x"}]}


class _Tags:
    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = tags

    def current(self) -> dict[str, str]:
        return self.tags


class _Handle:
    def __init__(self, tags: Any) -> None:
        self._tenant_rag_tags = tags


def test_the_policy_comes_from_the_index_tags_and_defaults_to_tenant() -> None:
    assert DEFAULT_ACL_POLICY == "tenant"
    assert acl_policy_of(object()) == "tenant", "a handle without tags: the stated default"
    assert acl_policy_of(_Handle(_Tags({}))) == "tenant"
    assert acl_policy_of(_Handle(_Tags({ACL_POLICY_TAG: "private"}))) == "private"
    with pytest.raises(ConfigurationError, match="invalid"):
        acl_policy_of(_Handle(_Tags({ACL_POLICY_TAG: "privat"})))
