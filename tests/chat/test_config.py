"""Key configuration: files, environment, validation, constant-time lookup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenant_rag.chat.config import KeyRing, Principal, load_keys, parse_keys_env
from tenant_rag.errors import ConfigurationError

A, B, ADM = "key-aaaaaaaa", "key-bbbbbbbb", "key-admin-000"


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
        ({"short": "acme"}, [], "shorter than"),
        ({"key with space": "acme"}, [], "whitespace"),
        ({"key=aaaaaaaa": "acme"}, [], "must not contain"),
        ({A: "acme"}, [A], "also configured as a tenant key"),
        ({A: "acme"}, ["tiny"], "admin key #1"),
    ],
)
def test_bad_configuration_is_refused(keys: dict[str, str], admin: list[str], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words) as info:
        KeyRing.from_mapping(keys, admin)
    for key in (*keys, *admin):
        if len(key) >= 8:
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
    path.write_text(json.dumps({"keys": {A: "acme", B: "globex"}, "admin_keys": [ADM]}))
    ring = load_keys(path, env={})
    assert ring.tenants == ["acme", "globex"] and ring.admin_count == 1


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(f'admin_keys = ["{ADM}"]\n[keys]\n"{A}" = "acme"\n')
    ring = load_keys(path, env={})
    assert ring.lookup(A) == Principal("acme")


def test_file_from_env(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": {A: "acme"}}))
    assert load_keys(env={"TENANT_RAG_CHAT_KEYS_FILE": str(path)}).tenants == ["acme"]


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
