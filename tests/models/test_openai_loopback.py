"""The OpenAI branch end to end at the HTTP level, against a loopback fake.

This is a mocked transport: the OpenAI cloud is unreachable from this
environment, so a tiny ``http.server`` on 127.0.0.1 speaks just enough of the
``/v1/embeddings`` and ``/v1/chat/completions`` (streaming SSE) protocol to
show that ``default_embeddings()`` and ``default_llm()`` really send their
requests to ``OPENAI_BASE_URL`` with the configured key and model names.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tenant_rag.models import default_embeddings, default_llm, embedding_dimension

DIM = 8


class _Fake(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, Any], str | None]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, payload, self.headers.get("Authorization")))
        if self.path == "/v1/embeddings":
            inputs = payload["input"]
            inputs = [inputs] if isinstance(inputs, str) else inputs
            data = []
            for i, text in enumerate(inputs):
                vec = [float(len(str(text)))] + [0.5] * (DIM - 1)
                if payload.get("encoding_format") == "base64":
                    emb: Any = base64.b64encode(struct.pack(f"<{DIM}f", *vec)).decode()
                else:
                    emb = vec
                data.append({"object": "embedding", "index": i, "embedding": emb})
            body = {
                "object": "list",
                "data": data,
                "model": payload["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
            self._send(json.dumps(body).encode(), "application/json")
        elif self.path == "/v1/chat/completions":
            words = ["Hello", " from", " the", " fake."]
            base = {"id": "c1", "created": 0, "model": payload["model"]}
            if payload.get("stream"):
                events = []
                for w in words:
                    chunk = {
                        **base,
                        "object": "chat.completion.chunk",
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"role": "assistant", "content": w},
                                "finish_reason": None,
                            }
                        ],
                    }
                    events.append(f"data: {json.dumps(chunk)}\n\n")
                end = {
                    **base,
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
                events.append(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n")
                self._send("".join(events).encode(), "text/event-stream")
            else:
                body = {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(words)},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5},
                }
                self._send(json.dumps(body).encode(), "application/json")
        else:
            self.send_response(404)
            self.end_headers()


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Fake]]:
    _Fake.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("TENANT_RAG_EMBEDDING_MODEL", "local-embedder")
    monkeypatch.setenv("TENANT_RAG_CHAT_MODEL", "local-chat")
    try:
        yield _Fake
    finally:
        server.shutdown()
        server.server_close()


def test_embeddings_go_through_base_url(fake_openai: type[_Fake]) -> None:
    emb = default_embeddings()
    vec = emb.embed_query("hello")
    assert len(vec) == DIM and vec[0] == 5.0 and all(type(v) is float for v in vec)
    path, payload, auth = fake_openai.requests[-1]
    assert path == "/v1/embeddings"
    assert payload["model"] == "local-embedder"
    assert payload["input"] == ["hello"]  # strings, not token arrays, for compatible servers
    assert auth == "Bearer tenant-rag-no-key"
    # An unknown model's dimension is probed once through the same server.
    assert embedding_dimension(emb) == DIM


def test_chat_goes_through_base_url_streaming(fake_openai: type[_Fake]) -> None:
    llm = default_llm()
    assert llm.invoke("Say hi").content == "Hello from the fake."
    chunks = [c.content for c in llm.stream("Say hi")]
    assert "".join(str(c) for c in chunks) == "Hello from the fake."
    chats = [p for path, p, _ in fake_openai.requests if path == "/v1/chat/completions"]
    assert chats and all(p["model"] == "local-chat" and p["stream"] for p in chats)
    assert chats[0]["messages"][-1]["content"] == "Say hi"
