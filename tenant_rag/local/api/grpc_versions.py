"""The API versions the gRPC data plane speaks, chosen per call by ``x-pinecone-api-version``.

Every SDK generation calls the same wire paths (``/VectorService/Upsert``, ...):
Pinecone's ``.proto`` files declare no package, so the service is plain
``VectorService`` in all of them. What differs is the metadata each client sends
and the messages of its version:

| SDK | sends ``x-pinecone-api-version`` | other metadata |
| --- | --- | --- |
| 7.x (grpcio) | ``2025-04`` | ``api-key``, ``service-name`` (the index name), ``client-version`` |
| 8.x (grpcio) | ``2025-10`` | same as 7.x |
| 9.x (Rust, tonic) | ``2025-10`` | ``api-key``, ``x-request-id``, ``user-agent``; no index name |
| 10.x (Rust, tonic) | ``2026-07`` | same as 9.x |

Later versions only add fields and RPCs, so any version's bytes parse with any
later version's classes; still, each call is read and answered with its own
version's messages, so a 2025-04 client never receives a field its API lacks.
A call without the header is served as 2025-04, the oldest supported version, as
Pinecone does for REST; an unknown version is refused with the supported list.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tenant_rag.local.api import versions as rest_versions
from tenant_rag.local.api._grpc_gen import (
    db_data_2025_04_pb2,
    db_data_2025_10_pb2,
    db_data_2026_04_pb2,
    db_data_2026_07_pb2,
)
from tenant_rag.local.api.versions import ApiVersion
from tenant_rag.local.engine.errors import bad_request

VERSION_KEY = "x-pinecone-api-version"
SERVICE = "VectorService"


@dataclass(frozen=True)
class GrpcVersion:
    """One API version's generated messages, the RPCs its ``VectorService`` declares, and
    the REST layer's object for the same version (``rest``), whose rules (how stats key the
    default namespace, say) gRPC shares so the two transports never drift apart.
    2026-04, which no SDK sends, has 2025-10's messages and rules."""

    name: str
    pb: ModuleType
    rest: ApiVersion

    @property
    def methods(self) -> dict[str, Any]:
        """RPC name -> its ``MethodDescriptor`` (input and output message types)."""
        service = self.pb.DESCRIPTOR.services_by_name[SERVICE]
        return {m.name: m for m in service.methods}

    def message(self, name: str) -> Any:
        """The generated class of message ``name`` in this version."""
        return getattr(self.pb, name)


_REST = rest_versions.VERSIONS
VERSIONS: dict[str, GrpcVersion] = {
    v.name: v
    for v in (
        GrpcVersion("2025-04", db_data_2025_04_pb2, _REST["2025-04"]),
        GrpcVersion("2025-10", db_data_2025_10_pb2, _REST["2025-10"]),
        GrpcVersion("2026-04", db_data_2026_04_pb2, _REST["2025-10"]),
        GrpcVersion("2026-07", db_data_2026_07_pb2, _REST["2026-07"]),
    )
}
DEFAULT = VERSIONS["2025-04"]


def resolve(value: str | None) -> GrpcVersion:
    """The version named by the metadata value; None (no metadata) is the default, 2025-04."""
    if value is None:
        return DEFAULT
    version = VERSIONS.get(value.strip())
    if version is None:
        raise bad_request(
            f"Unsupported API version {value!r} in the x-pinecone-api-version metadata. "
            f"The gRPC data plane supports {', '.join(VERSIONS)}; without it, it serves "
            f"{DEFAULT.name}, Pinecone's oldest supported version."
        )
    return version
