"""The compatibility matrix, tested: one conformance script, every Pinecone SDK generation.

``tests/compat/conformance.py`` runs under pinecone 7.3.0 (this project's venv), 8.1.2,
9.1.0 and 10.2.0 (each in its own cached venv under ``.venv-sdk/<version>/``, made by
``make sdk-venvs``; this test makes a missing one the same way) against a
``tenant-rag serve`` child process started with an API key and gRPC, twice: in
plaintext and with ``--tls`` (each SDK then trusts the server's local CA as the
docs/sdk-compatibility.md says: ``ssl_ca_certs``, plus ``SSL_CERT_FILE`` for the Rust gRPC client of
9.x/10.x and 9.x's REST client). A failed check of any SDK fails this test, with the
script's report in the message. The matrix in docs/sdk-compatibility.md is this test's table of what
each generation runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant_rag.local.process import ServerProcess, serve_process

from .sdk_venvs import sdk_python

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("conformance.py")
KEY = "conformance-key"
SDKS = ("7.3.0", "8.1.2", "9.1.0", "10.2.0")
API_2025_10_ONLY = {
    "namespaces: create_namespace",
    "metadata: fetch_by_metadata pages",
    "metadata: update by filter",
}
GRPC_2025_10 = {"grpc: update by filter, create_namespace", "grpc: fetch_by_metadata"}
#: What each generation cannot express, and so skips; everything else must pass.
EXPECTED_SKIPS: dict[str, set[str]] = {
    "7.3.0": API_2025_10_ONLY | GRPC_2025_10 | {"pinecone: LSN headers"},
    "8.1.2": set(),
    # their gRPC handle sends fetch_by_metadata over REST to its own host (gRPC-only here)
    "9.1.0": {"grpc: fetch_by_metadata"},
    "10.2.0": {"grpc: fetch_by_metadata"},
}


@pytest.fixture(scope="module", params=["plaintext", "tls"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tls = ["--tls"] if request.param == "tls" else []
    data = tmp_path_factory.mktemp(f"compat-{request.param}")
    with serve_process(data, "--api-key", KEY, *tls, grpc=True) as srv:
        yield srv


@pytest.mark.parametrize("version", SDKS)
def test_conformance_script_passes(server: ServerProcess, version: str) -> None:
    args = ["--host", server.url, "--api-key", KEY, "--wrong-key", "not-" + KEY]
    args += ["--grpc-target", str(server.grpc_target)]
    env = dict(os.environ)
    env.pop("SSL_CERT_FILE", None)
    if server.ca is not None:
        args += ["--ca", server.ca]
        if not version.startswith(("7.", "8.")):  # rustls gRPC (9, 10) and 9.x's REST
            env["SSL_CERT_FILE"] = server.ca
    run = subprocess.run(
        [str(sdk_python(version)), str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.stdout, run.stderr
    report = json.loads(run.stdout)
    assert report["sdk"] == version
    checks: dict[str, str] = report["checks"]
    failed = {k: v for k, v in checks.items() if not (v == "ok" or v.startswith("skipped"))}
    assert not failed, json.dumps(report, indent=2)
    assert {k for k, v in checks.items() if v.startswith("skipped")} == EXPECTED_SKIPS[version]
    assert run.returncode == 0, run.stderr
