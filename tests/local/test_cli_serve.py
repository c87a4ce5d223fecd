"""``tenant-rag serve`` as a process: env API key, request logging, clean Ctrl-C shutdown."""

from __future__ import annotations

import signal
import ssl
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


def test_serve_tls_prints_how_to_trust_it(tmp_path: Path) -> None:
    """`tenant-rag serve --tls`: HTTPS, the CA under the data dir, the trust hints printed.

    Every SDK running over it (REST and gRPC) is the conformance script's (tests/compat)."""
    import httpx

    from tenant_rag.local.process import serve_process

    with serve_process(tmp_path, "--tls", grpc=True) as server:
        assert server.url.startswith("https://127.0.0.1:") and server.ca is not None
        assert server.ca == str(tmp_path / "tls" / "ca.pem")
        pc = Pinecone(api_key="k", host=server.url, ssl_ca_certs=server.ca)
        make_index(pc, "cli-tls", dimension=2)
        with pytest.raises(httpx.ConnectError):  # not trusted without the CA
            httpx.get(f"{server.url}/indexes")
        trusted = ssl.create_default_context(cafile=server.ca)
        lookup = httpx.get(f"{server.url}/_local/grpc/cli-tls", verify=trusted).json()
        assert lookup["name"] == "cli-tls" and lookup["grpc_host"].startswith("127.0.0.1:")
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.stdout is not None
        out = server.proc.stdout.read()  # the rest of the banner, read through the same buffer
        server.proc.wait(20)
    assert f"SSL_CERT_FILE={server.ca}" in out
    assert f"ssl_ca_certs='{server.ca}'" in out
    assert f"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH={server.ca}" in out


@pytest.mark.parametrize("mode", ["process", "power"])
def test_serve_durability_says_what_it_survives(tmp_path: Path, mode: str) -> None:
    """`tenant-rag serve --durability MODE`: the mode reaches the server and the banner says it."""
    from tenant_rag.cli.serve import DURABILITY_PROMISE
    from tenant_rag.local.process import serve_process

    with serve_process(tmp_path, "--durability", mode) as server:
        # a name per mode: the SDK caches an index host per (key, name) for the whole process
        index = make_index(Pinecone(api_key="k", host=server.url), f"dur-{mode}", dimension=2)
        index.upsert(vectors=[("a", [1.0, 0.0])])
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.stdout is not None
        out = server.proc.stdout.read()
        server.proc.wait(20)
    assert f"Durability: {mode} ({DURABILITY_PROMISE[mode]})" in out


def test_serve_refuses_an_unknown_durability(tmp_path: Path) -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("tenant-rag")
    done = subprocess.run(
        [str(exe), "serve", "--port", "0", "--data", str(tmp_path), "--durability", "fast"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "durability must be one of process, power" in done.stderr
