"""One reading of SDK response fields: the SDKs' model objects and plain dicts alike.

SDK generations answer with OpenAPI models (7.x-9.x), msgspec structs (10.x)
or dicts (gRPC ``to_dict``, test doubles); some models raise on an unset
attribute instead of returning ``None``. Code that reads a response field
calls `field_of` rather than guessing the shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def field_of(obj: Any, key: str) -> Any:
    """``obj[key]`` of a mapping, else ``obj.key``; ``None`` when absent or unset."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    try:
        return getattr(obj, key, None)
    except Exception:  # noqa: BLE001 - SDK models raise on unset attributes
        return None


__all__ = ["field_of"]
