"""One index's engine: durable writes through ``IndexStore``, reads from in-memory namespaces.

Consistency across processes: every write appends the touched ids to the
store's change log in the same transaction. Before any read or write the
engine checks ``PRAGMA data_version`` (a few microseconds); if another
connection committed, it replays the log entries it has not seen, reloading
just those ids in namespaces it holds in memory. Namespaces are loaded lazily,
on first use, from their own range of the ``(namespace, id)`` index.

Thread safety: one re-entrant lock per index serialises its reads and writes.
Search is a BLAS matmul that already uses every core, so finer locks would buy
little, and a single lock keeps the replay logic simple and obviously correct.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tenant_rag.local.engine import validation as v
from tenant_rag.local.engine.ann import (
    RERANK,
    SHARD_ROWS,
    AnnIndex,
    ann_top_k_limit,
    start_build,
)
from tenant_rag.local.engine.errors import ApiError, bad_request, not_found, short
from tenant_rag.local.engine.filters import Predicate, compile_filter, filter_key
from tenant_rag.local.engine.limits import (
    DEFAULT_LIST_LIMIT,
    DEFAULT_NAMESPACE,
    MAX_FETCH_BY_METADATA_LIMIT,
    MAX_IDS_PER_REQUEST,
    MAX_LIST_LIMIT,
    MAX_TOP_K,
    MAX_UPSERT_RECORDS,
)
from tenant_rag.local.engine.matrix import NamespaceMatrix, Sparse, top_k
from tenant_rag.local.engine.settings import ann_min_rows, resident_budget
from tenant_rag.local.engine.wire import json_values, load_metadata
from tenant_rag.local.storage import IndexDef, IndexStore
from tenant_rag.local.storage.index_store import Row
from tenant_rag.local.storage.sqlite import DEFAULT_DURABILITY, Durability

_GB = 1024**3
# past this many replayed ids, reload the namespace instead
_RELOAD_WHOLE_NAMESPACE_AT = 1000
# A filtered query on a namespace with an approximate index is searched exactly over the
# matching rows when they are fewer than this fraction of the namespace (or than the index
# threshold); otherwise the index is searched for more candidates and they are filtered.
FILTER_EXACT_FRACTION = 0.05
# A search over at most this many stored floats (e.g. 4,000 x 384) takes well under a
# millisecond, less than handing the request to a worker thread costs; see cheap_read().
INLINE_MAX_FLOATS = 1_500_000


class IndexEngine:
    """Data-plane operations of one index. Arguments follow the wire's camelCase JSON."""

    def __init__(
        self, definition: IndexDef, path: Path, durability: Durability = DEFAULT_DURABILITY
    ) -> None:
        self.d = definition
        self.dim = definition.dimension or 0
        self.metric = definition.metric
        self.sparse_only = definition.vector_type == "sparse"
        self.store = IndexStore(path, durability)
        self.lock = threading.RLock()
        # least recently used first; bounded by resident_budget() when one is configured
        self._ns: OrderedDict[str, NamespaceMatrix] = OrderedDict()
        self._seen_seq = self.store.max_seq()
        self._dv = self.store.data_version()
        self._closed = False

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the index lock; 404 if the index was deleted while the caller held a handle."""
        with self.lock:
            if self._closed:
                raise not_found(f"Index {self.d.name!r} was deleted")
            yield

    def cheap_read(self, namespace: Any, needs_matrix: bool) -> bool:
        """True when a read can run right now without waiting, loading or replaying much.

        The caller must hold ``self.lock`` (taken without blocking). Used by the REST
        layer to answer small reads on the event loop instead of a worker thread.
        """
        if self._closed or self.store.data_version() != self._dv:
            return False
        if not needs_matrix:
            return True
        mat = self._ns.get(v.namespace_name(namespace))
        if mat is None:
            return False
        # an approximate search of one shard costs about a millisecond; a sharded one
        # waits for scanner threads, which the event loop must not do
        return mat.n * max(self.dim, 1) <= INLINE_MAX_FLOATS or (
            mat.ann is not None and mat.ann.ready and mat.n <= SHARD_ROWS
        )

    @property
    def lsn(self) -> int:
        """The change-log position this engine has applied: every write up to it is visible.

        Pinecone answers writes with ``x-pinecone-request-lsn`` and queries with
        ``x-pinecone-max-indexed-lsn``; clients poll until the second reaches the
        first. Writes are searchable at once here, so both are this number, read
        with the index lock held right after the operation.
        """
        return self._seen_seq

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self._forget_all()
            self.store.close()

    # -- namespaces in memory ------------------------------------------------
    def _forget(self, ns: str) -> None:
        """Drop one in-memory namespace (and stop its approximate index's build)."""
        mat = self._ns.pop(ns, None)
        if mat is not None:
            mat.drop_ann()

    def _forget_all(self) -> None:
        for mat in self._ns.values():
            mat.drop_ann()
        self._ns.clear()

    def _maybe_ann(self, mat: NamespaceMatrix) -> None:
        """Start (or drop, or restart) the approximate index of a namespace by its size.

        Lock held. The build runs on a background thread; until it is ready the
        namespace is searched exactly, so nothing waits for it.
        """
        if not self.dim or self.sparse_only:
            return
        min_rows = ann_min_rows()
        ann = mat.ann
        if ann is not None and (
            ann.state == "failed" or ann.needs_rebuild() or min_rows <= 0 or mat.n < min_rows // 2
        ):
            mat.drop_ann()
            ann = None
        if ann is None and min_rows > 0 and mat.n >= min_rows:
            mat.ann = AnnIndex(self.dim, self.metric)
            start_build(mat.ann, mat, self.lock)

    def ann_info(self, namespace: Any) -> dict[str, Any] | None:
        """The approximate index's state and counters for a namespace in memory, else None."""
        with self._locked():
            mat = self._ns.get(v.namespace_name(namespace))
            return mat.ann.info() if mat is not None and mat.ann is not None else None

    def search_state(self, namespace: Any) -> dict[str, Any]:
        """How a query of ``namespace`` is answered right now, without loading it.

        Why: a namespace past the approximate-index threshold is searched exactly while its
        index builds in the background (seconds at 100,000 rows, half a minute at 1,000,000),
        so its first queries are slow by design. An operator, a test or a benchmark needs to
        tell that apart from a slow host without guessing from latencies (a guess from
        latencies once timed a benchmark's queries against a half-built index).

        ``search`` is one of ``"not loaded"`` (no query or write has loaded it since the
        server started; the next one loads it), ``"exact"`` (below the threshold, or
        approximate search is switched off), ``"building"`` (exact until the index is
        ready), ``"approximate"`` (for dense queries up to ``approximate_up_to_top_k``; sparse,
        hybrid and very selective filtered queries stay exact), or ``"exact (index failed)"``.
        A namespace too small for its index to be asked (``ann.ann_top_k_limit``) stays exact
        with its index ready.
        """
        name = v.namespace_name(namespace)
        min_rows = ann_min_rows()
        with self._locked():
            self._catch_up()
            mat = self._ns.get(name)
            records = self.store.count(name) if mat is None else mat.n
            info = mat.ann.info() if mat is not None and mat.ann is not None else None
        if mat is None:
            search = "not loaded"
        elif info is None:
            search = "exact"
        else:
            search = {
                "ready": "approximate" if ann_top_k_limit(records) is not None else "exact",
                "building": "building",
                "failed": "exact (index failed)",
            }.get(info["state"], "exact")
            if not math.isfinite(info["margin"]):  # JSON has no infinity
                info["margin"] = None  # every candidate is re-scored
        return {
            "search": search,
            "namespace": name,
            "records": records,
            "approximate_from_records": min_rows if min_rows > 0 else None,
            "approximate_up_to_top_k": ann_top_k_limit(records)
            if search == "approximate"
            else None,
            "ann": info,
        }

    # -- keeping in step with other processes -------------------------------
    def _catch_up(self) -> None:
        """Apply commits made by other connections since we last looked (lock held)."""
        dv = self.store.data_version()
        if dv == self._dv:
            return
        self._dv = dv
        if not self._ns:
            self._seen_seq = self.store.max_seq()
            return
        if self._seen_seq < self.store.trimmed_upto():
            self._forget_all()
            self._seen_seq = self.store.max_seq()
            return
        changes = self.store.changes_since(self._seen_seq)
        if not changes:
            return
        touched: dict[str, set[str] | None] = {}
        for _seq, ns, rid in changes:
            if ns not in self._ns:
                continue
            ids = touched.setdefault(ns, set())
            if rid is None or ids is None:
                touched[ns] = None
            else:
                ids.add(rid)
        for ns, maybe_ids in touched.items():
            if maybe_ids is None or len(maybe_ids) > _RELOAD_WHOLE_NAMESPACE_AT:
                self._forget(ns)
                continue
            mat = self._ns[ns]
            id_list = sorted(maybe_ids)
            present = {r[0]: r for r in self.store.get(ns, id_list)}
            for rid in id_list:
                row = present.get(rid)
                if row is None:
                    mat.remove(rid)
                else:
                    mat.set(rid, *self._decode(row))
            self._maybe_ann(mat)
        self._seen_seq = changes[-1][0]

    def _namespace(self, ns: str) -> NamespaceMatrix:
        """The in-memory namespace, loaded from storage on first use (lock held)."""
        mat = self._ns.get(ns)
        if mat is None:
            rows = (
                (rid, blob, _decode_sparse(sp), md) for rid, blob, sp, md in self.store.scan(ns)
            )
            mat = NamespaceMatrix.load(self.dim, self.store.count(ns), rows)
            self._ns[ns] = mat
            self._evict_beyond_budget()
            self._maybe_ann(mat)
        else:
            self._ns.move_to_end(ns)
        return mat

    def _evict_beyond_budget(self) -> None:
        """Drop least recently used namespaces while over the resident budget (lock held).

        Evicted namespaces are reloaded from SQLite on their next read, so a budget
        trades memory for a reload; the namespace just used is always kept.
        """
        budget = resident_budget()
        if budget <= 0:
            return
        total = sum(m.resident_bytes() for m in self._ns.values())
        while total > budget and len(self._ns) > 1:
            _, gone = self._ns.popitem(last=False)
            total -= gone.resident_bytes()
            gone.drop_ann()

    def _matching_ids(self, ns: str, predicate: Predicate) -> list[str]:
        """Ids whose metadata matches, without loading vectors of a namespace not in memory.

        Stats and delete-by-filter over many tenants should not pull every tenant's
        matrix into memory, so an unloaded namespace is scanned from its metadata column.
        """
        mat = self._ns.get(ns)
        if mat is not None:
            return [mat.ids[int(r)] for r in mat.matching_rows(predicate)]
        return [
            rid
            for rid, md in self.store.scan_metadata(ns)
            if predicate(json.loads(md) if md else {})
        ]

    def _decode(self, row: Row) -> tuple[np.ndarray, Sparse | None, str | None]:
        _rid, blob, sp, md = row
        vec = (
            np.frombuffer(blob, dtype="<f4")
            if blob and self.dim
            else np.zeros(self.dim, dtype=np.float32)
        )
        return vec, _decode_sparse(sp), md

    # -- writes ------------------------------------------------------------
    def upsert(self, namespace: Any, vectors: Any) -> int:
        ns = v.namespace_name(namespace)
        if not isinstance(vectors, list):
            raise bad_request("vectors must be a list of records")
        if not vectors:
            raise bad_request(
                "Invalid request. The upsert has no vectors; send between 1 and "
                f"{MAX_UPSERT_RECORDS} records per request."
            )
        if len(vectors) > MAX_UPSERT_RECORDS:
            raise bad_request(
                f"upsert has {len(vectors)} records; at most {MAX_UPSERT_RECORDS} per request. "
                "Use upsert(batch_size=...) or split the batch."
            )
        records: dict[str, tuple[np.ndarray, Sparse | None, str | None]] = {}
        for rec in vectors:
            if not isinstance(rec, dict):
                raise bad_request("each vector must be an object with id and values")
            rid = v.record_id(rec.get("id"))
            records[rid] = self._prepare(
                rid, rec.get("values"), rec.get("sparseValues"), rec.get("metadata")
            )
        rows: list[Row] = [
            (rid, vec.astype("<f4").tobytes() if self.dim else None, _encode_sparse(sp), md)
            for rid, (vec, sp, md) in records.items()
        ]
        ids = list(records)
        with self._locked():
            with self.store.write():
                self._catch_up()
                existing = self.store.existing_ids(ns, ids)
                self.store.put(ns, rows)
                self.store.log_ids(ns, ids)
                self.store.add_count(ns, len(ids) - len(existing))
                self.store.maybe_trim()
                seq = self.store.max_seq()
            self._seen_seq = seq
            mat = self._ns.get(ns)
            if mat is not None:
                for rid, (vec, sp, md) in records.items():
                    mat.set(rid, vec, sp, md)
                self._maybe_ann(mat)
        return len(vectors)

    def _prepare(
        self, rid: str, values: Any, sparse: Any, metadata: Any
    ) -> tuple[np.ndarray, Sparse | None, str | None]:
        sp = v.sparse_values(sparse, rid)
        if self.sparse_only:
            if values:
                raise bad_request(
                    f"index {self.d.name!r} is sparse: vector {rid!r} has dense values"
                )
            if sp is None:
                raise bad_request(
                    f"index {self.d.name!r} is sparse: vector {rid!r} needs sparseValues"
                )
            vec = np.zeros(0, dtype=np.float32)
        else:
            if values is None:
                raise bad_request(
                    f"vector {rid!r} has no values; this index has dimension {self.dim}"
                )
            vec = v.dense_values(values, self.dim, rid)
            if self.metric == "cosine" and not vec.any():
                raise bad_request(
                    f"vector {rid!r} is all zeros; a cosine index needs at least one non-zero value"
                )
            # Pinecone stores sparse values on any dense index (8.1.2 integration test
            # test_upsert_from_dataframe upserts them into a cosine index); only
            # dotproduct scores them (hybrid search), see matrix.scores.
        md = v.metadata(metadata, rid)
        md_json = json.dumps(md, separators=(",", ":"), ensure_ascii=False) if md else None
        return vec, _as_arrays(sp), md_json

    def update(self, namespace: Any, rid: Any, values: Any, sparse: Any, set_metadata: Any) -> None:
        """Update one record by id; an update of a missing id is a no-op, as in Pinecone."""
        ns = v.namespace_name(namespace)
        rid = v.record_id(rid)
        if set_metadata is not None and not isinstance(set_metadata, dict):
            raise bad_request("setMetadata must be an object")
        with self._locked():
            with self.store.write():
                self._catch_up()
                found = self.store.get(ns, [rid])
                if not found:
                    return  # Pinecone treats an update of a missing id as a no-op
                old_vec, old_sp, old_md = self._decode(found[0])
                md = json.loads(old_md) if old_md else {}
                if set_metadata:
                    md.update(set_metadata)
                new_values = values if values else (old_vec.tolist() if self.dim else None)
                new_sparse = sparse if sparse is not None else _sparse_dict(old_sp)
                vec, sp, md_json = self._prepare(rid, new_values, new_sparse, md)
                blob = vec.astype("<f4").tobytes() if self.dim else None
                self.store.put(ns, [(rid, blob, _encode_sparse(sp), md_json)])
                self.store.log_ids(ns, [rid])
                seq = self.store.max_seq()
            self._seen_seq = seq
            mat = self._ns.get(ns)
            if mat is not None:
                mat.set(rid, vec, sp, md_json)
                self._maybe_ann(mat)

    def update_by_filter(
        self, namespace: Any, flt: Any, set_metadata: Any, dry_run: bool = False
    ) -> int:
        """Merge ``set_metadata`` into every record matching ``flt`` (API 2025-10).

        Returns the number of records the filter matched; with ``dry_run`` nothing
        is written. One transaction, so a concurrent reader sees all or none of it.
        """
        ns = v.namespace_name(namespace)
        predicate = compile_filter(flt)
        if predicate is None:
            raise bad_request(
                "Update with empty metadata filter is not allowed. Give a filter with at "
                "least one condition, or update one record by id."
            )
        if not isinstance(set_metadata, dict) or not set_metadata:
            raise bad_request(
                "an update by filter changes metadata only: send setMetadata with at least "
                "one field (values and sparseValues belong to an update by id)"
            )
        v.metadata(set_metadata)  # the patch itself must be valid metadata
        with self._locked():
            with self.store.write():
                self._catch_up()
                ids = self._matching_ids(ns, predicate)
                if dry_run or not ids:
                    return len(ids)
                rows: list[Row] = []
                prepared: dict[str, tuple[np.ndarray, Sparse | None, str | None]] = {}
                for row in self.store.get(ns, ids):
                    rid = row[0]
                    vec, sp, old_md = self._decode(row)
                    md = json.loads(old_md) if old_md else {}
                    md.update(set_metadata)
                    checked = v.metadata(md, rid)
                    md_json = json.dumps(checked, separators=(",", ":"), ensure_ascii=False)
                    prepared[rid] = (vec, sp, md_json)
                    rows.append((rid, row[1], row[2], md_json))
                self.store.put(ns, rows)
                self.store.log_ids(ns, list(prepared))
                seq = self.store.max_seq()
            self._seen_seq = seq
            mat = self._ns.get(ns)
            if mat is not None:
                for rid, (vec, sp, patched) in prepared.items():
                    mat.set(rid, vec, sp, patched)
        return len(ids)

    def delete(self, namespace: Any, ids: Any, delete_all: Any, flt: Any) -> None:
        ns = v.namespace_name(namespace)
        given = sum(x is not None and x is not False for x in (ids, flt)) + bool(delete_all)
        if given != 1:
            raise bad_request("delete needs exactly one of ids, deleteAll=true or filter")
        if delete_all:
            self.drop_namespace(ns, missing_ok=True)
            return
        predicate = compile_filter(flt) if flt is not None else None
        if flt is not None and predicate is None:
            raise bad_request(
                "Delete with empty metadata filter is not allowed. Give a filter with at "
                "least one condition, or delete_all=True to empty the namespace."
            )
        id_list = v.id_list(ids) if ids is not None else None
        with self._locked():
            with self.store.write():
                self._catch_up()
                if id_list is None:
                    assert predicate is not None
                    id_list = self._matching_ids(ns, predicate)
                if not id_list:
                    return
                removed = self.store.delete(ns, id_list)
                self.store.log_ids(ns, id_list)
                self.store.add_count(ns, -removed)
                seq = self.store.max_seq()
            self._seen_seq = seq
            held = self._ns.get(ns)
            if held is not None:
                for rid in id_list:
                    held.remove(rid)
                self._maybe_ann(held)

    def drop_namespace(self, namespace: Any, *, missing_ok: bool = False) -> None:
        ns = v.namespace_name(namespace)
        with self._locked():
            with self.store.write():
                self._catch_up()
                if not missing_ok and not self._exists(ns):
                    raise not_found(f"Namespace {ns!r} not found in index {self.d.name!r}")
                self.store.drop_namespace(ns)
                self.store.log_drop(ns)
                seq = self.store.max_seq()
            self._seen_seq = seq
            self._forget(ns)

    def checkpoint(self) -> dict[str, int]:
        """Empty this index's WAL into its database file (see `IndexStore.checkpoint`)."""
        with self._locked():
            busy, frames, done = self.store.checkpoint()
        return {"busy": busy, "log_frames": frames, "checkpointed_frames": done}

    def create_namespace(self, name: Any, schema: Any = None) -> None:
        """Create an empty namespace (API 2025-10); 409 if it exists."""
        if not isinstance(name, str) or name == "":
            raise bad_request("name is required: the name of the namespace to create")
        ns = v.namespace_name(name)
        if name == DEFAULT_NAMESPACE:
            raise bad_request(
                f"Namespace name {DEFAULT_NAMESPACE!r} is reserved: it is the default "
                "namespace, which always exists. Choose another name."
            )
        _check_namespace_schema(schema)
        with self._locked(), self.store.write():
            self._catch_up()
            created = not self._exists(ns) and self.store.declare_namespace(
                ns, json.dumps(schema) if schema is not None else None
            )
        if not created:
            raise ApiError(
                409, "ALREADY_EXISTS", f"Namespace {ns!r} already exists in index {self.d.name!r}"
            )

    def _exists(self, ns: str) -> bool:
        """A namespace exists while it holds records or since create_namespace (lock held)."""
        return self.store.count(ns) > 0 or self.store.is_declared(ns)

    # -- reads -------------------------------------------------------------
    def query(
        self,
        namespace: Any,
        top_k_: Any,
        vector: Any = None,
        sparse_vector: Any = None,
        rid: Any = None,
        flt: Any = None,
        include_values: bool = False,
        include_metadata: bool = False,
        *,
        as_json: bool = False,
    ) -> dict[str, Any]:
        """The ``top_k_`` best matches. ``as_json``: values as ``orjson.Fragment`` (`wire`),
        for an answer orjson writes (REST); otherwise lists of floats."""
        ns = v.namespace_name(namespace)
        if isinstance(top_k_, bool) or not isinstance(top_k_, int) or not 1 <= top_k_ <= MAX_TOP_K:
            raise bad_request(f"topK must be an integer between 1 and {MAX_TOP_K}, got {top_k_!r}")
        if vector is not None and not isinstance(vector, list | tuple):
            raise bad_request(f"vector must be a list of numbers, got {short(vector)}")
        if vector is not None and len(vector) == 0:
            vector = None
        if rid is not None and vector is not None:
            raise bad_request(
                "Cannot provide both 'ID' and 'vector' at the same time. Query by a stored "
                "record's id, or by a vector."
            )
        if rid is not None and sparse_vector is not None:
            raise bad_request(
                "Cannot provide both 'ID' and 'sparse_vector' at the same time. Query by a "
                "stored record's id, or by a sparse vector."
            )
        if rid is None and not self.sparse_only and vector is None and sparse_vector is not None:
            raise bad_request(
                "Cannot query index with dense 'vector_type' with only sparse vector. "
                "Send a dense vector too (a hybrid query needs both), or query by id."
            )
        if self.sparse_only and rid is None and sparse_vector is None:
            raise bad_request(
                "Either 'sparse_vector' or 'ID' must be provided. This index is sparse; "
                "it is queried by a sparse vector or a stored record's id."
            )
        if self.sparse_only and vector is not None:
            raise bad_request(
                "Index configuration does not support dense values. This index is sparse; "
                "send only a sparse vector."
            )
        q_sparse = _as_arrays(v.sparse_values(sparse_vector))
        q = None
        if vector is not None:
            q = v.dense_values(vector, self.dim or None)
        predicate = compile_filter(flt)
        echo = _echo(namespace)
        with self._locked():
            self._catch_up()
            mat = self._namespace(ns)
            if rid is not None:
                row = mat.row_of.get(v.record_id(rid))
                if row is None:
                    return _query_result([], echo, mat)
                q = mat.values(row).copy() if self.dim else None
                q_sparse = mat.sparse[row]
            if q is None and q_sparse is None:
                raise bad_request("query needs a vector, a sparseVector or an id")
            if q is None and not self.sparse_only and self.metric != "dotproduct":
                raise bad_request(f"a query on this {self.metric} index needs a dense vector")
            rows, scores = self._candidate_rows(
                mat,
                q,
                q_sparse,
                predicate,
                filter_key(flt) if predicate is not None else None,
                top_k_,
            )
            if scores is None:
                scores = mat.scores(q, q_sparse, self.metric, rows)
            best = top_k(scores, top_k_, ascending=self.metric == "euclidean")
            matches = []
            for pos in best.tolist():
                row = pos if rows is None else int(rows[pos])
                values: Any = []
                if include_values and self.dim:
                    vec = mat.values(row)
                    values = json_values(vec) if as_json else vec.tolist()
                match: dict[str, Any] = {
                    "id": mat.ids[row],
                    "score": float(scores[pos]),
                    "values": values,
                }
                sp = mat.sparse[row]
                if include_values and sp is not None:
                    match["sparseValues"] = {
                        "indices": sp[0].tolist(),
                        "values": sp[1].tolist(),
                    }
                if include_metadata:  # Pinecone leaves the key out when there is none
                    md = mat.metadata(row)
                    if md:
                        match["metadata"] = md
                matches.append(match)
            return _query_result(matches, echo, mat)

    def _candidate_rows(
        self,
        mat: NamespaceMatrix,
        q: np.ndarray | None,
        q_sparse: Sparse | None,
        predicate: Predicate | None,
        key: str | None,
        k: int,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Rows to score exactly (None: all of them), and their scores when the approximate
        index already computed them (exactly, with ``mat.scores``). Lock held.

        Exact unless the namespace's approximate index is ready and the query is dense
        only (sparse and hybrid queries keep the exact path). With a filter, the rows it
        allows are exact-searched when they are few; else the index is asked for more
        candidates, in inverse proportion to the filter's share, and they are filtered.
        Whenever the candidates cannot fill ``k`` the query falls back to exact search, so
        a filter never loses a match it allows, nor admits one it does not. ``key`` names
        the filter, so the rows it allows are remembered until the namespace changes.
        """
        allowed = mat.matching_rows(predicate, key) if predicate is not None else None
        ann = mat.ann
        if ann is None or not ann.ready or q is None or q_sparse is not None or not self.dim:
            return allowed, None
        limit = ann_top_k_limit(mat.n)
        if limit is None or k > limit:
            return allowed, None
        want = max(RERANK, 4 * k)
        mask = None
        if allowed is not None:
            if len(allowed) < max(ann_min_rows(), FILTER_EXACT_FRACTION * mat.n):
                ann.counts["exact_filtered"] += 1
                return allowed, None
            mask = np.zeros(mat.n, dtype=bool)
            mask[allowed] = True
            want = min(mat.n, int(want * mat.n / len(allowed)) + 1)
        cand, scores = ann.candidates(mat, q, self.metric, want, mask, k=k)
        available = mat.n if allowed is None else len(allowed)
        if len(cand) < min(k, available):
            ann.counts["exact_fallback"] += 1
            return allowed, None
        ann.counts["ann" if mask is None else "ann_filtered"] += 1
        return cand, scores

    def fetch(
        self, namespace: Any, ids: Any, *, as_json: bool = False, as_arrays: bool = False
    ) -> dict[str, Any]:
        """The records with these ids. ``as_json``: values as ``orjson.Fragment`` (`wire`),
        for an answer orjson writes (REST); ``as_arrays``: values as the stored float32 row
        and sparse values as (indices, values) arrays, for an answer encoded from them
        (gRPC, `api.grpc_encode`); otherwise lists of floats."""
        ns = v.namespace_name(namespace)
        if isinstance(ids, list) and not ids:
            raise bad_request(
                "Invalid request. ids must contain at least one id (at most "
                f"{MAX_IDS_PER_REQUEST} per request)."
            )
        id_list = v.id_list(ids)
        with self._locked():
            self._catch_up()
            rows = self.store.get(ns, id_list)
        return {
            "vectors": {row[0]: self._record(row, as_json, as_arrays) for row in rows},
            "namespace": _echo(namespace),
            "usage": {"readUnits": _fetch_units(len(id_list))},
        }

    def _record(self, row: Row, as_json: bool = False, as_arrays: bool = False) -> dict[str, Any]:
        """A stored record as Pinecone's ``Vector``: no metadata key when it has none.

        ``as_json``: the values as an ``orjson.Fragment`` of the same bytes (`wire`).
        ``as_arrays``: the values as the float32 row, sparse values as (indices, values).
        """
        vec, sp, md = self._decode(row)
        if as_arrays:
            out: dict[str, Any] = {"id": row[0], "values": vec}
            if sp is not None:
                out["sparseValues"] = sp
            if md:
                out["metadata"] = load_metadata(md)
            return out
        rec: dict[str, Any] = {
            "id": row[0],
            "values": json_values(vec) if as_json else vec.tolist(),
        }
        if sp is not None:
            rec["sparseValues"] = {"indices": sp[0].tolist(), "values": sp[1].tolist()}
        if md:
            rec["metadata"] = load_metadata(md)
        return rec

    def fetch_by_metadata(
        self,
        namespace: Any,
        flt: Any,
        limit: Any,
        token: Any,
        *,
        as_json: bool = False,
        as_arrays: bool = False,
    ) -> dict[str, Any]:
        """One page of the records matching ``flt``, in id order (API 2025-10).

        ``as_json``, ``as_arrays``: how values are given, as for `fetch`.

        Pages follow ids in C order, so a page is stable under concurrent writes to
        other ids; the token is the last id returned, as for ``list``. No
        ``pagination`` key on the last page.
        """
        ns = v.namespace_name(namespace)
        predicate = compile_filter(flt)
        if predicate is None:
            raise bad_request(
                "Empty filter provided for fetch by metadata request. Give a filter with at "
                "least one condition; to read every record use list and fetch."
            )
        limit = DEFAULT_LIST_LIMIT if limit is None else limit
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_FETCH_BY_METADATA_LIMIT
        ):
            raise bad_request(
                f"limit must be an integer between 1 and {MAX_FETCH_BY_METADATA_LIMIT}, "
                f"got {limit!r}"
            )
        after = _decode_token(token) if token else None
        with self._locked():
            self._catch_up()
            ids = sorted(
                (i for i in self._matching_ids(ns, predicate) if after is None or i > after),
                key=lambda i: i.encode(),
            )
            page = ids[:limit]
            by_id = {row[0]: row for row in self.store.get(ns, page)}
        body: dict[str, Any] = {
            "vectors": {i: self._record(by_id[i], as_json, as_arrays) for i in page if i in by_id},
            "namespace": _echo(namespace),
            "usage": {"readUnits": _fetch_units(len(page))},
        }
        if len(ids) > limit:
            body["pagination"] = {"next": _encode_token(page[-1])}
        return body

    def list_ids(
        self, namespace: Any, prefix: Any, limit: Any, token: Any
    ) -> tuple[list[str], str | None]:
        """One page of ids in C order, and the token of the next page (None on the last)."""
        ns = v.namespace_name(namespace)
        prefix = prefix or ""
        if not isinstance(prefix, str):
            raise bad_request("prefix must be a string")
        limit = DEFAULT_LIST_LIMIT if limit is None else limit
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_LIST_LIMIT
        ):
            raise bad_request(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit!r}")
        after = _decode_token(token) if token else None
        with self._locked():
            self._catch_up()
            ids = self.store.list_ids(ns, prefix, after, limit + 1)
        more = len(ids) > limit
        ids = ids[:limit]
        return ids, (_encode_token(ids[-1]) if more else None)

    def namespace_counts(self, flt: Any = None) -> dict[str, int]:
        """Records per namespace that holds any (those ``describe_index_stats`` reports)."""
        predicate = compile_filter(flt)
        with self._locked():
            self._catch_up()
            counts = self.store.counts()
            if predicate is None:
                return counts
            out = {}
            for ns in counts:
                n = len(self._matching_ids(ns, predicate))
                if n:
                    out[ns] = n
            return out

    def namespace_schema(self, namespace: str) -> dict[str, Any] | None:
        """The metadata schema ``create_namespace`` was given for ``namespace``, if any."""
        with self._locked():
            text = self.store.declared_schema(namespace)
        return json.loads(text) if text else None

    def namespaces(self) -> dict[str, int]:
        """Every namespace and its record count: those with records and created empty ones."""
        with self._locked():
            self._catch_up()
            counts = self.store.counts()
            for ns in self.store.declared_namespaces():
                counts.setdefault(ns, 0)
            return counts

    def namespace_page(
        self, prefix: str, limit: Any, token: Any
    ) -> tuple[list[tuple[str, int, dict[str, Any] | None]], str | None, int]:
        """One page of ``namespaces()`` for the namespaces API, shared by REST and gRPC.

        Names starting with ``prefix``, in C (byte) order, after the token's name:
        the page as (name, record count, metadata schema or None), the next page's
        token (None on the last) and how many names match ``prefix`` in all
        (2025-10's ``total_count``). Ranges of the name indexes (``limit + 1`` rows of
        each table), so the cost is the page, not the number of tenants; the total is
        counted by SQLite over the prefix's range.
        """
        limit = DEFAULT_LIST_LIMIT if limit is None else limit
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_LIST_LIMIT
        ):
            raise bad_request(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit!r}")
        after = _decode_token(token) if token else None
        with self._locked():
            self._catch_up()
            rows = self.store.namespace_page(after, limit + 1, prefix)
            total = self.store.namespace_total(prefix)
        page = [(n, c, json.loads(s) if s else None) for n, c, s in rows[:limit]]
        nxt = _encode_token(page[-1][0]) if len(rows) > limit else None
        return page, nxt, total

    def describe_stats(self, flt: Any = None) -> dict[str, Any]:
        """Pinecone serverless's ``describe_index_stats``: a metadata filter is refused.

        Pinecone's specs (2025-04, 2025-10): "Serverless indexes do not support
        filtering describe_index_stats by metadata"; SDK 10.2.0 documents the
        server rejecting a non-empty filter. An empty filter (``{}``) is no filter.
        """
        self.describe_stats_check(flt)
        counts = self.namespace_counts()
        return {
            "namespaces": {ns: {"vectorCount": n} for ns, n in counts.items()},
            "dimension": self.d.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": self.metric,
            "vectorType": self.d.vector_type,
        }

    @staticmethod
    def describe_stats_check(flt: Any) -> None:
        """Refuse a metadata filter, as Pinecone serverless does."""
        if flt is not None and flt != {}:
            raise bad_request(
                "Serverless indexes do not support filtering describe_index_stats by metadata. "
                "Count matching records with list or fetch_by_metadata instead, or call "
                "describe_index_stats without a filter."
            )

    def describe_stats_encoded(self, flt: Any, default_key: str) -> dict[str, Any]:
        """``describe_stats`` with ``namespaces`` as JSON text, built by SQLite (the REST
        answer embeds it as is); the default namespace is keyed ``default_key``."""
        self.describe_stats_check(flt)
        with self._locked():
            self._catch_up()
            namespaces, total = self.store.counts_json(DEFAULT_NAMESPACE, default_key)
        return {
            "namespaces": namespaces,
            "dimension": self.d.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": total,
            "metric": self.metric,
            "vectorType": self.d.vector_type,
        }

    def namespace_count(self, namespace: Any) -> int:
        """Records in ``namespace``; 404 unless it holds records or was created empty."""
        ns = v.namespace_name(namespace)
        with self._locked():
            self._catch_up()
            n = self.store.count(ns)
            if n == 0 and not self.store.is_declared(ns):
                raise not_found(f"Namespace {ns!r} not found in index {self.d.name!r}")
        return n

    def loaded_namespaces(self) -> list[str]:
        with self._locked():
            return list(self._ns)


def _check_namespace_schema(schema: Any) -> None:
    """API 2025-10's namespace metadata schema: ``{"fields": {name: {"filterable": true}}}``.

    Every metadata field is filterable here; a schema is kept and described, and
    ``filterable: false`` is refused with Pinecone's sentence (quoted by SDK 10.2.0).
    """
    if schema is None:
        return
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), dict):
        raise bad_request(
            "schema must be an object such as {'fields': {'genre': {'filterable': true}}}"
        )
    extra = sorted(set(schema) - {"fields"})
    if extra:
        raise bad_request(f"schema has unknown key(s) {extra}; the only supported key is 'fields'")
    for field, config in schema["fields"].items():
        if not isinstance(config, dict) or config.get("filterable") is not True:
            raise bad_request(
                f"Field '{field}' is set to filterable: false. Only filterable: true is "
                "supported. To avoid indexing the field, omit it from the list of fields."
            )


def _echo(namespace: Any) -> str:
    """The namespace a data-plane answer names: the request's own spelling, ``""`` if none.

    Pinecone answers a request without a namespace with ``namespace: ""`` and one
    naming ``"__default__"`` with ``"__default__"`` (SDK 7.3.0 and 8.1.2
    integration tests); both address the same default namespace.
    """
    return namespace if isinstance(namespace, str) else ""


def _fetch_units(n: int) -> int:
    """Read units of a fetch: 1 per 10 records (at least 1), integers as the SDKs type them."""
    return max(1, math.ceil(n / 10))


def _query_result(matches: list[dict[str, Any]], ns: str, mat: NamespaceMatrix) -> dict[str, Any]:
    return {
        "results": [],
        "matches": matches,
        "namespace": ns,
        "usage": {"readUnits": max(1, math.ceil(mat.nbytes() / _GB))},
    }


def _as_arrays(sp: tuple[list[int], list[float]] | None) -> Sparse | None:
    if sp is None:
        return None
    return np.asarray(sp[0], dtype=np.uint32), np.asarray(sp[1], dtype=np.float32)


def _encode_sparse(sp: Sparse | None) -> str | None:
    if sp is None:
        return None
    return json.dumps([sp[0].tolist(), sp[1].tolist()], separators=(",", ":"))


def _decode_sparse(text: str | None) -> Sparse | None:
    if not text:
        return None
    idx, vals = json.loads(text)
    return np.asarray(idx, dtype=np.uint32), np.asarray(vals, dtype=np.float32)


def _sparse_dict(sp: Sparse | None) -> dict[str, list[Any]] | None:
    if sp is None:
        return None
    return {"indices": sp[0].tolist(), "values": sp[1].tolist()}


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def _decode_token(token: Any) -> str:
    try:
        return base64.urlsafe_b64decode(str(token).encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise bad_request(f"paginationToken {token!r} is not one this server issued") from None
