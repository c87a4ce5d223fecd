"""Library results (ingest reports, offboard results) as JSON-ready data.

The ingestion and lifecycle modules return their own result types; the
routes only need them as JSON, whatever the concrete type (a dataclass, a
pydantic model, something with ``to_dict``).
"""

from __future__ import annotations

import dataclasses
from typing import Any


def report_json(report: Any) -> Any:
    """The ingest report as JSON-ready data, whatever its concrete type."""
    for attr in ("to_dict", "model_dump", "as_dict"):
        fn = getattr(report, attr, None)
        if callable(fn):
            return jsonable(fn())
    if hasattr(report, "__dataclass_fields__"):
        return jsonable(dataclasses.asdict(report))
    return jsonable(report)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "__dataclass_fields__"):
        return jsonable(dataclasses.asdict(value))
    return str(value)
