"""The deprecated ``tenant_rag.server`` alias of the chatbot backend, kept for one release."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import tenant_rag.chat as chat

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_old_name_warns_and_gives_the_old_names() -> None:
    sys.modules.pop("tenant_rag.server", None)
    with pytest.warns(DeprecationWarning, match="renamed tenant_rag.chat"):
        server = importlib.import_module("tenant_rag.server")
    assert server.create_app is chat.create_chat_app
    assert server.Limits is chat.ChatLimits
    assert server.KeyRing is chat.KeyRing and server.load_keys is chat.load_keys
    assert sorted(server.__all__) == sorted(
        ["DEFAULT_INDEX", "KeyRing", "Limits", "Principal", "create_app", "load_keys"]
    )


def test_python_dash_m_old_name_still_starts_the_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tenant_rag.server", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--keys" in proc.stdout and "--max-upload-mb" in proc.stdout
    assert "python -m tenant_rag.chat" in proc.stderr
