"""Small helpers shared by the tests of tenant_rag.local."""

from __future__ import annotations

import random
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
