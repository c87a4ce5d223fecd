"""A loopback stand-in for an OpenAI-compatible server (the OpenAI cloud is unreachable here).

A tiny ``http.server`` on 127.0.0.1 speaks just enough of ``/v1/embeddings``,
``/v1/chat/completions`` (streaming SSE) and ``/v1/models`` to show where
tenant_rag sends its requests, with which key and which model names. Every
request is recorded on the handler class.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIM = 8


class FakeOpenAI(BaseHTTPRequestHandler):
    """Handler of the fake; ``requests`` records (path, JSON body, Authorization header)."""

    requests: list[tuple[str, dict[str, Any], str | None]] = []
    #: what GET /v1/models lists
    models: list[str] = ["local-chat"]

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        type(self).requests.append((self.path, {}, self.headers.get("Authorization")))
        if self.path == "/v1/models":
            body = {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}
            self._send(json.dumps(body).encode(), "application/json")
        else:
            self.send_response(404)
            self.end_headers()

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


@contextmanager
def fake_openai_server(models: list[str] | None = None) -> Iterator[tuple[str, type[FakeOpenAI]]]:
    """Run a fresh fake; yield (its ``.../v1`` base URL, a handler class with its own records)."""
    handler = type(
        "FakeOpenAIRun", (FakeOpenAI,), {"requests": [], "models": list(models or ["local-chat"])}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()
        server.server_close()
