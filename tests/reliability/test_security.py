"""Security: keys are enforced, servers bind loopback, and no secret reaches a log or an error.

* The embedded server with a key configured refuses a missing or wrong key
  on the control plane, the REST data plane and the gRPC data plane.
* ``start()``, ``tenant-rag serve`` and ``tenant-rag chat-server`` bind
  127.0.0.1 unless told otherwise (the bound addresses are inspected).
* The chatbot backend's authentication is tested route by route in
  tests/chat/test_bad_input.py (no key, wrong key, malformed header, wrong
  kind of key). Here we only make sure that list stays complete: every route
  the app serves, except the public ``/`` and ``/healthz``, answers 401
  without a key, so a route added later cannot slip through untested.
* Secrets never appear in logs or error messages: ``tenant-rag serve`` runs
  at DEBUG in a child process and the chatbot backend runs with DEBUG
  logging on every logger; both are driven with the right key, a wrong key
  and failing requests, and the captured output is searched for every key.

``pip-audit`` is not run from here: ``make test`` runs
``tests/reliability/run_audit.py`` first (see that file for why).
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from tenant_rag.chat import KeyRing, create_chat_app
from tenant_rag.chat.config import hash_key
from tenant_rag.connection import ensure_index
from tenant_rag.local import LocalServer, start
from tenant_rag.models.hashing import HashingTestEmbeddings

from ._figures import Tally

DIM = 8
SERVER_KEY = "srv-secret-4f9a2c7e1b"
WRONG_SERVER_KEY = "srv-wrong-8d3b6a0f5e"
TENANT_KEY = "tenant-secret-1a2b3c4d5e-Rf7Jw2Mz"
ADMIN_KEY = "admin-secret-6f7a8b9c0d-Tk4Nq8Vx"
WRONG_TENANT_KEY = "tenant-wrong-0e9d8c7b6a-Pb3Hs9Ly"
SECRETS = [SERVER_KEY, WRONG_SERVER_KEY, TENANT_KEY, ADMIN_KEY, WRONG_TENANT_KEY]
TALLY = Tally("security")


def _index_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "dimension": DIM,
        "metric": "cosine",
        "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
    }


def test_keyed_server_refuses_missing_and_wrong_keys_rest_and_grpc(tmp_path: Path) -> None:
    with start(tmp_path / "data", api_key=SERVER_KEY, grpc=True) as srv:
        assert srv.grpc_target is not None
        ok = httpx.post(
            f"{srv.url}/indexes", json=_index_body("sec"), headers={"Api-Key": SERVER_KEY}
        )
        assert ok.status_code in (200, 201), ok.text
        upsert = {"vectors": [{"id": "a", "values": [0.5] * DIM}], "namespace": "acme"}
        calls = [
            ("GET", f"{srv.url}/indexes", None),
            ("POST", f"{srv.url}/indexes", _index_body("other")),
            ("DELETE", f"{srv.url}/indexes/sec", None),
            ("POST", f"{srv.url}/_index/sec/vectors/upsert", upsert),
            ("POST", f"{srv.url}/_index/sec/query", {"vector": [0.5] * DIM, "topK": 1}),
            ("GET", f"{srv.url}/_index/sec/vectors/fetch?ids=a&namespace=acme", None),
            ("POST", f"{srv.url}/_index/sec/describe_index_stats", {}),
            ("GET", f"{srv.url}/_index/sec/namespaces", None),
        ]
        for headers in ({}, {"Api-Key": WRONG_SERVER_KEY}, {"Api-Key": ""}):
            for method, url, body in calls:
                r = httpx.request(method, url, json=body, headers=headers)
                # as Pinecone: the control plane 401, an index's data plane 403 Wrong API key
                expected = 403 if "/_index/" in url else 401
                assert r.status_code == expected, (method, url, headers, r.text)
                assert "api key" in r.text.lower() and WRONG_SERVER_KEY not in r.text
                TALLY.add("rest_refusals")
        # nothing above took effect
        r = httpx.get(f"{srv.url}/indexes", headers={"Api-Key": SERVER_KEY})
        assert [i["name"] for i in r.json()["indexes"]] == ["sec"]
        stats = httpx.post(
            f"{srv.url}/_index/sec/describe_index_stats", json={}, headers={"Api-Key": SERVER_KEY}
        ).json()
        assert stats.get("totalVectorCount", stats.get("total_vector_count", 0)) == 0

        from pinecone.grpc import GRPCClientConfig, PineconeGRPC

        for key in (WRONG_SERVER_KEY, "x"):
            ix = PineconeGRPC(api_key=key).Index(
                name="sec", host=srv.grpc_target, grpc_config=GRPCClientConfig(secure=False)
            )
            for call in (
                lambda ix=ix: ix.upsert(vectors=[("a", [0.5] * DIM)], namespace="acme"),
                lambda ix=ix: ix.query(vector=[0.5] * DIM, top_k=1, namespace="acme"),
                lambda ix=ix: ix.describe_index_stats(),
            ):
                with pytest.raises(Exception) as err:
                    call()
                text = f"{err.value} {err.value.__cause__}"
                # the status behind the REST data plane's 403 (body code 7)
                assert "PERMISSION_DENIED" in text and "Wrong API key" in text, text
                assert key not in text or key == "x"
                TALLY.add("grpc_refusals")
        good = PineconeGRPC(api_key=SERVER_KEY).Index(
            name="sec", host=srv.grpc_target, grpc_config=GRPCClientConfig(secure=False)
        )
        assert good.describe_index_stats().total_vector_count == 0


def _listening(pid: int) -> set[str]:
    return {
        c.laddr.ip
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


def _all_loopback(addrs: set[str]) -> bool:
    """True for 127.0.0.1, ::1 and v4-mapped loopback (gRPC binds through an IPv6 socket)."""

    def loop(a: str) -> bool:
        ip = ipaddress.ip_address(a)
        mapped = getattr(ip, "ipv4_mapped", None)
        return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))

    return bool(addrs) and all(loop(a) for a in addrs)


def test_start_binds_loopback_by_default(tmp_path: Path) -> None:
    with start(tmp_path / "data", grpc=True) as srv:
        assert srv.host == "127.0.0.1"
        assert srv._sock.getsockname()[0] == "127.0.0.1"
        assert _all_loopback(_listening(os.getpid())), _listening(os.getpid())
        TALLY.add("bind_checks")


def _spawn(args: list[str], log: Path, env: dict[str, str], ready: str) -> subprocess.Popen[bytes]:
    """Start a console command; wait until its output contains ``ready``."""
    proc = subprocess.Popen(
        args, stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, **env}
    )
    deadline = time.monotonic() + 60
    while ready not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{args[1]} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


def test_serve_at_debug_binds_loopback_and_never_logs_a_key(tmp_path: Path) -> None:
    """``tenant-rag serve`` default host, and its DEBUG log after right, wrong and failing calls."""
    log = tmp_path / "serve.log"
    exe = str(Path(sys.executable).with_name("tenant-rag"))
    args = [exe, "serve", "--port", "0", "--grpc-port", "0", "--data", str(tmp_path / "d")]
    proc = _spawn(
        [*args, "--log-level", "debug"], log, {"TENANT_RAG_API_KEY": SERVER_KEY}, "Connect:"
    )
    try:
        assert _all_loopback(_listening(proc.pid)), _listening(proc.pid)
        url = re.search(r"serving (http://\S+)", log.read_text())
        assert url, log.read_text()
        base = url.group(1)
        good, bad = {"Api-Key": SERVER_KEY}, {"Api-Key": WRONG_SERVER_KEY}
        httpx.post(f"{base}/indexes", json=_index_body("logs"), headers=good)
        httpx.post(f"{base}/indexes", json=_index_body("logs"), headers=bad)
        httpx.get(f"{base}/indexes/missing", headers=good)
        httpx.post(f"{base}/_index/logs/query?apiKey={SERVER_KEY}", json={"bad": 1}, headers=good)
        httpx.post(f"{base}/_index/logs/vectors/upsert", content=b"{not json", headers=good)
        httpx.get(f"{base}/indexes", headers={"Authorization": f"Bearer {WRONG_SERVER_KEY}"})
    finally:
        _stop(proc)
    text = log.read_text(errors="replace")
    assert "GET /indexes" in text or "POST /indexes" in text or "/indexes" in text, (
        "the DEBUG log does record the requests"
    )
    for secret in (SERVER_KEY, WRONG_SERVER_KEY):
        assert secret not in text, f"a key appears in the server log:\n{text[-3000:]}"
    TALLY.add("bind_checks")
    TALLY.add("log_greps")


def test_chat_server_binds_loopback_by_default(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(
        json.dumps({"keys": {hash_key(TENANT_KEY): "acme"}, "admin_keys": [hash_key(ADMIN_KEY)]})
    )
    log = tmp_path / "chat.log"
    exe = str(Path(sys.executable).with_name("tenant-rag"))
    env = {"TENANT_RAG_HOME": str(tmp_path / "home"), "TENANT_RAG_TEST_EMBEDDINGS": "hashing"}
    env.update({k: "" for k in ("PINECONE_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")})
    proc = _spawn(
        [exe, "chat-server", "--port", "0", "--keys", str(keys), "--log-level", "debug"],
        log,
        env,
        "http://127.0.0.1",
    )
    try:
        deadline = time.monotonic() + 30
        while not _listening(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        addrs = {a for p in [proc.pid] for a in _listening(p)}
        for child in psutil.Process(proc.pid).children(recursive=True):
            addrs |= _listening(child.pid)
        assert _all_loopback(addrs), addrs
    finally:
        _stop(proc)
    text = log.read_text(errors="replace")
    assert TENANT_KEY not in text and ADMIN_KEY not in text
    TALLY.add("bind_checks")
    TALLY.add("log_greps")


def test_chat_backend_every_route_needs_a_key() -> None:
    """Completeness guard for the per-route auth tests in tests/chat/test_bad_input.py."""
    app = create_chat_app(
        keys=KeyRing.from_mapping({TENANT_KEY: "acme"}, [ADMIN_KEY]),
        embedding=HashingTestEmbeddings(DIM),
        index=object(),
        index_name="never-called",
    )
    public = {"/healthz"}
    # FastAPI 0.165 keeps included routers as objects of their own in app.routes, so the
    # served routes are read from the OpenAPI schema (the page and icons are not in it)
    served = {
        (method.upper(), path)
        for path, ops in app.openapi()["paths"].items()
        for method in ops
        if path not in public
    }
    assert len(served) >= 10, served  # the guard must see the routes it guards
    tested = importlib.import_module("chat.test_bad_input").ALL_ROUTES
    with TestClient(app) as client:
        for method, path in sorted(served):
            # a served path template ("/tenants/{tenant_id}/export") matches the concrete
            # paths the auth tests request ("/tenants/acme/export")
            literal = re.split(r"\{[^}]+\}", path)
            template = re.compile("^" + "[^/]+".join(map(re.escape, literal)) + "$")
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            assert any(m == method and template.match(p) for m, p, _ in tested), (
                f"{method} {path} is not in tests/chat/test_bad_input.py ALL_ROUTES"
            )
            r = client.request(method, concrete)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            TALLY.add("backend_routes_checked")


def test_chat_backend_debug_logs_and_errors_never_carry_a_key(
    shared_local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    index = ensure_index(shared_local_server.client(), "sec-" + uuid.uuid4().hex[:8], dimension=64)
    app = create_chat_app(
        keys=KeyRing.from_mapping({TENANT_KEY: "acme"}, [ADMIN_KEY]),
        embedding=HashingTestEmbeddings(64),
        index=index,
        index_name="sec",
    )
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    with TestClient(app) as client:
        for key in (TENANT_KEY, WRONG_TENANT_KEY, ADMIN_KEY, None):
            h = {"Authorization": f"Bearer {key}"} if key else {}
            files = [("files", ("a.md", b"vacation days policy", "text/plain"))]
            for r in (
                client.get("/me", headers=h),
                client.post("/documents", files=files, headers=h),
                client.get("/documents", headers=h),
                client.post("/chat", json={"question": "vacation?"}, headers=h),
                client.post("/chat", json={"question": "", "tenant": "x"}, headers=h),
                client.delete("/documents/nope.md", headers=h),
                client.delete("/tenants/acme", headers=h),
                client.get(f"/me?key={key}", headers={**h, "X-Api-Key": str(key)}),
            ):
                bodies.append(r.text)
    # the test client's own httpx logger prints the URLs it sends (one has a key in its
    # query string on purpose); it is not the backend, so it is left out
    server_side = [r for r in caplog.records if not r.name.startswith("httpx")]
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in server_side)
    assert caplog.records, "DEBUG logging captured something"
    for secret in (TENANT_KEY, WRONG_TENANT_KEY, ADMIN_KEY):
        assert secret not in logged, f"{secret} in logs"
        assert not any(secret in b for b in bodies), f"{secret} echoed in a response"
    TALLY.add("log_greps")


def teardown_module() -> None:
    TALLY.write("pytest tests/reliability/test_security.py")
