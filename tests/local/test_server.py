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


def test_stop_ends_a_request_still_in_flight_before_closing_the_stores(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A request that outlives shutdown's grace is cancelled; it never runs on closed stores.

    Without a bound, uvicorn waits for the request as long as it takes, ``stop`` gives up
    joining the serving thread after 10 s and closes the stores under it, and the request
    later resumes against them.
    """
    import threading

    import httpx

    from tenant_rag.local.faults import FaultConfig

    srv = start(tmp_path, faults=FaultConfig(rate=1.0, kinds=("slow",), slow=60.0))
    srv.client().create_index(name="idx", dimension=2, metric="cosine", spec=_spec())
    host = srv.client().describe_index("idx").host
    outcome: list[object] = []

    def slow_request() -> None:
        try:
            outcome.append(httpx.post(f"{host}/describe_index_stats", json={}, timeout=90))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=slow_request)
    caller.start()
    caller.join(1.0)  # time for the request to arrive and be held
    assert caller.is_alive(), "the request was not held by the slow fault"
    srv.stop()
    assert srv._thread is not None and not srv._thread.is_alive(), "the server thread outlived stop"
    caller.join(90)
    # The request was cancelled (uvicorn answers 500 to a request it cancels), not run on.
    assert outcome, "the caller got no outcome"
    answer = outcome[0]
    assert not isinstance(answer, httpx.Response) or answer.status_code == 500, answer
    assert "closed" not in caplog.text, "a request ran on the stores after they were closed"


def _spec() -> object:
    from pinecone import ServerlessSpec

    return ServerlessSpec(cloud="aws", region="us-east-1")
