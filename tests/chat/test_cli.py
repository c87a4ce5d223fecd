"""``tenant-rag chat-server`` and ``python -m tenant_rag.chat``: help and key errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenant_rag.chat.config import hash_key
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
    stored = hash_key("key-aaaaaaaa-Yh7Rk2Wp9Dz4bQ")
    path.write_text(json.dumps({"keys": {stored: "__default__"}}))
    result = CliRunner().invoke(app, ["chat-server", "--keys", str(path)])
    assert result.exit_code == 2
    assert "bad tenant id" in result.output
    assert stored not in result.output


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tenant_rag.chat", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--keys" in proc.stdout


def test_chat_server_command_serves_the_app(tmp_path: Path) -> None:
    """The documented command, as a process: defaults (embedded server, local models)."""
    import os
    import queue
    import re
    import signal
    import threading

    import httpx

    keys = tmp_path / "keys.json"
    key = "acme-key-123456-Yh7Rk2Wp9Dz4"
    keys.write_text(json.dumps({"keys": {hash_key(key): "acme"}, "admin_keys": []}))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PINECONE_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    env["TENANT_RAG_HOME"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenant_rag.chat", "--port", "0", "--keys", str(keys)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or ()], daemon=True).start()
    output: list[str] = []
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=120)
            except queue.Empty:
                pytest.fail("chat-server printed nothing for 120 s:\n" + "".join(output))
            output.append(line)
            m = re.search(r"chat backend: open (http://127\.0\.0\.1:\d+)/", line)
            url = m.group(1) if m else None
            assert proc.poll() is None, "".join(output)
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            assert client.get("/me", headers=auth).json() == {"tenant": "acme"}
            up = client.post(
                "/documents",
                headers=auth,
                files={"files": ("notes.md", b"The cafeteria serves soup on Fridays.")},
            )
            assert up.status_code == 202, up.text
            job = up.json()["job"]["id"]
            events = client.get(f"/jobs/{job}/events", headers=auth).text
            assert "event: done" in events and '"status": "succeeded"' in events, events
            chat = client.post("/chat", headers=auth, json={"question": "When is soup served?"})
            assert "event: done" in chat.text
            assert "notes.md" in chat.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = "".join(output) + "".join(lines.queue)
    assert key not in log


def test_a_busy_port_is_an_error_before_anything_is_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setenv("TENANT_RAG_CHAT_KEYS", "acme-key-123456-Yh7Rk2Wp9Dz4=acme")
    monkeypatch.setenv("TENANT_RAG_HOME", str(tmp_path / "data"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["chat-server", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "open http" not in result.output  # no invitation to a server that never started
    assert not (tmp_path / "data").exists()  # nothing was loaded or created
