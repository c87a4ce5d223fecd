"""Fixtures for lifecycle tests: fresh indexes on the session's embedded server."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest

from tenant_rag.connection import ensure_index
from tenant_rag.local import LocalServer
from tenant_rag.tenancy import PinnedIndex

DIM = 8
_counter = itertools.count()


def vec(seed: int, dim: int = DIM) -> list[float]:
    rnd = random.Random(seed)
    return [rnd.uniform(-1, 1) for _ in range(dim)]


def seed_records(index: Any, tenant: str, n: int, *, isolation: str = "namespace") -> None:
    """Upsert ``n`` records for ``tenant`` through a pinned handle."""
    pinned = PinnedIndex(index, tenant, isolation=isolation)  # type: ignore[arg-type]
    pinned.upsert([(f"doc-{i}", vec(i), {"text": f"{tenant} record {i}"}) for i in range(n)])


@pytest.fixture
def pc(shared_local_server: LocalServer) -> Any:
    """A REST client of the session's embedded server."""
    return shared_local_server.client()


@pytest.fixture
def new_index(pc: Any) -> Callable[[str], Any]:
    """Make a fresh, uniquely named index (``prefix-N``) of dimension 8; returns its handle."""

    def make(prefix: str = "lc") -> Any:
        return ensure_index(pc, f"{prefix}-{next(_counter)}", dimension=DIM)

    return make
