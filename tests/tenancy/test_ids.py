"""Tenant id rules: every bad id is refused with the rule it broke."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenant_rag import InvalidTenantError, tenant_id_for, validate_tenant


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (None, "required"),
        ("", "non-empty"),
        ("__default__", "default namespace"),
        (" acme", "whitespace"),
        ("acme\t", "printable ASCII"),
        ("acme ", "whitespace"),
        ("ac\x00me", "NUL"),
        ("x" * 513, "at most 512"),
        ("аcme", "printable ASCII"),  # Cyrillic a: a unicode look-alike
        ("acme\n", "printable ASCII"),
        (42, "must be a str"),
        (b"acme", "must be a str"),
    ],
)
def test_bad_tenant_ids_are_refused_naming_the_rule(bad: object, rule: str) -> None:
    with pytest.raises(InvalidTenantError, match=rule):
        validate_tenant(bad)


@pytest.mark.parametrize("good", ["acme", "tenant-1", "a" * 512, "../etc", "a b", "x@y.com"])
def test_valid_ids_pass_unchanged(good: str) -> None:
    assert validate_tenant(good) == good


def test_invalid_tenant_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_tenant("")


@given(st.text(min_size=1, max_size=300))
def test_tenant_id_for_always_gives_a_valid_deterministic_id(key: str) -> None:
    tid = tenant_id_for(key)
    assert validate_tenant(tid) == tid
    assert tenant_id_for(key) == tid


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_tenant_id_for_never_maps_two_keys_to_one_tenant(a: str, b: str) -> None:
    if a != b:
        assert tenant_id_for(a) != tenant_id_for(b)


def test_tenant_id_for_keeps_safe_keys_readable_and_hashes_the_rest() -> None:
    assert tenant_id_for("alice@example.com") == "t-alice@example.com"
    assert tenant_id_for("Ünïcode Corp").startswith("t-")
    assert tenant_id_for("Ünïcode Corp") != tenant_id_for("Unicode Corp")
    with pytest.raises(InvalidTenantError):
        tenant_id_for("")
