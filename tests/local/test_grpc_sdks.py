"""TLS with each SDK generation: what trusts the local CA, what does not, and a 7.3.0 run.

The seed flow, namespaces, metadata operations and backups of every SDK over gRPC and REST,
in plaintext and TLS, are the conformance script's (``tests/compat``). These tests pin the
trust details around it: a Rust client (9.x/10.x) refuses the server until ``SSL_CERT_FILE``
names the CA, 9.1.0's REST client ignores ``ssl_ca_certs``, 8.1.2's and 10.2.0's REST honour
it, plain grpcio reads ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``, certificates survive restarts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from tenant_rag.local import LocalServer, start

from .helpers import make_index
from .sdk_side import run_client, run_client_error


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One TLS server (REST + gRPC) for this module's tests."""
    srv = start(tmp_path_factory.mktemp("tls-data"), grpc=True, tls=True)
    try:
        yield srv
    finally:
        srv.stop()


def test_rust_grpc_client_refuses_the_server_until_told_to_trust_its_ca(
    tls_server: LocalServer,
) -> None:
    make_index(tls_server.client(), "untrusted", dimension=2)
    args = {"host": tls_server.grpc_index_target("untrusted"), "api_key": "k", "secure": True}
    err = run_client_error("9.1.0", "grpc_seed.py", args, env={"SSL_CERT_FILE": certifi.where()})
    assert "UnknownIssuer" in err  # rustls checked the chain against the public roots only


def test_sdk_7_rest_and_grpc_over_tls(tls_server: LocalServer) -> None:
    """SDK 7.3.0 trusts the local CA through ssl_ca_certs (which LocalServer.client passes)."""
    assert tls_server.url.startswith("https://127.0.0.1:")
    index = make_index(tls_server.client(), "seed-7", dimension=2)
    index.upsert(vectors=[("rest", [1.0, 0.0])], namespace="acme")
    grpc_index = tls_server.grpc_index("seed-7")
    grpc_index.upsert(vectors=[("grpc", [0.0, 1.0])], namespace="acme")
    res = grpc_index.query(vector=[0.0, 1.0], top_k=2, namespace="acme")
    assert [m.id for m in res.matches] == ["grpc", "rest"]
    grpc_index.delete(delete_all=True, namespace="acme")
    assert index.describe_index_stats().total_vector_count == 0


def test_certificates_are_reused_on_restart(tmp_path: Path) -> None:
    with start(tmp_path, tls=True) as first:
        assert first.tls is not None
        ca, cert = first.tls.ca.read_bytes(), first.tls.cert.read_bytes()
        assert (first.tls.key.stat().st_mode & 0o777) == 0o600
    with start(tmp_path, tls=True) as second:
        assert second.tls is not None
        assert second.tls.ca.read_bytes() == ca and second.tls.cert.read_bytes() == cert
        assert second.client().list_indexes().names() == []


@pytest.mark.parametrize("version", ["8.1.2", "9.1.0", "10.2.0"])
def test_rest_control_plane_over_tls_with_ssl_ca_certs(
    tls_server: LocalServer, version: str
) -> None:
    """REST over TLS: each SDK trusts the local CA through Pinecone(ssl_ca_certs=...)."""
    assert tls_server.tls is not None
    name = "tls-rest-" + version.replace(".", "-")
    make_index(tls_server.client(), name, dimension=2).upsert(vectors=[("a", [1.0, 0.0])])
    args = {
        "host": tls_server.url,
        "api_key": "k",
        "index": name,
        "restored": name + "-r",
        "ca": str(tls_server.tls.ca),
    }
    env = {}
    if version == "9.1.0":
        # 9.1.0 hands httpx its own transport, which ignores the client's verify=ssl_ca_certs;
        # httpx's transport reads SSL_CERT_FILE instead (10.x fixed this)
        env["SSL_CERT_FILE"] = args["ca"]
    seen = run_client(version, "backups_flow.py", args, env=env)
    assert seen["created"]["record_count"] == 1 and seen["job"]["status"] == "Completed"


def test_sdk_9_rest_ignores_ssl_ca_certs(tls_server: LocalServer) -> None:
    """Pins the 9.1.0 defect docs/sdk-compatibility.md reports: ssl_ca_certs alone does not reach httpx."""
    assert tls_server.tls is not None
    make_index(tls_server.client(), "tls-rest-9-bug", dimension=2)
    args = {
        "host": tls_server.url,
        "api_key": "k",
        "index": "tls-rest-9-bug",
        "restored": "tls-rest-9-bug-r",
        "ca": str(tls_server.tls.ca),
    }
    err = run_client_error("9.1.0", "backups_flow.py", args, env={"SSL_CERT_FILE": certifi.where()})
    assert "CERTIFICATE_VERIFY_FAILED" in err


def test_plain_grpcio_trusts_the_ca_through_grpc_default_ssl_roots(tls_server: LocalServer) -> None:
    """The printed hint for other gRPC clients: GRPC_DEFAULT_SSL_ROOTS_FILE_PATH."""
    assert tls_server.tls is not None and tls_server.grpc_target is not None
    make_index(tls_server.client(), "roots-env", dimension=2)
    code = (
        "import sys, grpc\n"
        "from tenant_rag.local.api._grpc_gen import db_data_2025_04_pb2 as pb\n"
        "channel = grpc.secure_channel(sys.argv[1], grpc.ssl_channel_credentials())\n"
        "call = channel.unary_unary('/VectorService/DescribeIndexStats',"
        " request_serializer=lambda m: m.SerializeToString(),"
        " response_deserializer=pb.DescribeIndexStatsResponse.FromString)\n"
        "print(call(pb.DescribeIndexStatsRequest(), metadata=[('service-name', 'roots-env')])"
        ".dimension)\n"
    )
    env = {**os.environ, "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(tls_server.tls.ca)}
    out = subprocess.run(
        [sys.executable, "-c", code, tls_server.grpc_target],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.stdout.strip() == "2", out.stderr[-2000:]
