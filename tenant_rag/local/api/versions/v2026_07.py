"""API version 2026-07 (pinecone 10.x): the schema-based control plane.

An index is described by ``schema.fields`` (typed fields), ``deployment``
(where it runs), ``read_capacity``, ``status``, ``host``,
``deletion_protection`` and ``tags`` instead of ``dimension``/``metric``/
``spec``. Pinecone's rule for the indexes earlier versions made, which this
module follows both ways:

* a schema whose fields are exactly ``_values`` (``dense_vector``) and/or
  ``_sparse_values`` (``sparse_vector``) is a *classic* vector index, served by
  the vectors API, the same index 2025-04/2025-10 create from ``dimension``,
  ``metric`` and ``vector_type`` (the SDK's legacy ``create_index`` sugar sends
  exactly this);
* a dense classic index is always described with both ``_values`` and
  ``_sparse_values``; a sparse one with ``_sparse_values`` only;
* any other field names make a *document* index, served by the Documents API,
  which the local server does not implement (it answers 501 naming what it
  serves); such an index can still be created, described, configured and
  deleted, and its vector fields appear as ``dimension``/``metric`` to the
  older versions.

The data plane (vectors and namespaces API) keeps 2025-10's shapes.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from tenant_rag.local.api.versions.v2025_10 import ON_DEMAND, Api2025_10, check_read_capacity
from tenant_rag.local.engine.errors import ApiError, bad_request
from tenant_rag.local.storage import IndexDef

DENSE_FIELD = "_values"
SPARSE_FIELD = "_sparse_values"
_CLASSIC_SCHEMAS = ({DENSE_FIELD}, {SPARSE_FIELD}, {DENSE_FIELD, SPARSE_FIELD})
EMPTY_SCHEMA_MESSAGE = (
    "Schema must contain at least one of the following field types: dense_vector, "
    "sparse_vector, string with full_text_search"
)
_METADATA_TYPES = ("float", "number", "boolean", "string_list", "integer")
MAX_FIELD_NAME_BYTES = 64
MAX_DESCRIPTION_BYTES = 256


class Api2026_07(Api2025_10):
    """The 2026-07 request and response shapes."""

    name: ClassVar[str] = "2026-07"

    # -- answers -----------------------------------------------------------------
    def index_model(self, d: IndexDef, host: str) -> dict[str, Any]:
        return {
            "name": d.name,
            "host": host,
            "status": {"ready": True, "state": "Ready"},
            "deployment": {"deployment_type": "managed", "cloud": d.cloud, "region": d.region},
            "read_capacity": ON_DEMAND,
            "schema": {"fields": schema_fields(d)},
            "deletion_protection": d.deletion_protection,
            "tags": d.tags or None,  # 2026-07 answers ``"tags": null`` for an untagged index
        }

    # -- requests ----------------------------------------------------------------
    def create_request(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Translate a schema-based create request into the engine's create body."""
        allowed = {"name", "deployment", "schema", "cmek_id", "read_capacity", "tags"}
        allowed |= {"deletion_protection"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise bad_request(
                f"create_index got unknown field(s) {unknown}; API 2026-07 takes "
                f"{sorted(allowed)} (dimension, metric, vector_type and spec belong to "
                "2025-10 and earlier: declare a schema and a deployment instead)"
            )
        if body.get("cmek_id") is not None:
            raise bad_request(
                "cmek_id: customer-managed encryption keys are not available on the local server"
            )
        check_read_capacity(body.get("read_capacity"), "read_capacity")
        cloud, region = _deployment(body.get("deployment"))
        out: dict[str, Any] = {
            "name": body["name"] if "name" in body else _generated_name(),
            "spec": {"serverless": {"cloud": cloud, "region": region}},
            "deletion_protection": body.get("deletion_protection"),
            "tags": body.get("tags"),
        }
        config = vector_config(body.get("schema"))
        document_schema = config.pop("schema", None)
        out.update(config)
        return out, document_schema

    def configure_request(self, body: dict[str, Any]) -> dict[str, Any]:
        allowed = {"deployment", "schema", "read_capacity", "tags", "deletion_protection"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise bad_request(
                f"configure_index got unknown field(s) {unknown}; API 2026-07 takes "
                f"{sorted(allowed)}"
            )
        if body.get("deployment") is not None:
            raise bad_request(
                "deployment: pod scaling (replicas, pod_type) applies to pod-based indexes; "
                "this index is managed (serverless) and has nothing to scale"
            )
        if body.get("schema") is not None:
            raise bad_request(
                "schema: only semantic_text fields' read_parameters and write_parameters can be "
                "changed after creation, and this index has no semantic_text field"
            )
        check_read_capacity(body.get("read_capacity"), "read_capacity")
        return {k: body[k] for k in ("deletion_protection", "tags") if k in body}


def schema_fields(d: IndexDef) -> dict[str, Any]:
    """``schema.fields`` of ``d``: its declared schema, or the reserved classic fields."""
    if d.schema is not None:
        return d.schema
    if d.vector_type == "sparse":
        return {SPARSE_FIELD: {"type": "sparse_vector", "description": None}}
    return {
        DENSE_FIELD: {
            "type": "dense_vector",
            "dimension": d.dimension,
            "metric": d.metric,
            "description": None,
        },
        SPARSE_FIELD: {"type": "sparse_vector", "description": None},
    }


def vector_config(schema: Any) -> dict[str, Any]:
    """``dimension``/``metric``/``vector_type`` (and ``schema`` for a document index)."""
    if not isinstance(schema, dict) or "fields" not in schema:
        raise bad_request(
            "schema is required: {'fields': {'_values': {'type': 'dense_vector', "
            "'dimension': N, 'metric': 'cosine'}}} for a dense vector index"
        )
    extra = sorted(set(schema) - {"fields"})
    if extra:
        raise bad_request(f"schema has unknown key(s) {extra}; it takes 'fields'")
    fields = schema["fields"]
    if not isinstance(fields, dict):
        raise bad_request("schema.fields must be an object of field name to configuration")
    if not fields:
        raise bad_request(EMPTY_SCHEMA_MESSAGE)
    dense: list[tuple[str, dict[str, Any]]] = []
    sparse: list[str] = []
    declared: dict[str, Any] = {}
    for name, cfg in fields.items():
        declared[name] = _check_field(name, cfg, dense, sparse)
    if len(dense) > 1 or len(sparse) > 1:
        raise bad_request(
            "a schema takes at most one dense_vector and one sparse_vector field; got "
            f"{len(dense)} dense_vector and {len(sparse)} sparse_vector"
        )
    names = set(fields)
    reserved = {n for n in names if n.startswith("_")}
    if reserved and names not in _CLASSIC_SCHEMAS:
        raise bad_request(
            f"schema field name(s) {sorted(reserved)} are reserved; '_values' "
            "(dense_vector) and '_sparse_values' (sparse_vector) are accepted only as the "
            "whole schema, which creates a classic vector index"
        )
    out: dict[str, Any] = {}
    if dense:
        dcfg = dense[0][1]
        out.update(vector_type="dense", dimension=dcfg["dimension"], metric=dcfg["metric"])
    else:
        out.update(vector_type="sparse", metric="dotproduct")
    if names not in _CLASSIC_SCHEMAS:
        out["schema"] = declared
    return out


def _check_field(
    name: Any, cfg: Any, dense: list[tuple[str, dict[str, Any]]], sparse: list[str]
) -> dict[str, Any]:
    if not isinstance(name, str) or not name or len(name.encode()) > MAX_FIELD_NAME_BYTES:
        raise bad_request(
            f"schema field name {name!r} must be a non-empty string of at most "
            f"{MAX_FIELD_NAME_BYTES} bytes"
        )
    if name.startswith("$"):
        raise bad_request(
            f"schema field name {name!r} must not start with '$', which introduces a "
            "filter operator"
        )
    if not isinstance(cfg, dict):
        raise bad_request(f"schema.fields[{name!r}] must be an object with a 'type'")
    kind = cfg.get("type")
    description = cfg.get("description")
    if description is not None:
        if name.startswith("_"):
            raise bad_request(f"reserved field {name!r} does not accept a description")
        if not isinstance(description, str) or len(description.encode()) > MAX_DESCRIPTION_BYTES:
            raise bad_request(
                f"schema.fields[{name!r}].description must be a string of at most "
                f"{MAX_DESCRIPTION_BYTES} bytes"
            )
    if kind == "dense_vector":
        dim, metric = cfg.get("dimension"), cfg.get("metric")
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 20_000:
            raise bad_request(
                f"schema.fields[{name!r}].dimension must be an integer between 1 and 20000, "
                f"got {dim!r}"
            )
        if metric not in ("cosine", "dotproduct", "euclidean"):
            raise bad_request(
                f"schema.fields[{name!r}].metric must be one of cosine, dotproduct, "
                f"euclidean, got {metric!r}"
            )
        dense.append((name, cfg))
        return {"type": kind, "dimension": dim, "metric": metric, "description": description}
    if kind == "sparse_vector":
        sparse.append(name)
        return {"type": kind, "description": description}
    if kind == "string" and cfg.get("full_text_search") is not None:
        raise _not_implemented(
            f"schema.fields[{name!r}]: full-text search fields are not implemented by the "
            "local server; it serves dense_vector and sparse_vector fields"
        )
    if kind == "semantic_text":
        raise bad_request(
            f"schema.fields[{name!r}]: semantic_text cannot be declared in a schema; "
            "create an index with integrated embedding through create-for-model"
        )
    if kind in _METADATA_TYPES or kind == "string":
        raise bad_request(
            f"schema.fields[{name!r}]: {kind} is a metadata type and is not declared in "
            "the schema; include the values as metadata and they are indexed for filtering "
            "automatically"
        )
    raise bad_request(
        f"schema.fields[{name!r}].type must be dense_vector, sparse_vector or string "
        f"(with full_text_search), got {kind!r}"
    )


def _deployment(dep: Any) -> tuple[str, str]:
    """(cloud, region) of a managed deployment; aws/us-east-1 when omitted, as Pinecone."""
    if dep is None:
        return "aws", "us-east-1"
    if not isinstance(dep, dict):
        raise bad_request("deployment must be an object with a deployment_type")
    kind = dep.get("deployment_type")
    if kind != "managed":
        raise bad_request(
            f"deployment_type {kind!r} is not supported by the local server; use "
            "{'deployment_type': 'managed', 'cloud': ..., 'region': ...} (serverless)"
        )
    cloud, region = dep.get("cloud"), dep.get("region")
    if not isinstance(cloud, str) or not isinstance(region, str):
        raise bad_request("a managed deployment needs string 'cloud' and 'region'")
    return cloud, region


def _generated_name() -> str:
    """2026-07 generates a name when the request has none."""
    return f"index-{uuid.uuid4().hex[:12]}"


def _not_implemented(message: str) -> ApiError:
    return ApiError(501, "UNIMPLEMENTED", message)
