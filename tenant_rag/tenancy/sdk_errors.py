"""What an error from the Pinecone SDK means, whichever transport raised it.

The REST SDK raises exceptions with an HTTP ``status``; the asyncio SDK and
some transports use ``status_code``; the gRPC SDK raises a bare
``PineconeException`` whose cause is a ``grpc.RpcError`` with a status
*code name*. Callers (404 handling, retries, the chatbot backend's 429/503
answers) want one question answered the same way everywhere, so it is
answered once, here.
"""

from __future__ import annotations

#: gRPC status code names -> the HTTP status Pinecone's REST API answers with.
GRPC_TO_HTTP = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
}


def grpc_code_name(exc: BaseException) -> str | None:
    """The gRPC status code name of ``exc`` or of its cause (``"UNAVAILABLE"``), if any."""
    for err in (exc, exc.__cause__):
        code = getattr(err, "code", None)
        if callable(code):  # grpc.RpcError
            try:
                name = getattr(code(), "name", None)
            except Exception:  # noqa: BLE001 - a ``code`` method that is not gRPC's
                continue
            if isinstance(name, str):
                return name
    return None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an SDK error stands for: its own (REST), or its gRPC code's mapping."""
    for attr in ("status", "status_code"):
        value = getattr(exc, attr, None)
        if value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    name = grpc_code_name(exc)
    return GRPC_TO_HTTP.get(name) if name is not None else None
