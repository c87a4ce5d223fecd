"""Durable storage for tenant_rag.local: a catalog plus one SQLite file per index."""

from tenant_rag.local.storage.catalog import Catalog, IndexDef, new_uid
from tenant_rag.local.storage.index_store import IndexStore

__all__ = ["Catalog", "IndexDef", "IndexStore", "new_uid"]
