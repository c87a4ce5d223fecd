"""LocalServer lifecycle: data-dir resolution, shared servers, context manager, clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenant_rag.local import resolve_data_dir, shared_server, start


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TENANT_RAG_HOME", raising=False)
    assert resolve_data_dir(None) == tmp_path / ".tenant_rag"
    monkeypatch.setenv("TENANT_RAG_HOME", str(tmp_path / "home"))
    assert resolve_data_dir(None) == tmp_path / "home"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"


def test_start_stop_and_context_manager(tmp_path: Path) -> None:
    with start(tmp_path) as srv:
        assert srv.url.startswith("http://127.0.0.1:") and srv.port > 0
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        assert srv.data_dir == tmp_path.resolve()
        assert srv.grpc_target is None
        assert srv.running
        assert srv.client().list_indexes().names() == []
    assert not srv.running
    srv.stop()  # idempotent


def test_shared_server_is_one_per_data_dir(tmp_path: Path) -> None:
    a = shared_server(tmp_path / "one")
    try:
        assert shared_server(tmp_path / "one") is a
        assert shared_server(str(tmp_path / "one")) is a
        assert a.grpc_target is not None
        b = shared_server(tmp_path / "two")
        assert b is not a and b.port != a.port
        b.stop()
        c = shared_server(tmp_path / "two")  # a stopped shared server is replaced
        assert c is not b and c.running
    finally:
        a.stop()


def test_two_servers_in_one_process_do_not_share_index_hosts(tmp_path: Path) -> None:
    """The SDK caches hosts by api_key:index_name; client() keeps servers apart."""
    with start(tmp_path / "a") as a, start(tmp_path / "b") as b:
        for srv, dim in ((a, 2), (b, 3)):
            srv.client().create_index(
                name="same-name",
                dimension=dim,
                metric="cosine",
                spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
                timeout=-1,
            )
        assert a.client().Index(name="same-name").describe_index_stats().dimension == 2
        assert b.client().Index(name="same-name").describe_index_stats().dimension == 3


def test_a_rest_only_server_does_not_load_grpc() -> None:
    """gRPC costs ~8 MB of resident memory; a server started without it must not import it
    (the fault-injection interceptor imports it only when a gRPC call arrives)."""
    import subprocess
    import sys

    code = (
        "import sys, tempfile\n"
        "from tenant_rag.local import start\n"
        "srv = start(tempfile.mkdtemp())\n"
        "srv.client().list_indexes()\n"
        "srv.stop()\n"
        "print('grpc' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
