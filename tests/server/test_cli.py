"""``tenant-rag chat-server`` and ``python -m tenant_rag.server``: help and key errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenant_rag.cli.app import app

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["chat-server", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--host", "--port", "--keys", "--index", "--max-upload-mb"):
        assert option in result.output


def test_missing_keys_exits_2_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TENANT_RAG_CHAT_KEYS", "TENANT_RAG_ADMIN_KEY", "TENANT_RAG_CHAT_KEYS_FILE"):
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(app, ["chat-server"])
    assert result.exit_code == 2
    assert "no tenant API keys configured" in result.output


def test_bad_keys_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"keys": {"key-aaaaaaaa": "__default__"}}')
    result = CliRunner().invoke(app, ["chat-server", "--keys", str(path)])
    assert result.exit_code == 2
    assert "bad tenant id" in result.output
    assert "key-aaaaaaaa" not in result.output


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tenant_rag.server", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--keys" in proc.stdout
