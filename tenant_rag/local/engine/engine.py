"""The whole server's state: the catalog (control plane) and one ``IndexEngine`` per index.

An ``Engine`` owns one data dir. Other processes may own the same data dir at
the same time; the catalog's ``PRAGMA data_version`` tells us cheaply when one
of them created or deleted an index, and index files carry a uid so a deleted
and re-created index is never confused with the old one.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenant_rag.local.engine.errors import ApiError, bad_request, not_found
from tenant_rag.local.engine.index import IndexEngine
from tenant_rag.local.engine.limits import MAX_DIMENSION, MAX_INDEX_NAME_LENGTH
from tenant_rag.local.storage import Catalog, IndexDef, new_uid
from tenant_rag.local.storage.sqlite import DEFAULT_DURABILITY, Durability, check_durability

_INDEX_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
METRICS = ("cosine", "euclidean", "dotproduct")


class Engine:
    """Control plane plus access to each index's data plane."""

    def __init__(self, data_dir: Path, durability: Durability = DEFAULT_DURABILITY) -> None:
        self.data_dir = data_dir
        #: "process" or "power": how far an acknowledged write is synced (storage/sqlite.py)
        self.durability = check_durability(durability)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(data_dir, self.durability)
        self._lock = threading.Lock()
        self._open: dict[str, IndexEngine] = {}
        self._catalog_version = self.catalog.data_version()
        #: called with each index this engine deletes (backups record when their source went)
        self.on_index_deleted: list[Callable[[IndexDef], None]] = []

    def close(self) -> None:
        with self._lock:
            for eng in self._open.values():
                eng.close()
            self._open.clear()
        self.catalog.close()

    # -- control plane -------------------------------------------------------
    def create_index(self, body: Any, *, document_schema: dict[str, Any] | None = None) -> IndexDef:
        """Create an index from a 2025-style body (name, dimension, metric, spec, ...).

        ``document_schema`` is set only for an API 2026-07 schema with named fields
        (a document index); classic vector indexes have none.
        """
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        name = _check_index_name(body.get("name"))
        vector_type = body.get("vector_type") or "dense"
        if vector_type not in ("dense", "sparse"):
            raise bad_request(f"vector_type must be 'dense' or 'sparse', got {vector_type!r}")
        metric = body.get("metric") or ("dotproduct" if vector_type == "sparse" else "cosine")
        if metric not in METRICS:
            raise bad_request(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
        dimension = body.get("dimension")
        if vector_type == "dense":
            if (
                isinstance(dimension, bool)
                or not isinstance(dimension, int)
                or not 1 <= dimension <= MAX_DIMENSION
            ):
                raise bad_request(
                    f"dimension must be an integer between 1 and {MAX_DIMENSION} for a dense "
                    f"index, got {dimension!r}"
                )
        else:
            if dimension is not None:
                raise bad_request(
                    "dimension should not be specified for sparse indexes; a sparse index "
                    "holds sparse values of any length"
                )
            if metric != "dotproduct":
                raise bad_request(
                    "Sparse vector indexes must use the metric dotproduct. "
                    f"Got metric={metric!r}; pass metric='dotproduct' or omit it."
                )
        spec = body.get("spec")
        serverless = spec.get("serverless") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and spec.get("pod") is not None and vector_type == "sparse":
            raise bad_request(
                "Sparse vector type is not supported for pod indexes; the local server serves "
                "serverless indexes: spec={'serverless': {'cloud': ..., 'region': ...}}"
            )
        if not isinstance(serverless, dict):
            raise bad_request(
                "spec must be {'serverless': {'cloud': ..., 'region': ...}}; "
                "pod and BYOC specs are not supported by the local server"
            )
        cloud, region = serverless.get("cloud"), serverless.get("region")
        if not isinstance(cloud, str) or not isinstance(region, str):
            raise bad_request("spec.serverless needs string 'cloud' and 'region'")
        protection = body.get("deletion_protection") or "disabled"
        _check_protection(protection)
        tags = _check_tags(body.get("tags"))
        d = IndexDef(
            name=name,
            uid=new_uid(),
            dimension=dimension if vector_type == "dense" else None,
            metric=metric,
            vector_type=vector_type,
            deletion_protection=protection,
            tags=tags,
            cloud=cloud,
            region=region,
            schema=document_schema,
        )
        if not self.catalog.create(d):
            raise ApiError(409, "ALREADY_EXISTS", f"Resource {name} already exists")
        return d

    def describe_index(self, name: str) -> IndexDef:
        d = self.catalog.get(name)
        if d is None:
            raise not_found(f"Resource {name} not found")
        return d

    def list_indexes(self) -> list[IndexDef]:
        return self.catalog.list()

    def delete_index(self, name: str) -> None:
        d = self.describe_index(name)
        if d.deletion_protection == "enabled":
            raise ApiError(
                403,
                "FORBIDDEN",
                "Deletion protection is enabled for this index. Disable deletion protection "
                f"before retrying: configure_index({name!r}, deletion_protection='disabled').",
            )
        if self.catalog.delete(name) is None:
            raise not_found(f"Resource {name} not found")
        for listener in self.on_index_deleted:
            listener(d)
        with self._lock:
            eng = self._open.pop(name, None)
        if eng is not None:
            eng.close()
        path = self.catalog.indexes_dir / d.file_name
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(path) + suffix).unlink()

    def configure_index(self, name: str, body: Any) -> IndexDef:
        self.describe_index(name)
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        protection = body.get("deletion_protection")
        if protection is not None:
            _check_protection(protection)
        tags = body.get("tags")
        if tags is not None:
            merged = dict(self.describe_index(name).tags or {})
            for key, value in (_check_tags(tags) or {}).items():
                if value == "":
                    merged.pop(key, None)  # Pinecone: an empty value removes the tag
                else:
                    merged[key] = value
            tags = merged
        if body.get("spec") is not None and body["spec"].get("pod"):
            raise bad_request("pod settings do not apply to a serverless index")
        self.catalog.configure(name, deletion_protection=protection, tags=tags)
        return self.describe_index(name)

    def checkpoint(self) -> dict[str, dict[str, int]]:
        """Checkpoint and truncate every index's WAL; per index name, SQLite's answer.

        Deleted records are zeroed in place (``secure_delete``); this removes the
        older page images that still held them from the write-ahead logs, so no
        file of the data dir keeps a deleted record. ``busy`` 1 for an index means
        another process was reading it: its WAL could not be emptied, try again.
        """
        return {d.name: self.index(d.name).checkpoint() for d in self.catalog.list()}

    # -- data plane ------------------------------------------------------------
    def cached_index(self, name: str) -> IndexEngine | None:
        """The open engine of ``name`` if it is known current, else None; never waits or does I/O
        beyond one PRAGMA, so the REST layer may call it on the event loop."""
        eng = self._open.get(name)
        if eng is None or eng.d.schema is not None:
            return None
        version = self.catalog.data_version_nowait()
        if version is None or version != self._catalog_version:
            return None
        return eng

    def vector_index(self, name: str) -> IndexEngine:
        """``index(name)`` for the vectors API, which does not serve document indexes."""
        eng = self.index(name)
        if eng.d.schema is not None:
            raise document_index_error(name)
        return eng

    def index(self, name: str) -> IndexEngine:
        """The engine of index ``name``; 404 if no such index (in any process)."""
        version = self.catalog.data_version()
        with self._lock:
            eng = self._open.get(name)
            if eng is not None and version == self._catalog_version:
                return eng
            d = self.catalog.get(name)
            self._catalog_version = version
            if d is None:
                if eng is not None:
                    self._open.pop(name).close()
                raise not_found(
                    f"Index {name!r} not found; create it first with create_index(name={name!r}, ...)"
                )
            if eng is not None and eng.d.uid == d.uid:
                eng.d = d
                return eng
            if eng is not None:
                self._open.pop(name).close()
            eng = IndexEngine(d, self.catalog.indexes_dir / d.file_name, self.durability)
            self._open[name] = eng
            return eng


def _check_index_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise bad_request("index name is required")
    if len(name) > MAX_INDEX_NAME_LENGTH or not _INDEX_NAME.match(name):
        raise bad_request(
            f"Invalid index name {name!r}: use at most {MAX_INDEX_NAME_LENGTH} lowercase "
            "letters, digits and hyphens, starting and ending with a letter or digit"
        )
    return name


def document_index_error(name: str) -> ApiError:
    """A vectors-API request to an index declared with named schema fields (API 2026-07)."""
    return bad_request(
        f"Index {name!r} is a document index (declared with named schema fields), which "
        "Pinecone serves through the Documents API, not the vectors API. The local server "
        "does not implement the Documents API; create the index with the reserved fields "
        "'_values'/'_sparse_values' (or dimension/metric) to use the vectors API."
    )


def _check_protection(value: Any) -> None:
    if value not in ("enabled", "disabled"):
        raise bad_request(
            f"deletion_protection must be either 'enabled' or 'disabled', got {value!r}"
        )


def _check_tags(tags: Any) -> dict[str, str] | None:
    """Tags as a dict, or None for no tags: Pinecone leaves an empty ``tags`` out."""
    if tags is None:
        return None
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(val, str) for k, val in tags.items()
    ):
        raise bad_request("tags must be an object of string keys and string values")
    return dict(tags) or None
