"""A data-plane handle that can only ever send one namespace (defence in depth).

`TenantPineconeVectorStore` already routes every request through
:class:`~tenant_rag.tenancy.pinned.PinnedIndex`, which always sends the
tenant's namespace. This proxy sits under it anyway and checks each call a
second time, so that a future bug in the store, a subclass, or user code
that reaches for ``store.index`` cannot send another namespace, omit it (the
SDK then sends Pinecone's shared default namespace), or use a cross-namespace
call such as ``query_namespaces``.

Rules, per attribute of the wrapped SDK ``Index`` / ``GRPCIndex``:

* namespaced data calls (upsert, query, fetch, update, delete, list,
  list_paginated, describe_namespace, delete_namespace) must pass
  ``namespace=`` as a keyword equal to the pin; positional arguments after
  the first are refused, since they could carry a namespace;
* ``describe_index_stats`` is allowed, but its answer is cut down to the
  pinned namespace (names and total), so one tenant cannot learn other
  tenants' names or sizes (under metadata isolation the shared namespace's
  count still covers every tenant in it);
* ``config`` and a few harmless attributes pass through;
* everything else (``query_namespaces``, ``namespace`` resource,
  ``list_namespaces``, bulk import, ...) raises :class:`AttributeError`.
"""

from __future__ import annotations

from typing import Any

from tenant_rag._compat.pinecone_sdk import CONFIG_ATTRS
from tenant_rag.errors import TenantIsolationError

#: method -> how many positional arguments it may take (none can be a namespace)
_NAMESPACED: dict[str, int] = {
    "upsert": 1,  # vectors
    "query": 0,
    "fetch": 1,  # ids
    "update": 1,  # id
    "delete": 1,  # ids
    "list": 0,
    "list_paginated": 0,
    "describe_namespace": 0,
    "delete_namespace": 0,
}
_PASS_THROUGH = frozenset(
    {*CONFIG_ATTRS, "_tenant_rag_index_name", "_tenant_rag_shape", "_tenant_rag_tags", "close"}
)


class NamespaceGuardedIndex:
    """Wrap ``index`` so that every call targets exactly ``namespace``."""

    __slots__ = ("_wrapped", "_namespace", "_tenant")

    def __init__(self, index: Any, namespace: str, tenant: str) -> None:
        if isinstance(index, NamespaceGuardedIndex):
            if index._namespace != namespace:
                raise TenantIsolationError(
                    f"this index handle is pinned to namespace {index._namespace!r}; it cannot "
                    f"be re-pinned to {namespace!r}."
                )
            index = index._wrapped
        object.__setattr__(self, "_wrapped", index)
        object.__setattr__(self, "_namespace", namespace)
        object.__setattr__(self, "_tenant", tenant)

    @property
    def wrapped(self) -> Any:
        """The SDK handle underneath (shared by every tenant; use with care)."""
        return self._wrapped

    def __getattr__(self, name: str) -> Any:
        if name in _NAMESPACED:
            return self._guarded(name)
        if name == "describe_index_stats":
            return self._describe_index_stats
        if name in _PASS_THROUGH:
            return getattr(self._wrapped, name)
        raise AttributeError(
            f"{name!r} is not available on an index handle pinned to tenant {self._tenant!r} "
            f"(namespace {self._namespace!r}); it could reach other namespaces."
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a tenant-pinned index handle is read-only.")

    def __repr__(self) -> str:
        return f"NamespaceGuardedIndex(namespace={self._namespace!r})"

    def _guarded(self, name: str) -> Any:
        method = getattr(self._wrapped, name)
        max_positional = _NAMESPACED[name]
        namespace = self._namespace

        def call(*args: Any, **kwargs: Any) -> Any:
            if len(args) > max_positional:
                raise TenantIsolationError(
                    f"{name}() on a tenant-pinned index takes keyword arguments only after the "
                    f"first {max_positional}; positional arguments could carry a namespace."
                )
            if "namespace" not in kwargs or kwargs["namespace"] != namespace:
                got = kwargs.get("namespace", "<missing>")
                raise TenantIsolationError(
                    f"{name}() was sent namespace={got!r}, but this index handle is pinned to "
                    f"namespace {namespace!r}; refusing the request."
                )
            return method(*args, **kwargs)

        call.__name__ = name
        return call

    def _describe_index_stats(self, *args: Any, **kwargs: Any) -> Any:
        stats = self._wrapped.describe_index_stats(*args, **kwargs)
        namespaces = getattr(stats, "namespaces", None)
        if namespaces is None and isinstance(stats, dict):
            namespaces = stats.get("namespaces")
        if isinstance(namespaces, dict):
            mine = {k: v for k, v in namespaces.items() if k == self._namespace}
            namespaces.clear()
            namespaces.update(mine)
            # the index-wide total would reveal the other tenants' combined size
            summary = mine.get(self._namespace)
            count = getattr(summary, "vector_count", None)
            if count is None and isinstance(summary, dict):
                count = summary.get("vector_count")
            try:
                if isinstance(stats, dict):
                    stats["total_vector_count"] = int(count or 0)
                else:
                    stats.total_vector_count = int(count or 0)
            except (AttributeError, TypeError, ValueError):  # pragma: no cover - other SDKs
                pass
        return stats
