"""gRPC data plane: Pinecone's own ``VectorService`` servicer, over the same engine as REST.

One gRPC port serves every index. The SDK sends the index name as the
``service-name`` invocation metadata (``PineconeGRPC().Index(name=...)``), so we
route on it; when it is empty and exactly one index exists, that index is used.
The ``api-key`` metadata is checked like REST's header, in constant time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from pinecone.core.grpc.protos import db_data_2025_04_pb2 as pb
from pinecone.core.grpc.protos.db_data_2025_04_pb2_grpc import (
    VectorServiceServicer,
    add_VectorServiceServicer_to_server,
)

from tenant_rag.local.api.auth import UNAUTHENTICATED_MESSAGE, key_ok
from tenant_rag.local.engine import ApiError, Engine, IndexEngine
from tenant_rag.local.engine.errors import bad_request
from tenant_rag.local.engine.limits import MAX_REQUEST_BYTES
from tenant_rag.local.engine.validation import namespace_name

log = logging.getLogger("tenant_rag.local")
T = TypeVar("T")

_STATUS: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
}


def _struct_to_dict(msg: Struct) -> dict[str, Any]:
    return json_format.MessageToDict(msg)


def _dict_to_struct(d: dict[str, Any]) -> Struct:
    s = Struct()
    s.update(d)
    return s


def _sparse_in(msg: Any, field: str) -> dict[str, Any] | None:
    if not msg.HasField(field):
        return None
    sv = getattr(msg, field)
    return {"indices": list(sv.indices), "values": list(sv.values)}


def _sparse_out(d: dict[str, Any] | None) -> pb.SparseValues | None:
    if not d:
        return None
    return pb.SparseValues(indices=d["indices"], values=d["values"])


class VectorService(VectorServiceServicer):
    """Translate protobuf requests to engine calls and engine results back to protobuf."""

    def __init__(self, engine: Engine, api_key: str | None) -> None:
        self.engine = engine
        self.api_key = api_key

    def _call(
        self, request: Any, context: grpc.ServicerContext, fn: Callable[[IndexEngine], T]
    ) -> T:
        meta = dict(context.invocation_metadata())
        if not key_ok(self.api_key, meta.get("api-key")):  # type: ignore[arg-type]
            context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
        try:
            if request.ByteSize() > MAX_REQUEST_BYTES:
                raise bad_request(
                    f"request is {request.ByteSize()} bytes; the limit is {MAX_REQUEST_BYTES} (2 MB)"
                )
            return fn(self._index(str(meta.get("service-name") or "")))
        except ApiError as exc:
            context.abort(_STATUS.get(exc.status, grpc.StatusCode.UNKNOWN), exc.message)
        raise AssertionError("unreachable")  # context.abort raises

    def _index(self, name: str) -> IndexEngine:
        if not name:
            defs = self.engine.list_indexes()
            if len(defs) != 1:
                raise bad_request(
                    "no index named: connect with PineconeGRPC(...).Index(name=<index>, "
                    "host=<grpc_target>, grpc_config=GRPCClientConfig(secure=False))"
                )
            name = defs[0].name
        return self.engine.index(name)

    def Upsert(self, request: Any, context: Any) -> Any:
        vectors = [
            {
                "id": vec.id,
                "values": list(vec.values),
                "sparseValues": _sparse_in(vec, "sparse_values"),
                "metadata": _struct_to_dict(vec.metadata) if vec.HasField("metadata") else None,
            }
            for vec in request.vectors
        ]
        n = self._call(request, context, lambda ix: ix.upsert(request.namespace, vectors))
        return pb.UpsertResponse(upserted_count=n)

    def Query(self, request: Any, context: Any) -> Any:
        if len(request.queries):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "'queries' is not supported")
        flt = _struct_to_dict(request.filter) if request.HasField("filter") else None
        res = self._call(
            request,
            context,
            lambda ix: ix.query(
                request.namespace,
                request.top_k,
                vector=list(request.vector) or None,
                sparse_vector=_sparse_in(request, "sparse_vector"),
                rid=request.id or None,
                flt=flt,
                include_values=request.include_values,
                include_metadata=request.include_metadata,
            ),
        )
        matches = []
        for m in res["matches"]:
            sv = pb.ScoredVector(id=m["id"], score=m["score"], values=m["values"])
            if m["metadata"]:
                sv.metadata.CopyFrom(_dict_to_struct(m["metadata"]))
            sp = _sparse_out(m.get("sparseValues"))
            if sp is not None:
                sv.sparse_values.CopyFrom(sp)
            matches.append(sv)
        return pb.QueryResponse(
            matches=matches,
            namespace=res["namespace"],
            usage=pb.Usage(read_units=res["usage"]["readUnits"]),
        )

    def Fetch(self, request: Any, context: Any) -> Any:
        res = self._call(
            request, context, lambda ix: ix.fetch(request.namespace, list(request.ids))
        )
        out = pb.FetchResponse(
            namespace=res["namespace"], usage=pb.Usage(read_units=res["usage"]["readUnits"])
        )
        for rid, rec in res["vectors"].items():
            vec = pb.Vector(id=rid, values=rec["values"])
            if rec.get("metadata"):
                vec.metadata.CopyFrom(_dict_to_struct(rec["metadata"]))
            sp = _sparse_out(rec.get("sparseValues"))
            if sp is not None:
                vec.sparse_values.CopyFrom(sp)
            out.vectors[rid].CopyFrom(vec)
        return out

    def Update(self, request: Any, context: Any) -> Any:
        md = _struct_to_dict(request.set_metadata) if request.HasField("set_metadata") else None
        self._call(
            request,
            context,
            lambda ix: ix.update(
                request.namespace,
                request.id,
                list(request.values) or None,
                _sparse_in(request, "sparse_values"),
                md,
            ),
        )
        return pb.UpdateResponse()

    def Delete(self, request: Any, context: Any) -> Any:
        flt = _struct_to_dict(request.filter) if request.HasField("filter") else None
        ids = list(request.ids) or None
        self._call(
            request,
            context,
            lambda ix: ix.delete(request.namespace, ids, request.delete_all, flt),
        )
        return pb.DeleteResponse()

    def List(self, request: Any, context: Any) -> Any:
        ids, nxt = self._call(
            request,
            context,
            lambda ix: ix.list_ids(
                request.namespace,
                request.prefix if request.HasField("prefix") else None,
                request.limit if request.HasField("limit") else None,
                request.pagination_token if request.HasField("pagination_token") else None,
            ),
        )
        out = pb.ListResponse(
            vectors=[pb.ListItem(id=i) for i in ids],
            namespace=namespace_name(request.namespace),
            usage=pb.Usage(read_units=1),
        )
        if nxt is not None:
            out.pagination.CopyFrom(pb.Pagination(next=nxt))
        return out

    def DescribeIndexStats(self, request: Any, context: Any) -> Any:
        flt = _struct_to_dict(request.filter) if request.HasField("filter") else None
        res = self._call(request, context, lambda ix: ix.describe_stats(flt))
        out = pb.DescribeIndexStatsResponse(
            index_fullness=res["indexFullness"],
            total_vector_count=res["totalVectorCount"],
            metric=res["metric"],
            vector_type=res["vectorType"],
        )
        if res["dimension"] is not None:
            out.dimension = res["dimension"]
        for ns, summary in res["namespaces"].items():
            out.namespaces[ns].vector_count = summary["vectorCount"]
        return out

    def ListNamespaces(self, request: Any, context: Any) -> Any:
        limit = max(request.limit if request.HasField("limit") else 100, 1)
        after = request.pagination_token if request.HasField("pagination_token") else ""
        page, last = self._call(
            request, context, lambda ix: ix.namespace_page(after or None, limit)
        )
        out = pb.ListNamespacesResponse(
            namespaces=[pb.NamespaceDescription(name=n, record_count=c) for n, c in page]
        )
        if last is not None:
            out.pagination.CopyFrom(pb.Pagination(next=last))
        return out

    def DescribeNamespace(self, request: Any, context: Any) -> Any:
        n = self._call(request, context, lambda ix: ix.namespace_count(request.namespace))
        return pb.NamespaceDescription(name=namespace_name(request.namespace), record_count=n)

    def DeleteNamespace(self, request: Any, context: Any) -> Any:
        self._call(request, context, lambda ix: ix.drop_namespace(request.namespace))
        return pb.DeleteResponse()


def serve_grpc(
    engine: Engine,
    host: str,
    port: int,
    api_key: str | None,
    workers: int = 8,
    interceptors: Sequence[Any] = (),
) -> tuple[grpc.Server, int]:
    """Start an insecure gRPC server on ``host:port`` (0 = free port); returns it and its port.

    ``interceptors``: only the test-only fault injection (`tenant_rag.local.faults`).
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tenant-rag-grpc"),
        interceptors=list(interceptors),
        options=[
            ("grpc.max_receive_message_length", 4 * MAX_REQUEST_BYTES),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ],
    )
    add_VectorServiceServicer_to_server(VectorService(engine, api_key), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise RuntimeError(f"tenant_rag.local: could not bind gRPC to {host}:{port}")
    server.start()
    return server, bound
