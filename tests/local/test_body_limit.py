"""Oversized request bodies: refused, and the connection closed, without reading the rest.

Found by hand: ``Content-Length: 300000000`` got its 400 at once, but the server then read
whatever the client went on sending (95 MB) to keep the connection alive. These tests speak
raw HTTP/1.1 over a socket, as such a client does, and count how much of the body the
client manages to push before the server's side is gone.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tenant_rag.local import LocalServer, start
from tenant_rag.local.engine.limits import MAX_REQUEST_BYTES

DECLARED = 300_000_000
#: What a client can push into loopback socket buffers before it notices a closed peer is a
#: few MB; reading the whole body would let it push all of DECLARED.
MAX_PUSHED = 32 * 1024 * 1024
CHUNK = 256 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = start(tmp_path_factory.mktemp("body-limit") / "data", api_key="body-limit-key")
    pc = srv.client()
    pc.create_index(
        name="big",
        dimension=2,
        metric="cosine",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
        timeout=-1,
    )
    try:
        yield srv
    finally:
        srv.stop()


def _connect(srv: LocalServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    return sock


def _head(srv: LocalServer, path: str, *headers: str) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{srv.port}",
        f"Api-Key: {srv.api_key}",
        "Content-Type: application/json",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Reader(threading.Thread):
    """Reads everything the server sends until it closes (or resets) the connection."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.data = b""
        self.closed = threading.Event()

    def run(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.data += chunk
        except OSError:
            pass
        self.closed.set()


def _push(sock: socket.socket, total: int, chunk: bytes, closed: threading.Event) -> int:
    """Send up to ``total`` bytes of ``chunk``s; how many went out before the peer was gone."""
    sent = 0
    try:
        while sent < total:
            sock.sendall(chunk)
            sent += len(chunk)
            if closed.is_set():
                # the server closed its side: a few more sends may still fit in buffers
                sock.sendall(chunk)
                sent += len(chunk)
    except OSError:
        pass
    return sent


def _status_and_headers(data: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, orjson.loads(body)


def test_declared_length_over_the_limit_is_refused_before_reading(server: LocalServer) -> None:
    sock = _connect(server)
    reader = Reader(sock)
    reader.start()
    sock.sendall(_head(server, "/_index/big/vectors/upsert", f"Content-Length: {DECLARED}"))
    # the answer comes without a byte of the body, and the server closes the connection
    assert reader.closed.wait(20), "the server kept the connection open"
    status, headers, body = _status_and_headers(reader.data)
    assert status == 400
    assert headers["connection"] == "close"
    assert f"request body is {DECLARED} bytes; the limit is {MAX_REQUEST_BYTES}" in str(
        body["message"]
    )
    sent = _push(sock, DECLARED, b"x" * CHUNK, reader.closed)
    sock.close()
    assert sent < MAX_PUSHED, f"the server took {sent} bytes of a refused body"


def test_client_sending_the_body_at_once_is_cut_off(server: LocalServer) -> None:
    """A client that writes the whole body before reading (most do) is stopped early."""
    sock = _connect(server)
    reader = Reader(sock)
    reader.start()
    sock.sendall(_head(server, "/_index/big/vectors/upsert", f"Content-Length: {DECLARED}"))
    started = time.monotonic()
    sent = _push(sock, DECLARED, b"x" * CHUNK, reader.closed)
    sock.close()
    assert sent < MAX_PUSHED, f"the server took {sent} bytes of a refused body"
    assert time.monotonic() - started < 20


def test_control_plane_and_a_wrong_key_get_the_same_refusal(server: LocalServer) -> None:
    for path, key, shape in (
        ("/indexes", server.api_key, "error"),  # control plane: ErrorResponse
        ("/_index/big/query", "wrong-key", "code"),  # refused before the key is even looked at
    ):
        sock = _connect(server)
        reader = Reader(sock)
        reader.start()
        head = _head(server, path, f"Content-Length: {DECLARED}").replace(
            server.api_key.encode(), key.encode()
        )
        sock.sendall(head)
        assert reader.closed.wait(20)
        sock.close()
        status, headers, body = _status_and_headers(reader.data)
        assert (status, headers["connection"]) == (400, "close")
        assert shape in body


def test_chunked_body_is_cut_off_while_reading(server: LocalServer) -> None:
    sock = _connect(server)
    reader = Reader(sock)
    reader.start()
    sock.sendall(_head(server, "/_index/big/vectors/upsert", "Transfer-Encoding: chunked"))
    frame = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    sent = _push(sock, DECLARED, frame, reader.closed)
    assert reader.closed.wait(20)
    sock.close()
    assert sent < MAX_PUSHED, f"the server read {sent} bytes of a chunked body"
    status, headers, body = _status_and_headers(reader.data)
    assert (status, headers["connection"]) == (400, "close")
    assert f"the limit is {MAX_REQUEST_BYTES} bytes" in str(body["message"])


def test_bodies_within_the_limit_keep_the_connection(server: LocalServer) -> None:
    """Chunked and declared bodies under 2 MB are served, two requests on one connection."""
    payload = orjson.dumps({"vectors": [{"id": "a", "values": [1.0, 0.0]}]})
    sock = _connect(server)
    chunked = f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n"
    sock.sendall(_head(server, "/_index/big/vectors/upsert", "Transfer-Encoding: chunked"))
    sock.sendall(chunked)
    declared = _head(server, "/_index/big/vectors/upsert", f"Content-Length: {len(payload)}")
    sock.sendall(declared + payload)
    data = b""
    sock.settimeout(20)
    while data.count(b'{"upsertedCount":1}') < 2:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed early: {data!r}"
        data += chunk
    sock.close()
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert b"connection: close" not in data.lower()


def test_malformed_content_length_is_refused(tmp_path: Path) -> None:
    with start(tmp_path / "data") as srv:
        for value in ("abc", "-1", "\xb2"):
            sock = _connect(srv)
            reader = Reader(sock)
            reader.start()
            head = _head(srv, "/indexes", "Content-Length: X").replace(
                b"X", value.encode("latin-1")
            )
            sock.sendall(head)
            assert reader.closed.wait(20)
            sock.close()
            assert reader.data.startswith(b"HTTP/1.1 400"), (value, reader.data[:200])


def test_a_refusal_before_the_body_is_read_closes_the_connection(server: LocalServer) -> None:
    """A wrong key on a 1.9 MB upsert is answered from the headers; the body is not drained.

    The same middleware guards the chat backend (``tenant_rag.chat.limits``), where a wrong
    key on an upload is the common case.
    """
    sock = _connect(server)
    reader = Reader(sock)
    reader.start()
    size = MAX_REQUEST_BYTES - 100 * 1024
    head = _head(server, "/_index/big/vectors/upsert", f"Content-Length: {size}")
    sock.sendall(head.replace(server.api_key.encode(), b"not-the-key"))
    assert reader.closed.wait(20), "the connection stayed open after the refusal"
    sock.close()
    status, headers, body = _status_and_headers(reader.data)
    assert (status, headers["connection"]) == (403, "close")
    assert str(body["message"]).startswith("Wrong API key")
