"""Shared pytest fixtures. Add yours below; keep each fixture's docstring saying what it gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant_rag.local import LocalServer, start


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
