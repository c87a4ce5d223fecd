"""Where Pinecone is: the cloud when ``PINECONE_API_KEY`` is set, else the embedded server.

The same application code runs in both places. `connect()` hands out one
client per process (and so one connection pool, shared by every tenant), and
`ensure_index()` hands out one data-plane handle per index, so building the
store for tenant number 10,000 costs no connection and no request.
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from tenant_rag.errors import ConfigurationError, IndexMismatchError

_INDEX_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,43}[a-z0-9])?$")
#: Index tag naming the embedding model that built the index (`ensure_index(embedding=...)`).
EMBEDDING_MODEL_TAG = "embedding_model"
_MAX_TAG_VALUE = 120
_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Any] = {}
#: Data-plane handles per client object and index name. Keyed by the client itself (weakly):
#: an id() key could be reused by a new client after the old one is collected.
_indexes: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
#: gRPC target of the embedded server, per gRPC client built by `connect(grpc=True)`.
_local_grpc_targets: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def is_local() -> bool:
    """True when tenant_rag runs on the embedded server (no ``PINECONE_API_KEY``)."""
    return not os.environ.get("PINECONE_API_KEY")


def data_dir() -> Path:
    """The embedded server's data directory.

    ``$TENANT_RAG_HOME``, else the nearest ``.tenant_rag`` in the current
    directory or a parent, else ``./.tenant_rag`` (see
    `tenant_rag.local.discovery`).
    """
    from tenant_rag.local.discovery import default_data_dir

    return default_data_dir()


def connect(*, grpc: bool = False) -> Any:
    """Return the process-wide Pinecone client for the current environment.

    * ``PINECONE_API_KEY`` set: Pinecone serverless (``PINECONE_CONTROLLER_HOST``
      is honoured by the SDK itself).
    * Otherwise: the embedded server over ``TENANT_RAG_HOME``, started
      in-process on a free loopback port the first time it is needed.
      ``PINECONE_CONTROLLER_HOST`` without ``PINECONE_API_KEY`` raises
      :class:`ConfigurationError` instead.

    ``grpc=True`` returns a ``PineconeGRPC`` for the same target; its
    ``Index(name=...)`` is wired to the embedded server's gRPC port when local.
    The same call with the same environment returns the same object.
    """
    api_key = os.environ.get("PINECONE_API_KEY")
    if not api_key and os.environ.get("PINECONE_CONTROLLER_HOST"):
        # a remote control plane was asked for; silently serving locally would put the
        # tenants' data somewhere the operator did not choose
        raise ConfigurationError(
            "PINECONE_CONTROLLER_HOST is set but PINECONE_API_KEY is not: set PINECONE_API_KEY "
            "to that server's key, or unset PINECONE_CONTROLLER_HOST to use the embedded server."
        )
    if api_key:
        key: tuple[Any, ...] = ("cloud", grpc, api_key, os.environ.get("PINECONE_CONTROLLER_HOST"))
    else:
        key = ("local", grpc, str(data_dir()))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _cloud_client(api_key, grpc) if api_key else _local_client(grpc)
            _clients[key] = client
        return client


def _cloud_client(api_key: str, grpc: bool) -> Any:
    if grpc:
        from pinecone.grpc import PineconeGRPC

        return PineconeGRPC(api_key=api_key, source_tag="tenant_rag")
    from pinecone import Pinecone

    return Pinecone(api_key=api_key, source_tag="tenant_rag")


def _local_client(grpc: bool) -> Any:
    from tenant_rag.local import shared_server

    server = shared_server(data_dir())
    if not grpc:
        return server.client()
    client = server.grpc_client()
    if not server.grpc_target:
        raise ConfigurationError("the embedded server was started without its gRPC port.")
    _local_grpc_targets[client] = server.grpc_target
    return client


def ensure_index(
    pc: Any,
    name: str,
    *,
    dimension: int | None = None,
    embedding: Any = None,
    metric: str = "cosine",
    cloud: str = "aws",
    region: str = "us-east-1",
    deletion_protection: str = "disabled",
    tags: dict[str, str] | None = None,
    ready_timeout: float = 300.0,
) -> Any:
    """Create the serverless index ``name`` if it is missing; return its data-plane handle.

    Pass ``embedding=`` (the model you will embed with): the dimension comes
    from it, and a new index records the model's name in its tags
    (``embedding_model``), so that `tenant_rag.models.index_embeddings` can
    give queries the same model later. ``dimension=`` alone creates an index
    that records no model.

    Idempotent: calling it again (from any process) returns a handle to the
    same index. An existing index with another dimension or metric, or one
    that records another embedding model, raises :class:`IndexMismatchError`
    rather than silently storing vectors that can never match. One handle per
    index per client is cached, so every tenant shares one connection pool.

    One call per workload: ``rag = ensure_index(pc, "rag", embedding=emb)``
    and ``search = ensure_index(pc, "search", embedding=emb)``, each holding
    one namespace per tenant.
    """
    if not isinstance(name, str) or not _INDEX_NAME.match(name):
        raise ConfigurationError(
            f"index name {name!r} is invalid: use 1-45 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit."
        )
    model: str | None = None
    if embedding is not None:
        made = _dimension_of(embedding)
        if dimension is not None and dimension != made:
            raise ConfigurationError(
                f"dimension={dimension} but the embedding model makes {made}-d vectors; "
                "pass one of them."
            )
        dimension, model = made, _model_name_of(embedding)
    if dimension is None:
        raise ConfigurationError(
            "ensure_index needs embedding= (the model you embed with) or dimension=."
        )
    if not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1:
        raise ConfigurationError(f"dimension must be a positive int, got {dimension!r}.")
    if metric not in ("cosine", "euclidean", "dotproduct"):
        raise ConfigurationError(
            f"metric must be 'cosine', 'euclidean' or 'dotproduct', got {metric!r}."
        )
    with _lock:
        handle = _indexes.get(pc, {}).get(name)
    if (
        handle is not None
        and getattr(handle, "_tenant_rag_shape", None) == (dimension, metric)
        and (model is None or getattr(handle, "_tenant_rag_model", None) in (None, model))
    ):
        return handle

    desc = _describe_or_none(pc, name)
    if desc is None:
        from pinecone import ServerlessSpec

        all_tags = dict(tags or {})
        if model is not None:
            all_tags[EMBEDDING_MODEL_TAG] = encode_tag_value(model)
        try:
            pc.create_index(
                name=name,
                dimension=dimension,
                metric=metric,
                spec=ServerlessSpec(cloud=cloud, region=region),
                deletion_protection=deletion_protection,
                tags=all_tags or None,
                timeout=-1,  # we poll ourselves, faster than the SDK's 5 s steps
            )
        except Exception as exc:
            if getattr(exc, "status", None) != 409:  # 409: created concurrently, fine
                raise
        desc = _wait_ready(pc, name, ready_timeout)
    recorded = recorded_embedding_model(desc)
    # checked before the dimension, for the clearer message; both names are the ones models
    # give themselves (never aliases), so they compare as strings
    if model is not None and recorded is not None and model != recorded:
        raise IndexMismatchError(
            f"index {name!r} was built with the embedding model {recorded!r}, but this "
            f"embedding is {model!r}. Query it with the model that built it "
            "(tenant_rag.index_embeddings(pc, name)), or put the new model's vectors in "
            "another index."
        )
    _check_matches(desc, name, dimension, metric)

    handle = _data_plane_handle(pc, name, desc)
    handle._tenant_rag_index_name = name
    handle._tenant_rag_shape = (dimension, metric)
    handle._tenant_rag_tags = IndexTags(pc, name, tags_of(desc))

    handle._tenant_rag_model = recorded or model
    with _lock:
        _indexes.setdefault(pc, {})[name] = handle
    return handle


class IndexTags:
    """An index's tags as this process last read them, re-read at most every ``ttl`` seconds.

    `ensure_index` puts one on each handle it returns. Readers that depend
    on a tag (the ACL policy, `tenant_rag.tenancy.acl.acl_policy_of`) ask
    `current()` on every request: a dictionary read, plus one
    ``describe_index`` per ``ttl``, so a tag changed by another process
    reaches this one within ``ttl`` seconds. A failed re-read keeps the last
    known tags (and tries again after ``ttl``); `refresh` raises instead.
    """

    def __init__(self, pc: Any, name: str, tags: dict[str, str], ttl: float = 60.0) -> None:
        # weak: a handle must not keep its client alive (the handle cache is keyed weakly by it)
        self._pc = weakref.ref(pc)
        self.name = name
        self.ttl = ttl
        self._tags = dict(tags)
        self._read_at = time.monotonic()
        self._lock = threading.Lock()

    def current(self) -> dict[str, str]:
        """The tags; re-read from the control plane when older than ``ttl``."""
        if time.monotonic() - self._read_at > self.ttl:
            with self._lock:
                if time.monotonic() - self._read_at > self.ttl:
                    try:
                        self.refresh()
                    except Exception:  # noqa: BLE001 - keep serving; retried after ttl
                        self._read_at = time.monotonic()
                        import logging

                        logging.getLogger(__name__).warning(
                            "could not re-read the tags of index %r; keeping the last known",
                            self.name,
                        )
        return self._tags

    def refresh(self) -> dict[str, str]:
        """Re-read the tags now (raises when the control plane cannot answer, or the client
        that made the handle is gone)."""
        pc = self._pc()
        if pc is None:
            raise ConfigurationError(
                f"the client that opened index {self.name!r} is gone; its tags cannot be re-read."
            )
        tags = tags_of(pc.describe_index(self.name))
        self._tags, self._read_at = tags, time.monotonic()
        return tags

    def __repr__(self) -> str:
        return f"IndexTags({self.name!r}, {self._tags!r})"


def tags_of(desc: Any) -> dict[str, str]:
    """An index description's tags as a plain dict ({} when it has none)."""
    tags = desc.get("tags") if isinstance(desc, dict) else getattr(desc, "tags", None)
    if tags is None:
        return {}
    if hasattr(tags, "to_dict"):
        tags = tags.to_dict()
    return {str(k): str(v) for k, v in dict(tags).items()}


def refresh_index_tags(pc: Any, name: str) -> None:
    """Re-read ``name``'s tags for every handle of ``pc`` this process holds (after a change)."""
    with _lock:
        handle = _indexes.get(pc, {}).get(name)
    tags = getattr(handle, "_tenant_rag_tags", None) if handle is not None else None
    if isinstance(tags, IndexTags):
        tags.refresh()


def _dimension_of(embedding: Any) -> int:
    """The vector size an embedding model makes: its ``dimension``, else one probe."""
    dimension = getattr(embedding, "dimension", None)
    if isinstance(dimension, int) and not isinstance(dimension, bool):
        return dimension
    return len(embedding.embed_query("dimension probe"))


def _model_name_of(embedding: Any) -> str | None:
    """The name an embedding model gives itself for the index tag, or None.

    tenant_rag's models answer ``tenant_rag_model_name`` (a name
    `tenant_rag.models.embeddings.embeddings_named` rebuilds); other classes
    are not recorded, and their indexes are checked by dimension only.
    """
    name = getattr(embedding, "tenant_rag_model_name", None)
    return name if isinstance(name, str) and name else None


def recorded_embedding_model(desc: Any) -> str | None:
    """The embedding model an index description records in its tags, or None."""
    tags = getattr(desc, "tags", None)
    if tags is None and isinstance(desc, dict):
        tags = desc.get("tags")
    if not tags:
        return None
    try:
        value = tags.get(EMBEDDING_MODEL_TAG) if hasattr(tags, "get") else None
    except Exception:  # noqa: BLE001 - an SDK model without the key
        value = None
    return decode_tag_value(str(value)) if value else None


def encode_tag_value(text: str) -> str:
    """``text`` in the characters Pinecone allows in a tag value (letters, digits, ``;@_-. ``).

    Others (``/`` and ``:`` in model names such as ``BAAI/bge-small`` or
    ``nomic-embed-text:latest``) become ``+XX`` per UTF-8 byte, ``+`` included,
    so `decode_tag_value` gives the name back exactly.
    """
    out = []
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch in ";@_-. "):
            out.append(ch)
        else:
            out.extend(f"+{b:02X}" for b in ch.encode("utf-8"))
    value = "".join(out)
    if len(value) > _MAX_TAG_VALUE:
        raise ConfigurationError(
            f"the embedding model name {text!r} is too long to record in an index tag "
            f"({len(value)} characters encoded, at most {_MAX_TAG_VALUE})."
        )
    return value


def decode_tag_value(value: str) -> str:
    """The inverse of `encode_tag_value`."""
    data = bytearray()
    i = 0
    while i < len(value):
        if value[i] == "+" and _is_hex(value[i + 1 : i + 3]):
            data.append(int(value[i + 1 : i + 3], 16))
            i += 3
        else:
            data.extend(value[i].encode("utf-8"))
            i += 1
    return data.decode("utf-8", errors="replace")


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789ABCDEFabcdef" for c in pair)


def index_shape(index: Any) -> tuple[int, str] | None:
    """``(dimension, metric)`` of a handle from :func:`ensure_index`, without a request.

    ``None`` for handles built elsewhere (then ask ``describe_index_stats``).
    """
    shape = getattr(index, "_tenant_rag_shape", None)
    return (int(shape[0]), str(shape[1])) if shape else None


def _describe_or_none(pc: Any, name: str) -> Any:
    try:
        return pc.describe_index(name)
    except Exception as exc:
        if getattr(exc, "status", None) == 404 or type(exc).__name__ == "NotFoundException":
            return None
        raise


def _wait_ready(pc: Any, name: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        desc = pc.describe_index(name)
        status = getattr(desc, "status", None)
        ready = status.get("ready") if isinstance(status, dict) else getattr(status, "ready", None)
        if ready:
            return desc
        if time.monotonic() > deadline:
            raise ConfigurationError(
                f"index {name!r} was not ready after {timeout:.0f} s; check its status in the "
                "Pinecone console."
            )
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _check_matches(desc: Any, name: str, dimension: int, metric: str) -> None:
    have_dim = getattr(desc, "dimension", None)
    have_metric = getattr(desc, "metric", None)
    if have_dim is not None and int(have_dim) != dimension:
        raise IndexMismatchError(
            f"index {name!r} exists with dimension {have_dim}, but {dimension} was asked for. "
            "Use an embedding model of that dimension, or another index name."
        )
    if have_metric is not None and str(have_metric) != metric:
        raise IndexMismatchError(
            f"index {name!r} exists with metric {have_metric!r}, but {metric!r} was asked for. "
            "Use the existing metric, or another index name."
        )


def _data_plane_handle(pc: Any, name: str, desc: Any) -> Any:
    """One data-plane handle.

    The embedded server serves gRPC on its own port, routed by the index name
    the SDK sends, so a local gRPC handle names the index and that port; the
    REST host in ``desc.host`` is for HTTP clients only.
    """
    grpc_target = _local_grpc_targets.get(pc)
    if grpc_target:
        from pinecone.grpc import GRPCClientConfig

        return pc.Index(name=name, host=grpc_target, grpc_config=GRPCClientConfig(secure=False))
    return pc.Index(host=desc.host)


def reset_for_tests() -> None:
    """Forget cached clients and handles (tests that change the environment)."""
    with _lock:
        _clients.clear()
        _indexes.clear()
        _local_grpc_targets.clear()
