"""Oversized bodies on the chat backend: refused, and the connection closed, unread.

A client that declares ``Content-Length: 300000000`` used to get its 413 at once
while uvicorn went on reading the body to keep the connection alive, and a
chunked body (no declared length) was read to the end of the route's parsing.
These tests speak raw HTTP/1.1 over a socket to the backend under uvicorn and
count how much a client can push before the server's side is gone.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from tenant_rag.chat import ChatLimits, KeyRing
from tenant_rag.local import LocalServer

from .conftest import ACME_KEY, make_backend, serving

DECLARED = 300_000_000
#: What a client can push into loopback socket buffers before it notices the closed peer
#: is a few MB; a server reading the body would take all of DECLARED.
MAX_PUSHED = 32 * 1024 * 1024
CHUNK = 256 * 1024
UPLOAD_CAP = 1024 * 1024  # per file; a whole upload (20 files) may be 20 MB + 64 KB


@pytest.fixture(scope="module")
def url(shared_local_server: LocalServer) -> Iterator[str]:
    keys = KeyRing.from_mapping({ACME_KEY: "acme"})
    backend = make_backend(
        shared_local_server, keys, ChatLimits(max_upload_bytes=UPLOAD_CAP, max_files=20)
    )
    with serving(backend.app) as base:
        yield base


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    return sock


def _head(path: str, *headers: str, content_type: str = "application/json") -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {ACME_KEY}",
        f"Content-Type: {content_type}",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Reader(threading.Thread):
    """Reads everything the server sends until it closes (or resets) the connection."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock, self.data, self.closed = sock, b"", threading.Event()

    def run(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.data += chunk
        except OSError:
            pass
        self.closed.set()


def _push(sock: socket.socket, total: int, chunk: bytes, closed: threading.Event) -> int:
    sent = 0
    try:
        while sent < total:
            sock.sendall(chunk)
            sent += len(chunk)
            if closed.is_set():
                sock.sendall(chunk)  # a few more may still fit in buffers
                sent += len(chunk)
    except OSError:
        pass
    return sent


def _answer(data: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


MULTIPART = "multipart/form-data; boundary=zz"
#: The start of a well-formed file part, so the multipart parser keeps reading.
PART = (
    b'--zz\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\n"
)
CASES = [
    ("/chat", "application/json", b"", "body_too_large", "1,048,576 bytes"),
    ("/documents", MULTIPART, PART, "upload_too_large", "1,048,576 bytes per file"),
]


@pytest.mark.parametrize(("path", "ctype", "start", "code", "words"), CASES)
def test_declared_length_over_the_cap_is_refused_and_the_connection_closed(
    url: str, path: str, ctype: str, start: bytes, code: str, words: str
) -> None:
    sock = _connect(url)
    reader = Reader(sock)
    reader.start()
    sock.sendall(_head(path, f"Content-Length: {DECLARED}", content_type=ctype))
    assert reader.closed.wait(20), "the server kept the connection open"
    status, headers, body = _answer(reader.data)
    assert (status, headers["connection"], body["code"]) == (413, "close", code)
    assert words in body["detail"]
    sent = _push(sock, DECLARED, b"x" * CHUNK, reader.closed)
    sock.close()
    assert sent < MAX_PUSHED, f"the server took {sent} bytes of a refused body"


@pytest.mark.parametrize(("path", "ctype", "start", "code", "words"), CASES)
def test_chunked_body_is_cut_off_while_reading(
    url: str, path: str, ctype: str, start: bytes, code: str, words: str
) -> None:
    sock = _connect(url)
    reader = Reader(sock)
    reader.start()
    sock.sendall(_head(path, "Transfer-Encoding: chunked", content_type=ctype))
    if start:
        sock.sendall(f"{len(start):x}\r\n".encode() + start + b"\r\n")
    frame = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    sent = _push(sock, DECLARED, frame, reader.closed)
    assert reader.closed.wait(20)
    sock.close()
    assert sent < MAX_PUSHED, f"the server read {sent} bytes of a chunked body"
    status, headers, body = _answer(reader.data)
    assert (status, headers["connection"], body["code"]) == (413, "close", code)
    assert words in body["detail"]


@pytest.mark.parametrize("key", ["wrong-key-0123456789abcdefXYZ", None])
def test_an_early_answer_closes_the_connection_instead_of_draining(
    url: str, key: str | None
) -> None:
    """A refused key (or no key) on a 16 MB upload is answered before the body is read; the
    connection is closed after it rather than kept alive by reading the rest."""
    declared = 16 * UPLOAD_CAP
    sock = _connect(url)
    reader = Reader(sock)
    reader.start()
    head = _head("/documents", f"Content-Length: {declared}", content_type=MULTIPART)
    if key is None:
        head = head.replace(f"Authorization: Bearer {ACME_KEY}\r\n".encode(), b"")
    else:
        head = head.replace(ACME_KEY.encode(), key.encode())
    sock.sendall(head + PART)
    assert reader.closed.wait(20), "the server kept the connection open"
    status, headers, body = _answer(reader.data)
    assert (status, headers["connection"]) == (401, "close")
    sent = _push(sock, declared, b"x" * CHUNK, reader.closed)
    sock.close()
    assert sent < declared // 2


def test_malformed_content_length_is_refused(url: str) -> None:
    sock = _connect(url)
    reader = Reader(sock)
    reader.start()
    sock.sendall(_head("/chat", "Content-Length: 12abc"))
    assert reader.closed.wait(20)
    sock.close()
    assert reader.data.startswith((b"HTTP/1.1 400", b"HTTP/1.1 413")), reader.data[:200]


def test_chunked_body_within_the_cap_is_served_and_keeps_the_connection(url: str) -> None:
    payload = json.dumps({"question": "anything about soup?"}).encode()
    sock = _connect(url)
    sock.sendall(_head("/chat", "Transfer-Encoding: chunked"))
    sock.sendall(f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n")
    sock.sendall(_head("/chat", f"Content-Length: {len(payload)}") + payload)
    data = b""
    sock.settimeout(30)
    while data.count(b"event: done") < 2:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed early: {data!r}"
        data += chunk
    sock.close()
    assert data.count(b"HTTP/1.1 200 OK") == 2
