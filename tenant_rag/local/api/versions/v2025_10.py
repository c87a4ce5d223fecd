"""API version 2025-10 (pinecone 8.x and 9.x): what changed from 2025-04.

* Data plane: ``fetch_by_metadata``, ``create_namespace``, update by metadata
  filter (answering ``matchedRecords``, with ``dryRun``), namespace listing by
  ``prefix`` with ``total_count``; ``describe_index_stats`` keys the default
  namespace as ``"__default__"``.
* Control plane: serverless specs carry ``read_capacity`` (required in the
  answer). The local server has on-demand capacity only, so it reports
  ``{"mode": "OnDemand", "status": {"state": "Ready"}}`` and refuses a request
  for dedicated read nodes rather than pretend to provision them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tenant_rag.local.api.versions.v2025_04 import (
    CREATE_NAMESPACE,
    FETCH_BY_METADATA,
    NAMESPACE_PREFIX,
    UPDATE_BY_FILTER,
    Api2025_04,
)
from tenant_rag.local.engine.errors import bad_request
from tenant_rag.local.storage import IndexDef

ON_DEMAND: dict[str, Any] = {"mode": "OnDemand", "status": {"state": "Ready"}}


def check_read_capacity(rc: Any, where: str) -> None:
    """Accept on-demand read capacity (the only kind served here); refuse dedicated."""
    if rc is None:
        return
    if not isinstance(rc, dict):
        raise bad_request(f"{where} must be an object such as {{'mode': 'OnDemand'}}")
    mode = rc.get("mode", "OnDemand")
    if mode == "OnDemand":
        return
    if mode == "Dedicated":
        raise bad_request(
            f"{where}: dedicated read capacity is not available on the local server, which "
            "serves every index on demand; omit read_capacity or use {'mode': 'OnDemand'}"
        )
    raise bad_request(f"{where}.mode must be 'OnDemand' or 'Dedicated', got {mode!r}")


class Api2025_10(Api2025_04):
    """The 2025-10 request and response shapes."""

    name: ClassVar[str] = "2025-10"
    features: ClassVar[frozenset[str]] = frozenset(
        {FETCH_BY_METADATA, CREATE_NAMESPACE, UPDATE_BY_FILTER, NAMESPACE_PREFIX}
    )

    def _serverless_spec(self, d: IndexDef) -> dict[str, Any]:
        return {"cloud": d.cloud, "region": d.region, "read_capacity": ON_DEMAND}

    def create_request(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        spec = body.get("spec")
        serverless = spec.get("serverless") if isinstance(spec, dict) else None
        if isinstance(serverless, dict):
            check_read_capacity(serverless.get("read_capacity"), "spec.serverless.read_capacity")
        return body, None

    def configure_request(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = body.get("spec")
        serverless = spec.get("serverless") if isinstance(spec, dict) else None
        if isinstance(serverless, dict):
            check_read_capacity(serverless.get("read_capacity"), "spec.serverless.read_capacity")
        return super().configure_request(body)

    def stats_namespace_key(self, ns: str) -> str:
        """From 2025-10 the default namespace is keyed by its name, ``"__default__"``."""
        return ns

    def namespace_description(
        self, name: str, record_count: int, schema: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Adds the metadata ``schema`` a namespace was created with, if any."""
        body = super().namespace_description(name, record_count)
        if schema is not None:
            body["schema"] = schema
        return body

    def namespace_list(
        self,
        page: list[tuple[str, int, dict[str, Any] | None]],
        next_token: str | None,
        total: int,
    ) -> dict[str, Any]:
        body = super().namespace_list(page, next_token, total)
        body["total_count"] = total
        return body

    def update_response(self, matched: int | None) -> dict[str, Any]:
        """``matchedRecords`` answers an update by filter; an update by id reports none."""
        return {} if matched is None else {"matchedRecords": matched}
