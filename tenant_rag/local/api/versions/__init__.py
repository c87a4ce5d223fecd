"""The Pinecone API versions the REST layer serves, chosen per request by header.

Pinecone versions its API by date and reads the version from the
``X-Pinecone-API-Version`` header (headers are case-insensitive; the SDKs spell
it ``X-Pinecone-Api-Version`` or ``X-Pinecone-API-Version``). Pinecone's
documentation: "If you don't [specify a version], requests default to the oldest
supported stable version" (docs.pinecone.io/reference/api/versioning), which
here is 2025-04. An unknown version is a 400 naming the supported ones.

One engine serves every version: a version is an object (one small module
each) that reads its own request shapes into the engine's and writes the
engine's answers in its own shapes. Routes get it with ``version_of(request)``;
a router added elsewhere (backups, say) does the same.
"""

from __future__ import annotations

from typing import Any

from tenant_rag.local.api.versions.v2025_04 import (
    CREATE_NAMESPACE,
    FETCH_BY_METADATA,
    NAMESPACE_PREFIX,
    UPDATE_BY_FILTER,
    Api2025_04,
)
from tenant_rag.local.api.versions.v2025_10 import Api2025_10
from tenant_rag.local.api.versions.v2026_07 import Api2026_07
from tenant_rag.local.engine.errors import ApiError

ApiVersion = Api2025_04  # the base class every version derives from

VERSIONS: dict[str, ApiVersion] = {v.name: v for v in (Api2025_04(), Api2025_10(), Api2026_07())}
SUPPORTED: tuple[str, ...] = tuple(VERSIONS)
DEFAULT: ApiVersion = VERSIONS["2025-04"]
#: The header, lower-cased as ASGI delivers header names.
HEADER = b"x-pinecone-api-version"
#: Where the middleware leaves the resolved version in the ASGI scope.
SCOPE_KEY = "tenant_rag.api_version"

__all__ = [
    "CREATE_NAMESPACE",
    "DEFAULT",
    "FETCH_BY_METADATA",
    "HEADER",
    "NAMESPACE_PREFIX",
    "SCOPE_KEY",
    "SUPPORTED",
    "UPDATE_BY_FILTER",
    "VERSIONS",
    "ApiVersion",
    "resolve",
    "version_of",
]


def resolve(raw: bytes | str | None) -> ApiVersion:
    """The version a header value names; ``None`` (no header) gets the default."""
    if raw is None:
        return DEFAULT
    name = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    version = VERSIONS.get(name.strip())
    if version is None:
        raise ApiError(
            400,
            "INVALID_ARGUMENT",
            f"Unsupported API version {name!r} in the X-Pinecone-API-Version header. "
            f"This server supports {', '.join(SUPPORTED)}; without the header it serves "
            f"{DEFAULT.name}, as Pinecone serves its oldest supported version.",
        )
    return version


def version_of(request: Any) -> ApiVersion:
    """The version the middleware resolved for ``request`` (a Starlette Request or a scope)."""
    scope = request.scope if hasattr(request, "scope") else request
    version: ApiVersion = scope.get(SCOPE_KEY, DEFAULT)
    return version
