"""The one error type the engine raises; REST and gRPC map it to their wire forms.

Keeping a single error type with a Pinecone-style status code and a gRPC-style
code name lets the API layers stay thin: they never decide what went wrong,
they only translate ``ApiError`` into an HTTP body or a gRPC status.
"""

from __future__ import annotations

import reprlib
from typing import Any

# HTTP status -> canonical gRPC code name (Pinecone's data plane reports these).
_CODE_FOR_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

# gRPC numeric codes, for the data-plane ``{"code": 3, "message": ...}`` body.
GRPC_NUMBER: dict[str, int] = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "FORBIDDEN": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}


class ApiError(Exception):
    """A request the engine refuses, with the status a client should see.

    Args:
        status: HTTP status (400, 401, 403, 404, 409, ...).
        code: Pinecone/gRPC code name; derived from ``status`` when omitted.
        message: what went wrong and, where possible, how to fix it.
    """

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODE_FOR_STATUS.get(status, "UNKNOWN")
        self.message = message

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def bad_request(message: str) -> ApiError:
    """400 INVALID_ARGUMENT: the request itself is wrong."""
    return ApiError(400, "INVALID_ARGUMENT", message)


def not_found(message: str) -> ApiError:
    """404 NOT_FOUND: an unknown index or namespace."""
    return ApiError(404, "NOT_FOUND", message)


_short = reprlib.Repr()
_short.maxlevel = 3
_short.maxstring = 80
_short.maxother = 80


def short(value: Any) -> str:
    """A bounded repr of user input for error messages.

    ``repr`` of a value nested a thousand levels deep raises ``RecursionError`` (a 500),
    and of a huge one makes a huge message; this one stays short whatever it is given.
    """
    return _short.repr(value)
