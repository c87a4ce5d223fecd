"""A leaner path through the Pinecone REST SDK for ingestion's bulk calls.

The SDK's OpenAPI layer type-checks every value of every request and
response, one Python call per float: an upsert of 170 records of 384
dimensions spends ~0.25 s in that check alone, and a fetch of 200 records
~0.3 s, five times the rest of the request. Ingestion builds its payloads
itself (ids are ``str``, values pass through `as_floats`, metadata through
`clean_metadata`), so the check adds nothing; the SDK exposes switches for
it (``_check_type`` on upsert, ``_check_return_type`` on fetch).

`lean_handle` wraps only the SDK's REST ``Index``; it sits *under*
`PinnedIndex`, which still applies the namespace, the id prefix and the
ownership checks of every returned record. Any other handle (gRPC, test
wrappers) is used as it is.
"""

from __future__ import annotations

from typing import Any


class LeanRestIndex:
    """Delegates to the SDK ``Index``, with per-value type checks off for upsert and fetch."""

    def __init__(self, index: Any) -> None:
        self._index = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def upsert(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("_check_type", False)
        return self._index.upsert(*args, **kwargs)

    def fetch(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("_check_return_type", False)
        return self._index.fetch(*args, **kwargs)


def lean_handle(index: Any) -> Any:
    """``index`` wrapped in `LeanRestIndex` when it is the SDK's REST ``Index``."""
    try:
        from pinecone.db_data.index import Index
    except ImportError:  # pragma: no cover - another SDK layout: use the handle as it is
        return index
    return LeanRestIndex(index) if isinstance(index, Index) else index
