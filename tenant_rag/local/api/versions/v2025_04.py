"""API version 2025-04 (pinecone 7.x): the shapes every later version starts from.

Each version is a small object the REST layer asks how to read a request and how
to write an answer; the engine underneath never knows which version a client
speaks. Later versions subclass this one and override only what changed, so a
difference between two versions is one method, found in one file.

Why a class per version rather than ``if version == ...`` in the routes: the
routes stay one copy, and a test can name the exact method that pins a
Pinecone behaviour of one version.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tenant_rag.local.engine.errors import ApiError, bad_request
from tenant_rag.local.engine.limits import DEFAULT_NAMESPACE
from tenant_rag.local.storage import IndexDef

#: Data-plane features, named so a route can ask ``version.supports(...)``.
FETCH_BY_METADATA = "fetch_by_metadata"
CREATE_NAMESPACE = "create_namespace"
UPDATE_BY_FILTER = "update_by_filter"
NAMESPACE_PREFIX = "namespace_prefix"


class Api2025_04:
    """The 2025-04 request and response shapes."""

    name: ClassVar[str] = "2025-04"
    #: Features this version's spec defines beyond 2025-04's.
    features: ClassVar[frozenset[str]] = frozenset()

    def supports(self, feature: str) -> bool:
        return feature in self.features

    def require(self, feature: str, what: str) -> None:
        """404 naming the version that introduced ``what`` when this one lacks it."""
        if not self.supports(feature):
            raise ApiError(
                404,
                "NOT_FOUND",
                f"{what} is not part of API version {self.name}; it was added in 2025-10. "
                "Send the header X-Pinecone-API-Version: 2025-10 (pinecone SDK 8.x or later).",
            )

    # -- control plane ---------------------------------------------------------
    def index_model(self, d: IndexDef, host: str) -> dict[str, Any]:
        """Pinecone's IndexModel; ``host`` keeps its ``http://`` scheme (the SDK needs it)."""
        body: dict[str, Any] = {
            "name": d.name,
            "metric": d.metric,
            "dimension": d.dimension,
            "host": host,
            "spec": {"serverless": self._serverless_spec(d)},
            "status": {"ready": True, "state": "Ready"},
            "deletion_protection": d.deletion_protection,
            "vector_type": d.vector_type,
        }
        if d.tags:  # Pinecone leaves ``tags`` out of an index that has none
            body["tags"] = d.tags
        return body

    def _serverless_spec(self, d: IndexDef) -> dict[str, Any]:
        return {"cloud": d.cloud, "region": d.region}

    def index_list(self, defs: list[IndexDef], host_of: Any) -> dict[str, Any]:
        return {"indexes": [self.index_model(d, host_of(d)) for d in defs]}

    def create_request(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The engine's create body and document schema (2026-07 only; None here).

        2025-04's own shape is the engine's, so the body goes through as is.
        """
        return body, None

    def configure_request(self, body: dict[str, Any]) -> dict[str, Any]:
        """The engine's configure body: ``deletion_protection`` and ``tags``."""
        spec = body.get("spec")
        if isinstance(spec, dict) and spec.get("pod"):
            raise bad_request("pod settings do not apply to a serverless index")
        if body.get("embed") is not None:
            raise bad_request(
                "embed settings apply to indexes with integrated embedding, which the local "
                "server does not support"
            )
        return {k: body[k] for k in ("deletion_protection", "tags") if k in body}

    # -- data plane ------------------------------------------------------------
    def stats_namespace_key(self, ns: str) -> str:
        """``describe_index_stats`` keys the default namespace as ``""`` in 2025-04."""
        return "" if ns == DEFAULT_NAMESPACE else ns

    def namespace_description(
        self, name: str, record_count: int, schema: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Pinecone's REST gateway writes the int64 ``record_count`` as a JSON string."""
        return {"name": name, "record_count": str(record_count)}

    def namespace_list(
        self,
        page: list[tuple[str, int, dict[str, Any] | None]],
        next_token: str | None,
        total: int,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "namespaces": [self.namespace_description(n, c, sc) for n, c, sc in page]
        }
        if next_token is not None:
            body["pagination"] = {"next": next_token}
        return body

    def update_response(self, matched: int | None) -> dict[str, Any]:
        return {}


class UnsupportedVersion(ApiError):
    """An ``X-Pinecone-API-Version`` this server does not serve."""
