"""Shared pytest fixtures. Add yours below; keep each fixture's docstring saying what it gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tenant_rag.local import LocalServer, start

# No per-example deadline: on a shared 2-core machine an example can take 600 ms under load,
# and a deadline is a timing goal, which belongs in benchmarks/, not in a test that fails at
# random. Example counts and every assertion stay as each test sets them.
settings.register_profile("tenant_rag", deadline=None)
settings.load_profile("tenant_rag")


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[LocalServer]:
    """A fresh embedded server (REST + gRPC) on free loopback ports over an empty tmp data dir."""
    srv = start(tmp_path / "data", grpc=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def shared_local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One embedded server (REST + gRPC) for the whole session; tests must use unique index names."""
    srv = start(tmp_path_factory.mktemp("shared-local-data"), grpc=True)
    try:
        yield srv
    finally:
        srv.stop()
