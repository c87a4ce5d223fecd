"""A leaner path through the Pinecone REST SDK for ingestion's bulk calls.

The SDK's OpenAPI layer walks every value of every request and response,
one Python call per float. Ingestion builds its payloads itself (ids are
``str``, values pass through `as_floats`, metadata through
`clean_metadata`), so that walk adds nothing but CPU, and on a small
machine that CPU is taken from the embedding model running beside the
writer; even with its type checks off, most of what remains is
``sanitize_for_serialization`` and ``json.dumps``.

`LeanRestIndex` therefore sends plain-dict upserts as one orjson-encoded
``POST /vectors/upsert``, and fetches by id as one ``GET /vectors/fetch``
parsed by orjson (an unchanged re-run reads chunk ``#0`` of every document,
values included). Figures: ``benchmarks/FIGURES.md``. Both go through the SDK's *own*
connection pool, host, headers and API key (so its TLS, proxy and urllib3
retry settings still apply); a non-2xx reply is mapped by the SDK's own
``raise_exceptions_or_return`` and the call is wrapped in the SDK's
``validate_and_convert_errors``, so callers see exactly the exceptions the
SDK would raise. Anything else (records that are not plain dicts, sparse
values, ``batch_size``, ``async_req``, a payload orjson cannot encode, an
SDK without these internals) goes through the SDK's own ``upsert``
(``_check_type=False``) or ``fetch`` (``_check_return_type=False``).

Every body the fast path encodes is checked against Pinecone's 2 MB by its actual size;
one over it goes as two requests of half the records each (checked again), so a caller
whose records all take the fast path (`LeanRestIndex.splits_by_body_size`) may send up to
1,000 records at once without estimating their size.

Values may also be given as 1-d float32 numpy arrays (``accepts_float32_rows``;
`tenant_rag.tenancy.pinned.float32_row`): the fast path writes them with
orjson straight from the array's buffer, each in the shortest decimal form
that reads back as the same float32 (about half the bytes of the float64
spelling a Python list of the same values gets, and no Python float per
value); the SDK's path gets them as Python floats.

`lean_handle` wraps only the SDK's REST ``Index``; it sits *under*
`PinnedIndex`, which still applies the namespace, the id prefix and the
ownership checks of every returned record. Any other handle (gRPC, test
wrappers) is used as it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import simdjson

from tenant_rag._compat.pinecone_sdk import (
    SKIP_REQUEST_CHECKS,
    SKIP_RESPONSE_CHECKS,
    RestTransport,
    rest_index_class,
)
from tenant_rag.ingestion.fetch_result import FetchResult
from tenant_rag.tenancy.limits import MAX_METADATA_BYTES, MAX_REQUEST_BYTES

if TYPE_CHECKING:
    from tenant_rag.ingestion.grpc_fetch import GrpcFetcher
else:
    GrpcFetcher = object  # isinstance() below: nothing is an instance until it is loaded

log = logging.getLogger(__name__)
#: `LeanRestIndex._grpc` before the gRPC read path was looked up
_UNKNOWN = object()

#: the keys of a record the fast path sends as they are (their wire names are the same;
#: ``sparse_values``, ``sparseValues`` on the wire, is left to the SDK)
_RECORD_KEYS = frozenset({"id", "values", "metadata"})


def _fetch_result(reply: dict[str, Any]) -> FetchResult:
    vectors = {}
    for rid, vec in (reply.get("vectors") or {}).items():
        vectors[rid] = {
            "id": vec.get("id", rid),
            "values": vec.get("values") or [],
            "metadata": vec.get("metadata"),
            "sparse_values": vec.get("sparseValues"),
        }
    usage = reply.get("usage") or {}
    return FetchResult(
        vectors=vectors,
        namespace=reply.get("namespace", ""),
        usage={"read_units": usage.get("readUnits", usage.get("read_units"))},
    )


@dataclass(frozen=True)
class UpsertResult:
    """What `LeanRestIndex.upsert` returns on its fast path (the SDK's field name), and the
    request body's size (`PinnedIndex` meters write units by it rather than encoding the
    records a second time)."""

    upserted_count: int
    request_bytes: int | None = None


class LeanRestIndex:
    """Delegates to the SDK ``Index``; bulk upserts skip its per-value model layer."""

    #: upsert values may be 1-d float32 arrays (sent from their buffer, see the module docs)
    accepts_float32_rows = True

    def __init__(self, index: Any) -> None:
        self._sdk_index = index
        try:
            self._transport: RestTransport | None = RestTransport(index)
        except (AttributeError, ImportError):  # another SDK layout: the SDK path only
            self._transport = None
        #: the float32 fetches' gRPC path: `_UNKNOWN` until looked up, None for REST
        self._grpc: object = _UNKNOWN
        self._grpc_lock = threading.Lock()

    def splits_by_body_size(self, records: Sequence[Mapping[str, Any]]) -> bool:
        """Whether an upsert of ``records`` (up to 1,000) goes out in requests checked against
        Pinecone's 2 MB by their encoded size (the fast path: an over-size body is sent as
        two halves, each checked again), so a caller need not batch them by an estimate.
        Records the fast path leaves to the SDK (sparse values) need the estimate's batches."""
        return self._transport is not None and all(
            type(r) is dict and r.keys() <= _RECORD_KEYS for r in records
        )

    def _grpc_fetcher(self) -> GrpcFetcher | None:
        """The gRPC read path of this index (looked up once; None: REST)."""
        if self._grpc is _UNKNOWN:
            with self._grpc_lock:
                if self._grpc is _UNKNOWN:
                    from tenant_rag.ingestion.grpc_fetch import local_grpc_fetcher

                    assert self._transport is not None
                    self._grpc = local_grpc_fetcher(self._transport)
        return self._grpc  # type: ignore[return-value]

    def fetches_float32_over_grpc(self) -> bool:
        """Whether `fetch_float32` goes over gRPC (the embedded server says where)."""
        return self._transport is not None and self._grpc_fetcher() is not None

    def _grpc_failed(self, exc: Exception) -> None:
        with self._grpc_lock:
            fetcher, self._grpc = self._grpc, None
        if isinstance(fetcher, GrpcFetcher):
            log.warning(
                "gRPC fetch from %s failed (%s); fetching over REST from now on",
                fetcher.target,
                exc,
            )

    @property
    def wrapped(self) -> Any:
        """The SDK ``Index`` underneath."""
        return self._sdk_index

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sdk_index, name)

    def upsert(self, *args: Any, **kwargs: Any) -> Any:
        if self._transport is not None and not args:
            body = _fast_body(**kwargs)
            if body is not None:
                vectors = kwargs["vectors"]
                if len(body) > MAX_REQUEST_BYTES:  # too big as encoded: halves, each checked
                    if len(vectors) == 1:
                        raise ValueError(
                            f"record {vectors[0].get('id')!r} takes {len(body):,} bytes in an "
                            "upsert request, more than Pinecone's 2 MB per request. Shorten its "
                            f"text or metadata (Pinecone allows {MAX_METADATA_BYTES // 1024} KB "
                            "of metadata per record)."
                        )
                    half = len(vectors) // 2
                    first = self.upsert(**{**kwargs, "vectors": vectors[:half]})
                    second = self.upsert(**{**kwargs, "vectors": vectors[half:]})
                    return UpsertResult(
                        first.upserted_count + second.upserted_count,
                        (first.request_bytes or 0) + (second.request_bytes or 0),
                    )
                reply = self._transport.request("POST", "/vectors/upsert", body=body)
                return UpsertResult(int(reply.get("upsertedCount", 0)), len(body))
        if isinstance(kwargs.get("vectors"), list):
            kwargs["vectors"] = [_plain_values(v) for v in kwargs["vectors"]]
        return self._sdk_index.upsert(*args, **{**SKIP_REQUEST_CHECKS, **kwargs})

    def fetch(self, *args: Any, **kwargs: Any) -> Any:
        ids, namespace = kwargs.get("ids"), kwargs.get("namespace")
        if (
            self._transport is not None
            and not args
            and kwargs.keys() <= {"ids", "namespace"}
            and isinstance(ids, list)
            and ids
            and all(type(i) is str for i in ids)
        ):
            # the SDK's own order: namespace first, then each id
            query = [("namespace", namespace)] if namespace is not None else []
            query += [("ids", i) for i in ids]
            reply = self._transport.request("GET", "/vectors/fetch", query=query)
            return _fetch_result(reply)
        return self._sdk_index.fetch(*args, **{**SKIP_RESPONSE_CHECKS, **kwargs})

    def fetch_float32(
        self, *, ids: list[str], namespace: str | None = None, over_grpc: bool = True
    ) -> Any:
        """As ``fetch(ids=..., namespace=...)``, each record's ``values`` a float32 array.

        On the embedded server, when it serves gRPC, over gRPC (`grpc_fetch`: the values
        travel as float32 bytes and are read without a Python float each; the first call
        asks the server where, and a gRPC failure switches this handle to REST for good).
        Otherwise on the REST fast path, the answer parsed by `fetch_reply_float32` (no
        Python float per value); else ``fetch`` with the values converted afterwards.

        ``over_grpc=False``: REST in any case, so the metadata is exactly what ``fetch`` returns
        (over gRPC a metadata number arrives as a `Struct`'s double: ``3`` reads ``3.0``),
        for a caller that writes the metadata on (an export) rather than digests it.
        """
        if self._transport is not None and ids and all(type(i) is str for i in ids):
            fetcher = self._grpc_fetcher() if over_grpc else None
            if fetcher is not None:
                import grpc  # loaded by `grpc_fetch` already; not for REST-only callers
                from google.protobuf.message import DecodeError

                try:
                    return fetcher.fetch_float32(ids=ids, namespace=namespace)
                except (grpc.RpcError, DecodeError) as exc:  # REST from now on (it reports
                    self._grpc_failed(exc)  # a real error as the SDK would)
            query = [("namespace", namespace)] if namespace is not None else []
            query += [("ids", i) for i in ids]
            raw = self._transport.request_raw("GET", "/vectors/fetch", query=query)
            return fetch_reply_float32(raw)
        reply = self.fetch(ids=ids, namespace=namespace)
        vectors = reply.vectors if isinstance(reply, FetchResult) else None
        if vectors is None:
            return reply  # the SDK's models: `PinnedIndex` reads them as from ``fetch``
        for vec in vectors.values():
            vec["values"] = np.asarray(vec["values"], dtype=np.float32)
        return reply


def fetch_reply_float32(raw: bytes) -> FetchResult:
    """A ``GET /vectors/fetch`` answer as `FetchResult`, dense values as float32 arrays.

    Parsed by simdjson, each ``values`` array read as one buffer of doubles and
    narrowed to the float32 Pinecone stores, instead of one Python float per value
    (orjson's parse and the conversion after it cost about 22 us a 384-d record; this,
    about 12). The doubles are the JSON's numbers exactly (simdjson parses them
    correctly rounded, as orjson does), so the float32 values are what
    ``np.asarray(orjson.loads(raw)[...]["values"], dtype=np.float32)`` gives. Any
    answer simdjson does not read that way (not an object, values that are not all
    numbers) is parsed by orjson instead.
    """
    if not raw:
        return _fetch_result({})
    try:
        return _simd_fetch_result(raw)
    except (ValueError, TypeError, KeyError, RuntimeError):
        reply = orjson.loads(raw)
        result = _fetch_result(reply if isinstance(reply, dict) else {})
        for vec in result.vectors.values():
            vec["values"] = np.asarray(vec["values"], dtype=np.float32)
        return result


def _simd_fetch_result(raw: bytes) -> FetchResult:
    reply = _parser().parse(raw)
    if not isinstance(reply, simdjson.Object):
        raise TypeError("not a JSON object")
    vectors: dict[str, dict[str, Any]] = {}
    doubles: list[bytes] = []  # each record's values, in the order of ``vectors``
    found = reply.get("vectors")
    if isinstance(found, simdjson.Object):
        for rid in found:  # (``items()`` would convert every value to Python objects)
            vec = found[rid]
            if not isinstance(vec, simdjson.Object):
                raise TypeError("a record is not an object")
            rec: dict[str, Any] = {"id": rid, "metadata": None, "sparse_values": None}
            values = b""
            for key in vec:  # the keys there are (``get`` raises and catches for absent ones)
                if key == "values":
                    values = _doubles(vec[key])
                elif key in _FETCH_KEYS:
                    rec[_FETCH_KEYS[key]] = _plain(vec[key])
            vectors[rid] = rec
            doubles.append(values)
    elif found is not None:
        raise TypeError("vectors is not an object")
    for rec, row in zip(vectors.values(), _float32_rows(doubles), strict=True):
        rec["values"] = row
    usage = _plain(reply.get("usage")) or {}
    return FetchResult(
        vectors=vectors,
        namespace=_plain(reply.get("namespace", "")),
        usage={"read_units": usage.get("readUnits", usage.get("read_units"))},
    )


#: the keys of a fetched record other than ``values``, and `FetchResult`'s names for them
_FETCH_KEYS = {"id": "id", "metadata": "metadata", "sparseValues": "sparse_values"}


def _doubles(values: Any) -> bytes:
    """A JSON array of numbers (a simdjson ``Array``) as the bytes of its float64 values."""
    if values is None:
        return b""
    if not isinstance(values, simdjson.Array):
        raise TypeError("values is not an array")
    try:
        return bytes(values.as_buffer(of_type="d"))
    except (TypeError, ValueError):  # an element simdjson does not read as a double
        return np.asarray(values.as_list(), dtype=np.float64).tobytes()


def _float32_rows(doubles: list[bytes]) -> list[np.ndarray]:
    """Each record's doubles as a float32 row (rows of one matrix when all have one length)."""
    if doubles and doubles[0] and all(len(d) == len(doubles[0]) for d in doubles):
        matrix = np.empty((len(doubles), len(doubles[0]) // 8), dtype=np.float32)
        for row, d in zip(matrix, doubles, strict=True):
            row[:] = np.frombuffer(d, dtype=np.float64)  # narrowed as astype does
        return list(matrix)  # C-contiguous float32 rows
    return [np.frombuffer(d, dtype=np.float64).astype(np.float32) for d in doubles]


_local = threading.local()


def _parser() -> simdjson.Parser:
    """This thread's simdjson parser, kept: it reuses its buffers (a big answer's worth)
    instead of allocating and freeing them for every answer. A parser's document must not
    outlive the next parse, so `_simd_fetch_result` keeps nothing of it."""
    parser: simdjson.Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = simdjson.Parser()
    return parser


def _plain(value: Any) -> Any:
    """A simdjson proxy as plain Python values (dicts, lists), anything else as it is."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _fast_body(
    vectors: Any = None,
    namespace: str | None = None,
    batch_size: int | None = None,
    show_progress: bool = True,
    **rest: Any,
) -> bytes | None:
    """The JSON body of one upsert request, or None when the SDK's own path must handle it."""
    if rest or batch_size is not None or not isinstance(vectors, list) or not vectors:
        return None
    for v in vectors:
        if type(v) is not dict or not v.keys() <= _RECORD_KEYS:
            return None
    body: dict[str, Any] = {"vectors": vectors}
    if namespace is not None:
        body["namespace"] = namespace
    try:
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    except (TypeError, orjson.JSONEncodeError):
        return None


def _plain_values(record: Any) -> Any:
    """A record for the SDK's own path: float32 array values as a list of Python floats."""
    if type(record) is dict and isinstance(record.get("values"), np.ndarray):
        return {**record, "values": record["values"].tolist()}
    return record


def lean_handle(index: Any) -> Any:
    """``index`` wrapped in `LeanRestIndex` when it is the SDK's REST ``Index``."""
    index_class = rest_index_class()
    return LeanRestIndex(index) if index_class and isinstance(index, index_class) else index
