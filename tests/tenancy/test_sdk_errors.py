"""One reading of SDK errors (`tenant_rag.tenancy.sdk_errors`) for REST and gRPC alike,
and the retry decision built on it (`tenant_rag.tenancy.retry.is_transient`)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from pinecone.exceptions import NotFoundException, PineconeApiException, PineconeException

from tenant_rag.connection import ensure_index
from tenant_rag.local import LocalServer
from tenant_rag.tenancy.retry import is_transient
from tenant_rag.tenancy.sdk_errors import grpc_code_name, http_status


class _Rpc(grpc.RpcError):
    """A gRPC error as the channel raises it: ``code()`` names the status."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


def _wrapped(code: grpc.StatusCode) -> PineconeException:
    """What GRPCIndex raises: a bare PineconeException caused by the RpcError."""
    try:
        raise PineconeException("grpc call failed") from _Rpc(code)
    except PineconeException as exc:
        return exc


@pytest.mark.parametrize(
    "code, status, transient",
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400, False),
        (grpc.StatusCode.NOT_FOUND, 404, False),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, True),
        (grpc.StatusCode.UNAVAILABLE, 503, True),
        (grpc.StatusCode.UNIMPLEMENTED, 501, False),  # a 501 over REST retries; this never can
        (grpc.StatusCode.DEADLINE_EXCEEDED, None, True),
        (grpc.StatusCode.ABORTED, None, True),
        (grpc.StatusCode.INTERNAL, 500, True),  # as REST's 500
    ],
)
def test_grpc_errors_read_as_their_http_status_and_retry_by_code(
    code: grpc.StatusCode, status: int | None, transient: bool
) -> None:
    for exc in (_Rpc(code), _wrapped(code)):
        assert grpc_code_name(exc) == code.name
        assert http_status(exc) == status
        assert is_transient(exc) is transient


def test_rest_errors_read_as_their_own_status() -> None:
    assert http_status(NotFoundException(status=404, reason="Not Found")) == 404
    assert http_status(PineconeApiException(status=429, reason="Too Many")) == 429
    assert grpc_code_name(PineconeApiException(status=429, reason="x")) is None
    assert http_status(ValueError("no status")) is None

    class AsyncError(Exception):  # aiohttp-style
        status_code = "503"

    assert http_status(AsyncError()) == 503 and is_transient(AsyncError())


def test_a_real_grpc_refusal_reads_as_400_and_is_not_retried(
    shared_local_server: LocalServer,
) -> None:
    name = f"errs-{uuid.uuid4().hex[:10]}"
    ensure_index(shared_local_server.client(), name, dimension=8)
    index: Any = shared_local_server.grpc_index(name)
    with pytest.raises(Exception) as info:
        index.upsert(vectors=[("a", [0.1] * 9)], namespace="t")  # wrong dimension
    assert grpc_code_name(info.value) == "INVALID_ARGUMENT"
    assert http_status(info.value) == 400 and not is_transient(info.value)
