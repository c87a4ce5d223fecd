"""Small helpers shared by the tests of tenant_rag.local."""

from __future__ import annotations

import contextlib
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pinecone import ServerlessSpec

from tenant_rag.local.process import serve_process

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
    with serve_process(data_dir, *extra, env=env) as server:
        yield server.proc, server.url
