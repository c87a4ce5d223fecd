"""Key configuration: files (hashed), environment, strength, constant-time lookup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenant_rag.chat.config import (
    MIN_KEY_BITS,
    KeyRing,
    Principal,
    hash_key,
    key_strength_bits,
    load_keys,
    parse_keys_env,
)
from tenant_rag.chat.keyfile import new_key
from tenant_rag.errors import ConfigurationError

A, B, ADM = "key-a-3f9Qx7Lm2Rt8Wz", "key-b-8kPd4Hs6Yv1Nc0", "key-admin-5Jg2Tb9Ew4Ua"


def test_lookup_maps_each_key_to_its_tenant() -> None:
    ring = KeyRing.from_mapping({A: "acme", B: "globex"}, [ADM])
    assert ring.lookup(A) == Principal("acme")
    assert ring.lookup(B) == Principal("globex")
    assert ring.lookup(ADM) == Principal(None, admin=True)
    for probe in ("", A[:-1], A + "x", A.upper(), " " + A, "acme", "globex"):
        assert ring.lookup(probe) is None
    assert ring.tenants == ["acme", "globex"]
    assert ring.admin_count == 1


def test_lookup_compares_against_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: a hit on the first key still compares all the others."""
    import tenant_rag.chat.config as config

    calls: list[int] = []
    real = config.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(config.hmac, "compare_digest", counting)
    ring = KeyRing.from_mapping({A: "acme", B: "globex"}, [ADM])
    ring.lookup(A)
    assert len(calls) == 3
    calls.clear()
    ring.lookup("unknown-key-xyz")
    assert len(calls) == 3


def test_repr_never_shows_keys() -> None:
    ring = KeyRing.from_mapping({A: "acme"}, [ADM])
    for text in (repr(ring), str(ring), repr(ring.lookup(A))):
        assert A not in text and ADM not in text


@pytest.mark.parametrize(
    ("keys", "admin", "words"),
    [
        ({A: "__default__"}, [], "bad tenant id"),
        ({A: ""}, [], "bad tenant id"),
        ({A: " acme"}, [], "bad tenant id"),
        ({"short": "acme"}, [], "too weak"),
        ({"key-aaaaaaaa": "acme"}, [], "too weak"),
        ({"0123456789abcdef0123456789abcde": "acme"}, [], "too weak"),  # 31 hex digits
        ({"key with space 3f9Qx7Lm2Rt8Wz": "acme"}, [], "whitespace"),
        ({"key=3f9Qx7Lm2Rt8Wz5Kd": "acme"}, [], "must not contain"),
        ({"sha256:XYZ": "acme"}, [], "looks like a stored hash"),
        ({A: "acme"}, [A], "also configured as a tenant key"),
        ({A: "acme"}, [hash_key(A)], "also configured as a tenant key"),
        ({A: "acme", hash_key(A): "globex"}, [], "configured twice"),
        ({A: "acme"}, ["tiny"], "admin key #1"),
    ],
)
def test_bad_configuration_is_refused(keys: dict[str, str], admin: list[str], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words) as info:
        KeyRing.from_mapping(keys, admin)
    for key in (*keys, *admin):
        if len(key) >= 12:
            assert key not in str(info.value)


def test_env_configuration() -> None:
    env = {"TENANT_RAG_CHAT_KEYS": f"{A}=acme, {B}=globex", "TENANT_RAG_ADMIN_KEY": ADM}
    ring = load_keys(env=env)
    assert ring.lookup(A) == Principal("acme")
    assert ring.lookup(ADM) == Principal(None, admin=True)
    assert parse_keys_env(f"{A}=acme,,") == {A: "acme"}
    with pytest.raises(ConfigurationError, match="has no '='"):
        parse_keys_env(A)


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps(
            {"keys": {hash_key(A): "acme", hash_key(B): "globex"}, "admin_keys": [hash_key(ADM)]}
        )
    )
    ring = load_keys(path, env={})
    assert ring.tenants == ["acme", "globex"] and ring.admin_count == 1
    assert ring.lookup(A) == Principal("acme") and ring.lookup(ADM) == Principal(None, True)
    assert ring.lookup(hash_key(A)) is None  # the stored hash is not a key


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(f'admin_keys = ["{hash_key(ADM)}"]\n[keys]\n"{hash_key(A)}" = "acme"\n')
    ring = load_keys(path, env={})
    assert ring.lookup(A) == Principal("acme")


def test_file_from_env(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": {hash_key(A): "acme"}}))
    assert load_keys(env={"TENANT_RAG_CHAT_KEYS_FILE": str(path)}).tenants == ["acme"]


def test_plain_keys_file_is_refused_with_the_migration_command(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": {A: "acme", hash_key(B): "globex"}, "admin_keys": [ADM]}))
    with pytest.raises(ConfigurationError) as info:
        load_keys(path, env={})
    message = str(info.value)
    assert "stores 2 key(s) in plain text" in message
    assert "tenant key #1 (acme)" in message and "admin key #1" in message
    assert f"tenant-rag chat-keys migrate {path}" in message
    assert A not in message and ADM not in message


def test_env_accepts_hashed_keys() -> None:
    ring = load_keys(env={"TENANT_RAG_CHAT_KEYS": f"{hash_key(A)}=acme,{B}=globex"})
    assert ring.lookup(A) == Principal("acme") and ring.lookup(B) == Principal("globex")
    assert ring.secrets() == {B}  # only plain keys are known for log redaction


@pytest.mark.parametrize(
    ("key", "strong"),
    [
        ("0123456789abcdef" * 2, True),  # 32 hex digits: 128 bits
        ("0123456789abcdef0123456789abcde", False),  # 31
        ("Qw8Zr4Tn6YpKx2Vb9Lm1Xc", True),  # 22 base64url characters: 131 bits
        ("Qw8Zr4Tn6YpKx2Vb9Lm1X", False),  # 21
        ("a" * 64, False),  # one character
        ("abcabcabcabcabcabcabcabcabcabcabc", False),  # three distinct characters
        ("password" * 4, False),  # a quarter of it is "s"... and 7 distinct
    ],
)
def test_key_strength(key: str, strong: bool) -> None:
    assert (key_strength_bits(key) >= MIN_KEY_BITS) is strong


def test_generated_keys_are_strong_and_distinct() -> None:
    keys = {new_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("trk_") and len(key) == 47
        assert key_strength_bits(key) >= 2 * MIN_KEY_BITS
        KeyRing.from_mapping({key: "acme"})


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json " + A, "not valid JSON"),
        ('["a list"]', "must hold an object"),
        (json.dumps({"keys": {A: "acme"}, "tenants": {}}), "unknown fields"),
        (json.dumps({"keys": [A]}), "must be an object"),
        (json.dumps({"keys": {A: "acme"}, "admin_keys": 5}), "admin_keys"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=words) as info:
        load_keys(path, env={})
    assert A not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read keys file"):
        load_keys(tmp_path / "nope.json", env={})


def test_no_tenant_keys_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="no tenant API keys configured"):
        load_keys(env={})
    with pytest.raises(ConfigurationError, match="no tenant API keys configured"):
        load_keys(env={"TENANT_RAG_ADMIN_KEY": ADM})
