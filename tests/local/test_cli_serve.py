"""``tenant-rag serve`` as a process: env API key, request logging, clean Ctrl-C shutdown."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from pinecone import Pinecone
from pinecone.exceptions import UnauthorizedException

from .helpers import make_index, serve_subprocess


def test_serve_with_env_key_logs_requests_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    with serve_subprocess(
        tmp_path, "--log-level", "info", env={"TENANT_RAG_API_KEY": "from-env"}
    ) as (proc, url):
        assert url.startswith("http://127.0.0.1:")
        with pytest.raises(UnauthorizedException):
            Pinecone(api_key="wrong", host=url).list_indexes()
        index = make_index(Pinecone(api_key="from-env", host=url), "cli", dimension=2)
        index.upsert(vectors=[("a", [1.0, 0.0])])
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0
    assert "shutting down" in out
    assert '"POST /_index/cli/vectors/upsert HTTP/1.1" 200' in out  # info logs each request
    assert "from-env" not in out  # the key is never logged
