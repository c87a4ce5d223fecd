"""Fetch by id over gRPC, each record's dense values read as float32 straight from the answer.

A bulk reader that digests what it fetches (the import's read-back) pays, over
REST, for every value twice: the server spells it as up to 17 decimal digits
(about 7.7 KB of JSON for a 384-d record) and the client parses them back. Over
gRPC, a ``Vector``'s values travel as a packed ``repeated float``: the float32
bytes themselves (1.5 KB). The SDK's generated ``FetchResponse`` still makes a
Python float of each (``np.array(vec.values)``: about 30 us a record), so this
module reads the answer with its own view of the same messages
(``_grpc_gen/fetch_view.proto``) whose ``Vector.values`` is declared
``repeated bytes``: a packed field's payload arrives as one bytes element, read
with ``np.frombuffer(..., "<f4")``.

That view reads a record exactly as the full message does only when its values
came as one packed record of 4 x dimension bytes; anything else a valid encoder
may send (a packed field split into several records, unpacked floats, which the
view keeps as unknown fields) is parsed with the full message
(``FullFetchResponse``, ``repeated float``) instead, record by record, and
a whole answer in which the view left any unknown field is parsed with it
entirely (`decode_fetch`).

`GrpcFetcher` makes the calls: Pinecone's wire path ``/VectorService/Fetch``,
the ``api-key`` and ``x-pinecone-api-version`` metadata, and the index name as
``service-name`` (what SDK 7.x/8.x send; the embedded server's per-index ports
need none). It returns what `tenant_rag.ingestion.sdk.LeanRestIndex.fetch_float32`
returns (`FetchResult`), so `PinnedIndex` applies the same ownership checks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import grpc
import numpy as np
import orjson

from tenant_rag._compat.pinecone_sdk import RestTransport
from tenant_rag.ingestion._grpc_gen import fetch_view_pb2 as pb
from tenant_rag.ingestion.fetch_result import FetchResult

log = logging.getLogger(__name__)

#: The API version the calls name (the oldest the SDKs send; a fetch answer has the same
#: fields in every version).
API_VERSION = "2025-04"
FETCH_PATH = "/VectorService/Fetch"
#: Largest answer accepted: a fetch of 1,000 records of 20,000 dimensions and 40 KB of
#: metadata each, Pinecone's limits, with room to spare.
MAX_ANSWER_BYTES = 256 * 1024 * 1024


def struct_dict(msg: Any) -> dict[str, Any]:
    """A ``google.protobuf.Struct`` as the dict ``json_format.MessageToDict`` gives.

    Numbers come back as floats (a Struct holds doubles), lists as lists, nested
    Structs as dicts; without json_format's per-field descriptor walk.
    """
    return {key: _value(value) for key, value in msg.fields.items()}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    if kind == "struct_value":
        return struct_dict(value.struct_value)
    return None  # null_value, or no kind set (json_format also gives None)


def _sparse(vec: Any) -> dict[str, list[Any]] | None:
    if not vec.HasField("sparse_values"):
        return None
    sv = vec.sparse_values
    return {"indices": list(sv.indices), "values": list(sv.values)}


def decode_fetch(data: bytes, dimension: int | None) -> FetchResult:
    """A ``FetchResponse``'s bytes as `FetchResult`, each record's values a float32 array.

    ``dimension``: the index's, when known; a record's values are read from the view
    only when they are one packed record of exactly 4 x ``dimension`` bytes (of any
    multiple of 4 bytes when ``dimension`` is None), else from the full message.
    """
    view = pb.RawFetchResponse.FromString(data)
    view.DiscardUnknownFields()
    if view.ByteSize() != len(data):
        # the view left something unread (unpacked floats, a field it does not declare):
        # every record from the full message
        return _from_full(pb.FullFetchResponse.FromString(data))
    want = None if dimension is None else 4 * dimension
    full: Any = None
    vectors: dict[str, dict[str, Any]] = {}
    for rid, vec in view.vectors.items():
        chunks = vec.values
        if len(chunks) == 1 and (
            len(chunks[0]) == want if want is not None else len(chunks[0]) % 4 == 0
        ):
            values = np.frombuffer(chunks[0], dtype="<f4")
        elif not chunks and not want:
            values = np.zeros(0, dtype="<f4")
        else:
            if full is None:
                full = pb.FullFetchResponse.FromString(data)
            values = np.asarray(full.vectors[rid].values, dtype="<f4")
        vectors[rid] = {
            "id": vec.id or rid,
            "values": values,
            "metadata": struct_dict(vec.metadata) if vec.HasField("metadata") else None,
            "sparse_values": _sparse(vec),
        }
    return FetchResult(vectors=vectors, namespace=view.namespace, usage=_usage(view))


def _from_full(msg: Any) -> FetchResult:
    vectors = {
        rid: {
            "id": vec.id or rid,
            "values": np.asarray(vec.values, dtype="<f4"),
            "metadata": struct_dict(vec.metadata) if vec.HasField("metadata") else None,
            "sparse_values": _sparse(vec),
        }
        for rid, vec in msg.vectors.items()
    }
    return FetchResult(vectors=vectors, namespace=msg.namespace, usage=_usage(msg))


def _usage(msg: Any) -> dict[str, Any]:
    if msg.HasField("usage") and msg.usage.HasField("read_units"):
        return {"read_units": msg.usage.read_units}
    return {"read_units": None}


class GrpcFetcher:
    """Fetches by id from one index over gRPC (``target`` ``host:port``), answers as float32.

    ``credentials``: ``grpc.ssl_channel_credentials`` for a TLS port; None for plaintext.
    Errors are the channel's ``grpc.RpcError``s; `PinnedIndex`'s retry policy judges them.
    """

    def __init__(
        self,
        target: str,
        *,
        api_key: str,
        index_name: str | None = None,
        dimension: int | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        options = [("grpc.max_receive_message_length", MAX_ANSWER_BYTES)]
        self.target = target
        self.dimension = dimension
        self._channel = (
            grpc.secure_channel(target, credentials, options=options)
            if credentials is not None
            else grpc.insecure_channel(target, options=options)
        )
        self._fetch = self._channel.unary_unary(
            FETCH_PATH,
            request_serializer=pb.FetchRequest.SerializeToString,
            response_deserializer=None,  # the answer's bytes, decoded by `decode_fetch`
        )
        metadata = [("api-key", api_key), ("x-pinecone-api-version", API_VERSION)]
        if index_name:
            metadata.append(("service-name", index_name))
        self._metadata = tuple(metadata)

    def fetch_float32(
        self, *, ids: Sequence[str], namespace: str | None = None, timeout: float = 60.0
    ) -> FetchResult:
        request = pb.FetchRequest(ids=list(ids), namespace=namespace or "")
        data = self._fetch(request, metadata=self._metadata, timeout=timeout)
        return decode_fetch(data, self.dimension)

    def close(self) -> None:
        self._channel.close()


#: An embedded server's index host: ``http(s)://HOST:PORT/_index/<name>`` (`local.api.rest`).
_LOCAL_INDEX_HOST = re.compile(r"^(https?)://([^/]+)/_index/([^/?#]+)/?$")


def local_grpc_fetcher(transport: RestTransport) -> GrpcFetcher | None:
    """A `GrpcFetcher` for the index a REST handle names, when the server says where.

    Only an embedded server's index host (``.../_index/<name>``, a form Pinecone's
    hosts never take) is asked, through its own lookup route (``GET
    /_local/grpc/<name>``, behind the same API key); it answers 404 when it serves no
    gRPC. A TLS (``https``) host gets a TLS channel trusting the CA file the REST
    handle trusts. Anything that does not work out is None: the caller keeps REST.
    """
    m = _LOCAL_INDEX_HOST.match(transport.host)
    key = transport.api_key
    if m is None or key is None:
        return None
    scheme, authority, name = m.groups()
    try:
        answer = orjson.loads(transport.get_raw(f"{scheme}://{authority}/_local/grpc/{name}"))
        target = str(answer["grpc_host"])
        credentials = None
        if scheme == "https":
            ca = transport.ca_file
            if not ca:
                return None
            credentials = grpc.ssl_channel_credentials(Path(ca).read_bytes())
    except Exception as exc:  # noqa: BLE001 - any failure: stay on REST
        log.debug("no gRPC read path for %s: %s", transport.host, exc)
        return None
    return GrpcFetcher(target, api_key=key, index_name=unquote(name), credentials=credentials)


__all__ = ["API_VERSION", "GrpcFetcher", "decode_fetch", "local_grpc_fetcher", "struct_dict"]
