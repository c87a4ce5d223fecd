"""Keys files: ``tenant-rag chat-keys new|migrate``, hashed storage, reload without a restart."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenant_rag.chat.config import Principal, hash_key, is_hashed, load_keys
from tenant_rag.chat.keyfile import migrate_keys_file
from tenant_rag.chat.keystore import KeyStore
from tenant_rag.cli.app import app
from tenant_rag.errors import ConfigurationError
from tenant_rag.local import LocalServer

from .conftest import make_backend

A, B, ADM = "key-a-3f9Qx7Lm2Rt8Wz", "key-b-8kPd4Hs6Yv1Nc0", "key-admin-5Jg2Tb9Ew4Ua"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_new_prints_one_strong_key_and_nothing_else_on_stdout() -> None:
    code, out, err = _run("chat-keys", "new")
    assert code == 0, err
    key = out.strip()
    assert out == key + "\n" and key.startswith("trk_") and len(key) == 47
    assert hash_key(key) in err  # the keys-file entry to paste, on stderr
    load_keys(env={"TENANT_RAG_CHAT_KEYS": f"{key}=acme"})  # strong enough to be accepted


def test_new_adds_the_hash_to_a_keys_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    code, out, err = _run("chat-keys", "new", "--tenant", "acme", "--keys", str(path))
    assert code == 0, err
    acme = out.strip()
    code, out, err = _run("chat-keys", "new", "--admin", "--keys", str(path))
    assert code == 0, err
    admin = out.strip()
    text = path.read_text()
    assert acme not in text and admin not in text
    data = json.loads(text)
    assert data == {"keys": {hash_key(acme): "acme"}, "admin_keys": [hash_key(admin)]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = load_keys(path, env={})
    assert ring.lookup(acme) == Principal("acme") and ring.lookup(admin) == Principal(None, True)
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temporary file left


def test_new_refuses_unclear_requests(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    assert _run("chat-keys", "new", "--keys", str(path))[0] == 2
    assert _run("chat-keys", "new", "--tenant", "acme", "--admin")[0] == 2
    code, _, err = _run("chat-keys", "new", "--tenant", "__default__", "--keys", str(path))
    assert code == 1 and "__default__" in err
    assert not path.exists()
    path.write_text(json.dumps({"keys": {A: "acme"}}))
    code, _, err = _run("chat-keys", "new", "--tenant", "globex", "--keys", str(path))
    assert code == 1 and "chat-keys migrate" in err
    assert json.loads(path.read_text()) == {"keys": {A: "acme"}}


def test_migrate_hashes_plain_keys_in_place(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": {A: "acme", hash_key(B): "globex"}, "admin_keys": [ADM]}))
    with pytest.raises(ConfigurationError, match="chat-keys migrate"):
        load_keys(path, env={})
    code, out, err = _run("chat-keys", "migrate", str(path))
    assert code == 0, err
    assert "2 key(s) now stored as SHA-256 hashes (1 already were)" in out
    text = path.read_text()
    assert A not in text and ADM not in text
    data = json.loads(text)
    assert all(is_hashed(k) for k in [*data["keys"], *data["admin_keys"]])
    ring = load_keys(path, env={})
    for key, who in (
        (A, Principal("acme")),
        (B, Principal("globex")),
        (ADM, Principal(None, True)),
    ):
        assert ring.lookup(key) == who
    code, out, _ = _run("chat-keys", "migrate", str(path))
    assert code == 0 and "nothing to do" in out


def test_migrate_keeps_toml(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    # a tenant id may hold a quote or a backslash: the rewritten TOML must keep it exact
    path.write_text(f'admin_keys = ["{ADM}"]\n[keys]\n"{A}" = "acme"\n"{B}" = \'glo"b\\ex\'\n')
    migrate_keys_file(path)
    data = tomllib.loads(path.read_text())
    assert data == {
        "admin_keys": [hash_key(ADM)],
        "keys": {hash_key(A): "acme", hash_key(B): 'glo"b\\ex'},
    }


def test_migrate_refuses_weak_keys_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    original = json.dumps({"keys": {A: "acme", "acme-key-123": "globex"}, "admin_keys": ["x" * 9]})
    path.write_text(original)
    code, _, err = _run("chat-keys", "migrate", str(path))
    assert code == 1
    assert "tenant key #2 (globex) is too weak" in err and "admin key #1 is too weak" in err
    assert "acme-key-123" not in err and A not in err
    assert path.read_text() == original


def test_keys_file_edits_apply_without_a_restart(
    shared_local_server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Add a tenant, revoke a key, break the file: the running app follows (or keeps going)."""
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": {hash_key(A): "acme"}}))
    store = KeyStore.load(path, env={}, interval=0.0)
    backend = make_backend(shared_local_server, store)  # type: ignore[arg-type]
    me = lambda key: backend.client.get("/me", headers=backend.as_(key))  # noqa: E731
    with backend.client:
        assert me(A).json() == {"tenant": "acme"}
        assert me(B).status_code == 401

        _replace(path, {"keys": {hash_key(A): "acme", hash_key(B): "globex"}})
        assert me(B).json() == {"tenant": "globex"}

        _replace(path, {"keys": {hash_key(B): "globex"}})  # A revoked
        assert me(A).status_code == 401
        assert me(B).status_code == 200

        caplog.set_level(logging.INFO, logger="tenant_rag.chat")
        path.write_text("{ broken")  # a bad edit: the previous keys stay in force, loudly
        _bump(path)
        assert me(B).status_code == 200
        assert any("cannot be used" in r.getMessage() for r in caplog.records)
        path.write_text(json.dumps({"keys": {A: "acme"}}))  # plain keys are refused too
        _bump(path)
        assert me(B).status_code == 200 and me(A).status_code == 401
        assert store.reloads == 2


def _replace(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
    _bump(path)


def _bump(path: Path) -> None:
    """Make sure the modification time moves even on a coarse clock."""
    later = time.time() + 2
    os.utime(path, (later, later))


@pytest.mark.parametrize("command", ["new", "migrate"])
def test_help_shows_placeholders_not_python_types(command: str) -> None:
    code, out, _ = _run("chat-keys", command, "--help")
    assert code == 0
    for python_type in ("<str>", "<bool>", "<path>"):
        assert python_type not in out
