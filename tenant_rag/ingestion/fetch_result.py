"""What the lean fetch paths return (REST `sdk.LeanRestIndex`, gRPC `grpc_fetch.GrpcFetcher`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FetchResult:
    """A fetch answer with the SDK's field names.

    ``vectors`` maps each id to a plain dict with ``id``, ``values``,
    ``metadata`` and ``sparse_values`` (which `PinnedIndex` reads as it reads
    the SDK's models); ``usage`` holds ``read_units``.
    """

    vectors: dict[str, dict[str, Any]]
    namespace: str
    usage: dict[str, Any]


__all__ = ["FetchResult"]
