"""The engine: exact vector search over per-namespace in-memory matrices backed by SQLite."""

from tenant_rag.local.engine.engine import Engine
from tenant_rag.local.engine.errors import ApiError
from tenant_rag.local.engine.index import IndexEngine

__all__ = ["ApiError", "Engine", "IndexEngine"]
