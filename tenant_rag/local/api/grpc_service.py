"""gRPC data plane: Pinecone's ``VectorService`` for every API version, over the same engine as REST.

The messages are generated in this repository from Pinecone's ``.proto`` files
(``api/_grpc_gen``, see ``grpc_versions``); nothing of the client SDK is
imported. One generic handler answers Pinecone's wire paths
(``/VectorService/<Method>``): it reads the version from the
``x-pinecone-api-version`` metadata, parses the request with that version's
message class and answers with that version's response class.

Which index a call is for:

* SDK 7.x and 8.x send the index name as ``service-name`` metadata
  (``PineconeGRPC().Index(name=...)``), so one shared port serves every index;
* SDK 9.x and 10.x send nothing that names the index: Pinecone tells indexes
  apart by host. Here each index can have a port of its own
  (`GrpcPlane.index_port`), whose calls all go to that index;
* a call naming no index on the shared port goes to the only index, if exactly one exists.

The ``api-key`` metadata is checked like REST's header, in constant time; a wrong
key is ``PERMISSION_DENIED`` "Wrong API key", the status behind the REST data
plane's 403 (its body's ``code`` 7).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from tenant_rag.local.api import grpc_encode, grpc_versions
from tenant_rag.local.api.auth import WRONG_KEY_MESSAGE, key_ok
from tenant_rag.local.api.grpc_versions import GrpcVersion
from tenant_rag.local.engine import ApiError, Engine, IndexEngine
from tenant_rag.local.engine.errors import bad_request, short
from tenant_rag.local.engine.limits import MAX_FILTER_DEPTH, MAX_REQUEST_BYTES

_STATUS: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
    412: grpc.StatusCode.FAILED_PRECONDITION,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
}
#: Message nesting the protobuf runtime's decoder (upb) accepts; deeper bytes do not parse.
PROTOBUF_MAX_DEPTH = 100

#: An RPC's body: (version, request message, index) -> response message of that version.
Rpc = Callable[[GrpcVersion, Any, IndexEngine], Any]
#: RPCs that serve every index, document indexes (API 2026-07) included, as over REST;
#: the others are the vectors API, which refuses a document index.
ANY_INDEX_RPCS = frozenset(
    {
        "DescribeIndexStats",
        "ListNamespaces",
        "DescribeNamespace",
        "DeleteNamespace",
        "CreateNamespace",
    }
)


def _struct_to_dict(msg: Any, what: str = "filter or metadata") -> dict[str, Any]:
    """A Struct (filter, metadata) as a dict; 400 for what JSON cannot carry (NaN, infinity)."""
    try:
        return json_format.MessageToDict(msg)
    except (json_format.Error, ValueError) as exc:
        raise bad_request(
            f"{what} holds a value that JSON cannot carry: {short(str(exc))}. Numbers in "
            "filters and metadata must be finite."
        ) from None


def _sparse_in(msg: Any, field: str) -> dict[str, Any] | None:
    if not msg.HasField(field):
        return None
    sv = getattr(msg, field)
    return {"indices": list(sv.indices), "values": list(sv.values)}


def _set_record(out: Any, rec: dict[str, Any]) -> None:
    """Copy a record's metadata and sparse values into a ``Vector``/``ScoredVector``.

    Metadata is set only when the record has some: an absent Struct is what the
    SDKs read back as ``metadata=None``, as Pinecone answers.
    """
    md = rec.get("metadata")
    if md:
        out.metadata.update(md)
    sp = rec.get("sparseValues")
    if sp:
        out.sparse_values.indices.extend(sp["indices"])
        out.sparse_values.values.extend(sp["values"])


def _fill_fetched(out: Any, res: dict[str, Any]) -> None:
    """Copy a fetch answer's records and read units into a Fetch(ByMetadata)Response."""
    out.usage.read_units = res["usage"]["readUnits"]
    for rid, rec in res["vectors"].items():
        vec = out.vectors[rid]
        vec.id = rid
        vec.values.extend(rec["values"])
        _set_record(vec, rec)


def _fetched_bytes(v: GrpcVersion, namespace: str, res: dict[str, Any]) -> bytes:
    """A fetch answer (``as_arrays``) as the bytes of its Fetch(ByMetadata)Response."""
    records = {
        rid: (rec["values"], rec.get("sparseValues"), rec.get("metadata"))
        for rid, rec in res["vectors"].items()
    }
    pagination = res.get("pagination")
    return grpc_encode.fetch_response(
        records,
        namespace,
        res["usage"]["readUnits"],
        v.message("SparseValues"),
        next_token=pagination["next"] if pagination else None,
    )


def _serialize(answer: Any) -> bytes:
    """An RPC's answer as bytes: a message serialized, bytes (`grpc_encode`) as they are."""
    return answer if type(answer) is bytes else answer.SerializeToString()


def _optional(msg: Any, field: str) -> Any:
    return getattr(msg, field) if msg.HasField(field) else None


class VectorService:
    """The RPC bodies: protobuf request -> engine call -> protobuf response of the caller's version."""

    def __init__(self, engine: Engine, api_key: str | None) -> None:
        self.engine = engine
        self.api_key = api_key
        self.rpcs: dict[str, Rpc] = {
            "Upsert": self.upsert,
            "Query": self.query,
            "Fetch": self.fetch,
            "Update": self.update,
            "Delete": self.delete,
            "List": self.list_ids,
            "DescribeIndexStats": self.describe_index_stats,
            "ListNamespaces": self.list_namespaces,
            "DescribeNamespace": self.describe_namespace,
            "DeleteNamespace": self.delete_namespace,
            "CreateNamespace": self.create_namespace,
            "FetchByMetadata": self.fetch_by_metadata,
        }

    # -- dispatch ----------------------------------------------------------
    def run(
        self,
        rpc: Rpc,
        version: GrpcVersion,
        request: Any,
        context: grpc.ServicerContext,
        bound_index: str | None,
        vectors_api: bool = True,
    ) -> Any:
        """Check the key and the size, find the index, run ``rpc``; ``ApiError`` -> gRPC status.

        ``vectors_api`` RPCs refuse a document index (API 2026-07), as over REST.
        """
        meta = dict(context.invocation_metadata())
        if not key_ok(self.api_key, meta.get("api-key")):  # type: ignore[arg-type]
            context.abort(grpc.StatusCode.PERMISSION_DENIED, WRONG_KEY_MESSAGE)
        try:
            size = request.ByteSize()
            if size > MAX_REQUEST_BYTES:
                raise bad_request(
                    f"request is {size} bytes; the limit is {MAX_REQUEST_BYTES} (2 MB)"
                )
            name = bound_index or str(meta.get("service-name") or "")
            return rpc(version, request, self._index(name, vectors_api))
        except ApiError as exc:
            context.abort(_STATUS.get(exc.status, grpc.StatusCode.UNKNOWN), exc.message)
        except RecursionError:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request nests too deep; a filter may nest $and/$or at most "
                f"{MAX_FILTER_DEPTH} levels and metadata must be flat",
            )
        raise AssertionError("unreachable")  # context.abort raises

    def refuse(self, context: grpc.ServicerContext, message: str) -> None:
        """Check the key (a wrong one is still PERMISSION_DENIED), then INVALID_ARGUMENT."""
        meta = dict(context.invocation_metadata())
        if not key_ok(self.api_key, meta.get("api-key")):  # type: ignore[arg-type]
            context.abort(grpc.StatusCode.PERMISSION_DENIED, WRONG_KEY_MESSAGE)
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)

    def _index(self, name: str, vectors_api: bool) -> IndexEngine:
        if not name:
            defs = self.engine.list_indexes()
            if len(defs) != 1:
                raise bad_request(
                    f"this call names no index and the server holds {len(defs)}. "
                    "SDK 7.x/8.x: PineconeGRPC(...).Index(name=<index>, host=<grpc_target>). "
                    "SDK 9.x/10.x send no index name: connect to the index's own gRPC port "
                    "(LocalServer.grpc_index_target(<index>))."
                )
            name = defs[0].name
        return self.engine.vector_index(name) if vectors_api else self.engine.index(name)

    # -- vectors -----------------------------------------------------------
    def upsert(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        vectors = [
            {
                "id": vec.id,
                "values": list(vec.values),
                "sparseValues": _sparse_in(vec, "sparse_values"),
                "metadata": _struct_to_dict(vec.metadata, f"metadata of vector {short(vec.id)}")
                if vec.HasField("metadata")
                else None,
            }
            for vec in req.vectors
        ]
        n = ix.upsert(req.namespace, vectors)
        return v.message("UpsertResponse")(upserted_count=n)

    def query(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        if len(req.queries):
            raise bad_request("the deprecated 'queries' field is not supported; send one query")
        res = ix.query(
            req.namespace,
            req.top_k,
            vector=list(req.vector) or None,
            sparse_vector=_sparse_in(req, "sparse_vector"),
            rid=req.id or None,
            flt=_struct_to_dict(req.filter, "filter") if req.HasField("filter") else None,
            include_values=req.include_values,
            include_metadata=req.include_metadata,
        )
        out = v.message("QueryResponse")(namespace=req.namespace)
        out.usage.read_units = res["usage"]["readUnits"]
        for m in res["matches"]:
            scored = out.matches.add(id=m["id"], score=m["score"], values=m["values"])
            _set_record(scored, m)
        return out

    def fetch(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        # encoded from the stored rows (`grpc_encode`): the message `_fill_fetched` would build
        res = ix.fetch(req.namespace, list(req.ids), as_arrays=True)
        return _fetched_bytes(v, req.namespace, res)

    def fetch_by_metadata(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        res = ix.fetch_by_metadata(
            req.namespace,
            _struct_to_dict(req.filter) if req.HasField("filter") else None,
            _optional(req, "limit"),
            _optional(req, "pagination_token"),
            as_arrays=True,
        )
        return _fetched_bytes(v, req.namespace, res)

    def update(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        md = (
            _struct_to_dict(req.set_metadata, "set_metadata")
            if req.HasField("set_metadata")
            else None
        )
        if "filter" in req.DESCRIPTOR.fields_by_name and req.HasField("filter"):
            if req.id:
                raise bad_request("update takes either id or filter, not both")
            if len(req.values) or req.HasField("sparse_values"):
                raise bad_request(
                    "an update by filter changes metadata only; values and sparse_values "
                    "belong to an update by id"
                )
            matched = ix.update_by_filter(
                req.namespace, _struct_to_dict(req.filter), md, bool(req.dry_run)
            )
            return v.message("UpdateResponse")(matched_records=matched)
        ix.update(
            req.namespace,
            req.id,
            list(req.values) or None,
            _sparse_in(req, "sparse_values"),
            md,
        )
        return v.message("UpdateResponse")()  # an update by id reports no matched_records

    def delete(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        flt = _struct_to_dict(req.filter) if req.HasField("filter") else None
        ix.delete(req.namespace, list(req.ids) or None, req.delete_all, flt)
        return v.message("DeleteResponse")()

    def list_ids(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        ids, nxt = ix.list_ids(
            req.namespace,
            _optional(req, "prefix"),
            _optional(req, "limit"),
            _optional(req, "pagination_token"),
        )
        out = v.message("ListResponse")(
            vectors=[v.message("ListItem")(id=i) for i in ids], namespace=req.namespace
        )
        out.usage.read_units = 1
        if nxt is not None:  # absent on the last page, as over REST
            out.pagination.next = nxt
        return out

    def describe_index_stats(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        flt = _struct_to_dict(req.filter) if req.HasField("filter") else None
        res = ix.describe_stats(flt)
        out = v.message("DescribeIndexStatsResponse")(
            index_fullness=res["indexFullness"],
            total_vector_count=res["totalVectorCount"],
            metric=res["metric"],
            vector_type=res["vectorType"],
        )
        if res["dimension"] is not None:
            out.dimension = res["dimension"]
        for ns, summary in res["namespaces"].items():
            out.namespaces[v.rest.stats_namespace_key(ns)].vector_count = summary["vectorCount"]
        return out

    # -- namespaces ----------------------------------------------------------
    def list_namespaces(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        has_prefix = "prefix" in req.DESCRIPTOR.fields_by_name  # from 2025-10
        prefix = (_optional(req, "prefix") if has_prefix else None) or ""
        page, nxt, total = ix.namespace_page(
            prefix, _optional(req, "limit"), _optional(req, "pagination_token")
        )
        out = v.message("ListNamespacesResponse")(
            namespaces=[_namespace(v, n, c, schema) for n, c, schema in page]
        )
        if nxt is not None:
            out.pagination.next = nxt
        if "total_count" in out.DESCRIPTOR.fields_by_name:
            out.total_count = total
        return out

    def describe_namespace(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        n = ix.namespace_count(req.namespace)
        return _namespace(v, req.namespace, n, ix.namespace_schema(req.namespace))

    def delete_namespace(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        ix.drop_namespace(req.namespace)
        return v.message("DeleteResponse")()

    def create_namespace(self, v: GrpcVersion, req: Any, ix: IndexEngine) -> Any:
        schema = (
            json_format.MessageToDict(req.schema, preserving_proto_field_name=True)
            if req.HasField("schema")
            else None
        )
        ix.create_namespace(req.name, schema)
        return _namespace(v, req.name, 0, schema)


def _namespace(v: GrpcVersion, name: str, count: int, schema: dict[str, Any] | None) -> Any:
    """A ``NamespaceDescription``; its metadata ``schema`` where the version has the field."""
    out = v.message("NamespaceDescription")(name=name, record_count=count)
    if schema is not None and "schema" in out.DESCRIPTOR.fields_by_name:
        json_format.ParseDict(schema, out.schema)
    return out


class _Undecodable:
    """Stands for request bytes that do not parse as the method's message."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def message(self) -> str:
        return (
            f"the request is not a valid {self.type_name} message: it is malformed, a string "
            "field (an id, a namespace) is not valid UTF-8, or it nests more than "
            f"{PROTOBUF_MAX_DEPTH} message levels, protocol buffers' limit (a filter or "
            "metadata Struct reaches it at about 18 levels of $and/$or)"
        )


class _Router(grpc.GenericRpcHandler):
    """Maps ``/VectorService/<Method>`` + the caller's API version to a handler.

    ``bound_index`` is the index of a per-index port (None on the shared port).
    Handlers are built once per (version, method), on first use.
    """

    def __init__(self, vectors: VectorService, bound_index: str | None) -> None:
        self.vectors = vectors
        self.bound_index = bound_index
        self._handlers: dict[tuple[str, str], grpc.RpcMethodHandler] = {}
        self._lock = threading.Lock()

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        prefix = f"/{grpc_versions.SERVICE}/"
        method: str = details.method  # type: ignore[attr-defined]
        if not method.startswith(prefix):
            return None  # grpc answers UNIMPLEMENTED
        name = method[len(prefix) :]
        rpc = self.vectors.rpcs.get(name)
        if rpc is None:
            return None
        meta = dict(details.invocation_metadata)  # type: ignore[attr-defined]
        try:
            version = grpc_versions.resolve(meta.get(grpc_versions.VERSION_KEY))
        except ApiError as exc:
            return self._refusal(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        key = (version.name, name)
        handler = self._handlers.get(key)
        if handler is None:
            with self._lock:
                handler = self._handlers.get(key) or self._build(version, name, rpc)
                self._handlers[key] = handler
        return handler

    def _build(self, version: GrpcVersion, name: str, rpc: Rpc) -> grpc.RpcMethodHandler:
        desc = version.methods.get(name)
        if desc is None:
            return self._refusal(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{name} is not part of API version {version.name}; send "
                "x-pinecone-api-version 2025-10 or later (pinecone SDK 8.x or later)",
            )
        request_cls = version.message(desc.input_type.name)
        vectors, bound = self.vectors, self.bound_index
        vectors_api = name not in ANY_INDEX_RPCS

        def deserialize(data: bytes) -> Any:
            # grpcio answers INTERNAL ("Exception deserializing request!") when this raises;
            # bytes that are not a valid message are the caller's fault: INVALID_ARGUMENT.
            try:
                return request_cls.FromString(data)
            except (DecodeError, RecursionError):
                return _Undecodable(desc.input_type.name)

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            if isinstance(request, _Undecodable):
                vectors.refuse(context, request.message())
            return vectors.run(rpc, version, request, context, bound, vectors_api)

        return grpc.unary_unary_rpc_method_handler(
            call,
            request_deserializer=deserialize,
            response_serializer=_serialize,
        )

    def _refusal(self, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
        """A handler that checks the key, then refuses the call with ``code``."""
        api_key = self.vectors.api_key

        def call(request: bytes, context: grpc.ServicerContext) -> Any:
            meta = dict(context.invocation_metadata())
            if not key_ok(api_key, meta.get("api-key")):  # type: ignore[arg-type]
                context.abort(grpc.StatusCode.PERMISSION_DENIED, WRONG_KEY_MESSAGE)
            context.abort(code, message)

        return grpc.unary_unary_rpc_method_handler(call)


class GrpcPlane:
    """The gRPC data plane of one engine: a shared port, plus a port per index on demand.

    All servers share one thread pool. ``credentials`` (``grpc.ssl_server_credentials``)
    makes every port speak TLS; without it they are plaintext. ``interceptors``: only
    the test-only fault injection (``tenant_rag.local.faults``).
    """

    def __init__(
        self,
        engine: Engine,
        host: str,
        api_key: str | None,
        *,
        credentials: grpc.ServerCredentials | None = None,
        interceptors: Sequence[Any] = (),
        workers: int = 8,
    ) -> None:
        self.engine = engine
        self.host = host
        self.service = VectorService(engine, api_key)
        self.credentials = credentials
        self.interceptors = list(interceptors)
        self._pool = futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="tenant-rag-grpc"
        )
        self._servers: list[grpc.Server] = []
        self._index_ports: dict[str, int] = {}
        self._lock = threading.Lock()
        self.port: int | None = None

    def start(self, port: int = 0) -> int:
        """Serve the shared port (routes by ``service-name``); returns the bound port."""
        self.port = self._serve(port, None)
        return self.port

    def index_port(self, name: str) -> int:
        """The port that serves only index ``name`` (bound on first call); 404 if no such index."""
        self.engine.describe_index(name)
        with self._lock:
            port = self._index_ports.get(name)
            if port is None:
                port = self._serve(0, name)
                self._index_ports[name] = port
            return port

    def _serve(self, port: int, bound_index: str | None) -> int:
        server = grpc.server(
            self._pool,
            handlers=[_Router(self.service, bound_index)],
            interceptors=self.interceptors,
            options=[
                ("grpc.max_receive_message_length", 4 * MAX_REQUEST_BYTES),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        address = f"{self.host}:{port}"
        if self.credentials is not None:
            bound = server.add_secure_port(address, self.credentials)
        else:
            bound = server.add_insecure_port(address)
        if bound == 0:
            raise RuntimeError(f"tenant_rag.local: could not bind gRPC to {address}")
        server.start()
        self._servers.append(server)
        return bound

    def stop(self, grace: float = 1.0) -> None:
        """Stop every server (in-flight calls get ``grace`` seconds), then the thread pool."""
        events = [server.stop(grace) for server in self._servers]
        for event in events:
            event.wait(5)
        self._pool.shutdown(wait=False)
