"""Run ``tenant-rag serve`` in a child process, for benchmarks, crash tests and scripts.

A server in its own process is what a crash test kills and what a memory
benchmark measures (its RSS is the server's alone). The child prints its
address on start-up; this module reads it, so callers never guess a port.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_REST = re.compile(r"serving (https?://[\d.]+:\d+)")
_GRPC = re.compile(r"gRPC data plane on ([\d.]+:\d+)")
_CA = re.compile(r"TLS: local CA (\S+)")


@dataclass(frozen=True)
class ServerProcess:
    """A running ``tenant-rag serve`` child: its process, REST URL, gRPC target and TLS CA."""

    proc: subprocess.Popen[str]
    url: str
    grpc_target: str | None
    ca: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.contextmanager
def serve_process(
    data_dir: str | os.PathLike[str],
    *extra: str,
    grpc: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[ServerProcess]:
    """Start ``tenant-rag serve --port 0`` over ``data_dir``; stop it (Ctrl-C) on exit.

    ``extra`` are more ``serve`` arguments (``--api-key``, ...); ``grpc=True``
    also serves gRPC on a free port. Raises ``RuntimeError`` if the child
    exits or stays silent for ``timeout`` seconds before reporting its address.
    """
    exe = Path(sys.executable).with_name("tenant-rag")
    cmd = [str(exe), "serve", "--port", "0", "--data", str(data_dir), "--log-level", "warning"]
    cmd += [*extra, *(["--grpc-port", "0"] if grpc else [])]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        url = grpc_target = ca = None
        tls = "--tls" in extra
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        while url is None or (grpc and grpc_target is None) or (tls and ca is None):
            line = proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError("tenant-rag serve exited before reporting its address")
            if m := _REST.search(line):
                url = m.group(1)
            if m := _GRPC.search(line):
                grpc_target = m.group(1)
            if m := _CA.search(line):
                ca = m.group(1)
        yield ServerProcess(proc, url, grpc_target, ca)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
