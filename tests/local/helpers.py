"""Small helpers shared by the tests of tenant_rag.local."""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pinecone import ServerlessSpec

SPEC = ServerlessSpec(cloud="aws", region="us-east-1")


def make_index(
    pc: Any, name: str, dimension: int | None = 4, metric: str = "cosine", **kw: Any
) -> Any:
    """Create an index through the SDK (no polling) and return its data-plane client."""
    pc.create_index(name=name, dimension=dimension, metric=metric, spec=SPEC, timeout=-1, **kw)
    return pc.Index(name=name)


def vec(dim: int, seed: int) -> list[float]:
    rnd = random.Random(seed)
    return [rnd.uniform(-1, 1) for _ in range(dim)]


@contextlib.contextmanager
def serve_subprocess(
    data_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``tenant-rag serve --port 0`` over ``data_dir`` in another process; yield (proc, url)."""
    exe = Path(sys.executable).with_name("tenant-rag")
    proc = subprocess.Popen(
        [
            str(exe),
            "serve",
            "--port",
            "0",
            "--data",
            str(data_dir),
            "--log-level",
            "warning",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"serving (http://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
                break
        assert url, "tenant-rag serve did not report its address"
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
