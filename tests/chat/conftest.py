"""Fixtures for the chatbot backend: an app on the embedded server, keys, SSE parsing.

Each test gets its own index (unique name) on the session's embedded server,
so tests never see each other's tenants, and the app uses the hashing test
embedding (64 dimensions) and the local extractive answerer, so no model loads.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tenant_rag.chat import ChatLimits, KeyRing, create_chat_app
from tenant_rag.connection import ensure_index
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings

ACME_KEY = "acme-key-7f3a9c1e5b-Qw8Zr4Tn6YpK"
GLOBEX_KEY = "globex-key-2d8e4f6a0c-Hs3Vb9Lm1XcJ"
ADMIN_KEY = "admin-key-9b1c3d5e7f-Ud5Gk2Pq7WnR"
#: A key that looks right but is configured nowhere.
WRONG_KEY = "acme-key-7f3a9c1e5b-Qw8Zr4Tn6YpL"
DIM = 64


@dataclass
class Backend:
    """An app under test, with its client, index and keys."""

    app: FastAPI
    client: TestClient
    index: Any
    index_name: str
    embedding: HashingTestEmbeddings
    #: tenant -> id of an ingestion job it ran (filled by the ``seeded`` fixture)
    jobs: dict[str, str] = field(default_factory=dict)

    def as_(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def submit(self, key: str, *files: tuple[str, str | bytes], acl: Any = None) -> Any:
        """``POST /documents``: the 202 with its job (or the refusal), not waiting.

        ``acl``: the upload's ``acl`` form field (a list is sent as JSON, a string as is).
        """
        parts = [
            ("files", (name, body.encode() if isinstance(body, str) else body, "text/plain"))
            for name, body in files
        ]
        data = {} if acl is None else {"acl": acl if isinstance(acl, str) else json.dumps(acl)}
        return self.client.post("/documents", files=parts, data=data, headers=self.as_(key))

    def wait(self, key: str, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll ``GET /jobs/<id>`` until the job is done; its final state."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self.client.get(f"/jobs/{job_id}", headers=self.as_(key))
            assert resp.status_code == 200, resp.text
            job: dict[str, Any] = resp.json()
            if job["status"] in ("succeeded", "partial", "failed"):
                return job
            assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s"
            time.sleep(0.02)

    def upload(self, key: str, *files: tuple[str, str | bytes], acl: Any = None) -> Any:
        """Upload and wait for the ingestion job: the outcome as one response.

        A refusal at upload time is returned as it is. A finished job becomes
        `Outcome`: status 200 (``succeeded``/``partial``) or 422/503 (``failed``),
        with the old synchronous body shape (``tenant``, ``documents``, ``report``;
        ``detail`` and ``code`` on failure) plus ``job``.
        """
        resp = self.submit(key, *files, acl=acl)
        if resp.status_code != 202:
            return resp
        accepted = resp.json()
        job = self.wait(key, accepted["job"]["id"])
        body: dict[str, Any] = {
            "tenant": accepted["tenant"],
            "documents": accepted["documents"],
            "report": job["report"],
            "job": job,
        }
        status = 200
        if job["status"] == "failed":
            body.update(detail=job["error"]["detail"], code=job["error"]["code"])
            code = job["error"]["code"]
            status = {
                "store_unavailable": 503,
                "rate_limited": 429,
                "document_conflict": 409,
                "document_exists": 409,
            }.get(code, 422)
        return Outcome(status, body)

    def docs(self, key: str) -> dict[str, int]:
        resp = self.client.get("/documents", headers=self.as_(key))
        assert resp.status_code == 200, resp.text
        return {d["doc_id"]: d["chunks"] for d in resp.json()["documents"]}

    def chat(self, key: str, question: str, **extra: Any) -> Any:
        return self.client.post(
            "/chat", json={"question": question, **extra}, headers=self.as_(key)
        )


@dataclass
class Outcome:
    """A finished ingestion job in the shape of an HTTP response (see `Backend.upload`)."""

    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return self.body

    @property
    def text(self) -> str:
        return json.dumps(self.body)


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """Parse an SSE body into ``(event, json data)`` pairs, in order (comments skipped)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((event, json.loads("\n".join(data))))
    return events


def answer_of(events: list[tuple[str, Any]]) -> str:
    return "".join(d["text"] for e, d in events if e == "token")


def sources_of(events: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    found = [d for e, d in events if e == "sources"]
    assert len(found) == 1, events
    return found[0]


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing.from_mapping({ACME_KEY: "acme", GLOBEX_KEY: "globex"}, [ADMIN_KEY])


def make_backend(
    server: LocalServer,
    keyring: KeyRing,
    limits: ChatLimits | None = None,
    llm: Any = None,
    **options: Any,
) -> Backend:
    name = "chat-" + uuid.uuid4().hex[:12]
    embedding = options.pop("embedding", None) or HashingTestEmbeddings(DIM)
    index = ensure_index(server.client(), name, dimension=DIM)
    app = create_chat_app(
        keys=keyring,
        embedding=embedding,
        llm=llm,
        index=index,
        index_name=name,
        limits=limits,
        **options,
    )
    return Backend(app, TestClient(app), index, name, embedding)


@contextlib.contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """``app`` under uvicorn on ``host``:<free port> in a thread; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="chat-backend", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def backend(shared_local_server: LocalServer, keyring: KeyRing) -> Iterator[Backend]:
    """A fresh app over its own index; acme, globex and an admin key configured."""
    b = make_backend(shared_local_server, keyring)
    with b.client:
        yield b


ACME_HANDBOOK = (
    "Acme handbook. Acme employees get 25 vacation days per year. "
    "The Acme office is in Berlin and opens at nine."
)
GLOBEX_HANDBOOK = (
    "Globex handbook. Globex employees get 12 vacation days per year. "
    "The Globex office is in Springfield."
)
GLOBEX_SECRET = "Globex secret plan: the launch code is PURPLE-ELEPHANT-42 for the vacation rocket."


@pytest.fixture
def seeded(backend: Backend) -> Backend:
    """acme holds handbook.md; globex holds its own handbook.md and secret.md."""
    r = backend.upload(ACME_KEY, ("handbook.md", ACME_HANDBOOK))
    assert r.status_code == 200, r.text
    backend.jobs["acme"] = r.json()["job"]["id"]
    r = backend.upload(GLOBEX_KEY, ("handbook.md", GLOBEX_HANDBOOK), ("secret.md", GLOBEX_SECRET))
    assert r.status_code == 200, r.text
    backend.jobs["globex"] = r.json()["job"]["id"]
    return backend
