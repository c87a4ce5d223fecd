"""One conformance script for every Pinecone SDK generation against a running server.

Run it with the Python of a venv holding one pinecone SDK (7.3.0, 8.1.2, 9.1.0 or
10.2.0) against ``tenant-rag serve``::

    .venv-sdk/10.2.0/bin/python tests/compat/conformance.py --host http://127.0.0.1:5080

It imports nothing but the SDK and the standard library, runs every check the SDK
generation supports, prints one JSON object (``sdk``, ``api_version``, ``checks``:
name -> "ok" | "skipped: why" | "FAILED: what") and exits 1 if any check failed.

What it checks, in the SDK's own words for each generation:

* the seed flow: create an index, upsert and update per namespace (two tenants),
  query one namespace (never the other's records), delete_all one namespace;
* the namespaces API: list, describe, delete (and create_namespace from API 2025-10);
* listing ids by prefix, page by page;
* metadata operations: filtered query, delete by filter (and, from 2025-10,
  fetch_by_metadata with pagination and update by filter);
* Pinecone's answers the embedded server pins: absent metadata is None, the
  default namespace reads back as "" (fetch without a namespace), ``upsert([])``
  is an ``Invalid request``, ``fetch(ids=[])`` names ``ids``, a wrong key on the
  data plane is 403 ``Wrong API key``, ``describe_index_stats(filter=...)`` is
  refused, deletion protection's sentence, and the LSN headers where the SDK
  exposes response headers (8.x and later);
* gRPC (``--grpc-target``): the seed flow through the SDK's gRPC client, the 2025-10
  operations from SDK 8 on, and a wrong key refused. SDK 7.x/8.x name the index on
  the shared port; 9.x/10.x, which send no index name, dial the index's own port
  (``GET /_local/grpc/<index>``);
* backups: create, list (project and index), describe, restore into a new index
  holding the snapshot's records, the restore job, delete.

With ``--ca FILE`` the server speaks TLS (``tenant-rag serve --tls``) and the SDK is
told to trust ``FILE`` with ``ssl_ca_certs``; the Rust gRPC client of 9.x/10.x (and
9.x's REST client, which ignores ``ssl_ca_certs``) read ``SSL_CERT_FILE`` instead,
which the caller sets.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import traceback
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import pinecone
from pinecone import Pinecone

SDK = pinecone.__version__
MAJOR = int(SDK.split(".")[0])
API_VERSION = {7: "2025-04", 8: "2025-10", 9: "2025-10", 10: "2026-07"}.get(MAJOR, "?")
DIM = 4
SPEC = {"serverless": {"cloud": "aws", "region": "us-east-1"}}


class Skip(Exception):
    """A check this SDK generation cannot express."""


def vec(*xs: float) -> list[float]:
    return [float(x) for x in xs] + [0.0] * (DIM - len(xs))


def status_of(exc: BaseException) -> int | None:
    for attr in ("status", "status_code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    return None


def expect_error(fn: Callable[[], Any], *, status: int | None, fragment: str) -> None:
    """``fn`` must raise; with the HTTP ``status`` (if given) and ``fragment`` in its text.

    ``status=None`` also accepts the SDK's own client-side refusal (no HTTP status),
    which some generations raise before sending, with the same words.
    """
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any SDK exception type
        text = f"{exc} {getattr(exc, 'body', '')}"
        got = status_of(exc)
        if status is not None and got != status:
            raise AssertionError(f"expected HTTP {status}, got {got}: {text[:300]}") from None
        if fragment.lower() not in text.lower():
            raise AssertionError(f"expected {fragment!r} in the error: {text[:300]}") from None
        return
    raise AssertionError(f"expected an error containing {fragment!r}; the call succeeded")


def names_of(pages_or_items: Iterable[Any]) -> list[str]:
    """Namespace names from list_namespaces(), which yields items (7-9) or pages (10)."""
    out: list[str] = []
    for item in pages_or_items:
        inner = getattr(item, "namespaces", None)
        if inner is None:
            out.append(item.name)
        else:
            out.extend(ns.name for ns in inner)
    return out


def headers_of(response: Any) -> dict[str, str]:
    """Response headers as the SDK exposes them (8.x ``_response_info``, 10.x ``response_info``)."""
    info = getattr(response, "response_info", None) or getattr(response, "_response_info", None)
    if info is None:
        raise Skip(f"SDK {SDK} does not expose response headers")
    raw = getattr(info, "raw_headers", None)
    if raw is None and isinstance(info, dict):
        raw = info.get("raw_headers")
    return {k.lower(): v for k, v in (raw or {}).items()}


class Conformance:
    def __init__(
        self,
        host: str,
        api_key: str,
        wrong_key: str | None,
        grpc_target: str | None = None,
        ca: str | None = None,
    ) -> None:
        self.host, self.api_key, self.wrong_key = host, api_key, wrong_key
        self.grpc_target, self.ca = grpc_target, ca
        self.pc = Pinecone(api_key=api_key, host=host, ssl_ca_certs=ca)
        self.name = f"conf-{MAJOR}-{uuid.uuid4().hex[:8]}"
        self.checks: dict[str, str] = {}
        self.index: Any = None

    def check(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
            self.checks[name] = "ok"
        except Skip as why:
            self.checks[name] = f"skipped: {why}"
        except Exception as exc:  # noqa: BLE001 - report every failure, run every check
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.checks[name] = f"FAILED: {detail[:500]}"

    # -- the seed flow ---------------------------------------------------------------
    def create_index(self) -> None:
        self.pc.create_index(name=self.name, dimension=DIM, metric="cosine", spec=SPEC)
        desc = self.pc.describe_index(self.name)
        assert desc.name == self.name and desc.status.ready, desc
        assert desc.dimension == DIM and desc.metric == "cosine", desc
        assert desc.tags is None, f"tags of an untagged index: {desc.tags!r}"
        assert self.name in self.pc.list_indexes().names()
        self.index = self.pc.Index(name=self.name)

    def upsert_update_per_namespace(self) -> None:
        for tenant, base in (("acme", 1.0), ("globex", -1.0)):
            got = self.index.upsert(
                vectors=[
                    (f"{tenant}-1", vec(base, 0.1), {"tenant": tenant, "n": 1}),
                    (f"{tenant}-2", vec(base, 0.2), {"tenant": tenant, "n": 2}),
                    (f"{tenant}-bare", vec(base, 0.3)),
                ],
                namespace=tenant,
            )
            assert got.upserted_count == 3, got
            self.index.update(id=f"{tenant}-1", set_metadata={"n": 10}, namespace=tenant)
        fetched = self.index.fetch(ids=["acme-1", "acme-bare"], namespace="acme")
        assert fetched.vectors["acme-1"].metadata == {"tenant": "acme", "n": 10}, fetched
        assert fetched.vectors["acme-bare"].metadata is None, "absent metadata must be None"

    def query_one_namespace(self) -> None:
        res = self.index.query(
            vector=vec(1.0, 0.1), top_k=10, namespace="acme", include_metadata=True
        )
        ids = [m.id for m in res.matches]
        assert sorted(ids) == ["acme-1", "acme-2", "acme-bare"], ids
        assert res.namespace == "acme", res.namespace
        plain = self.index.query(vector=vec(1.0), top_k=1, namespace="acme")
        assert plain.matches[0].metadata is None, "no include_metadata: metadata must be None"

    def delete_all(self) -> None:
        self.index.delete(delete_all=True, namespace="globex")
        stats = self.index.describe_index_stats()
        assert "globex" not in stats.namespaces and stats.namespaces["acme"].vector_count == 3

    # -- namespaces --------------------------------------------------------------------
    def namespaces_api(self) -> None:
        self.index.upsert(vectors=[("x", vec(0.5, 0.5))], namespace="spare")
        assert {"acme", "spare"} <= set(names_of(self.index.list_namespaces()))
        desc = self.index.describe_namespace(namespace="acme")
        assert desc.name == "acme" and int(desc.record_count) == 3, desc
        self.index.delete_namespace(namespace="spare")
        assert "spare" not in names_of(self.index.list_namespaces())
        expect_error(
            lambda: self.index.describe_namespace(namespace="spare"), status=404, fragment="spare"
        )

    def create_namespace(self) -> None:
        if MAJOR < 8:
            raise Skip("create_namespace arrived with API 2025-10 (SDK 8)")
        made = self.index.create_namespace(name="empty-tenant")
        assert made.name == "empty-tenant" and int(made.record_count or 0) == 0, made
        assert "empty-tenant" in names_of(self.index.list_namespaces())
        expect_error(
            lambda: self.index.create_namespace(name="empty-tenant"),
            status=409,
            fragment="empty-tenant",
        )
        self.index.delete_namespace(namespace="empty-tenant")

    # -- metadata operations -----------------------------------------------------------
    def list_ids(self) -> None:
        pages = list(self.index.list(prefix="acme-", namespace="acme", limit=2))
        ids = [i for page in pages for i in (page if isinstance(page, list) else page.vectors)]
        ids = [getattr(i, "id", i) for i in ids]
        assert ids == ["acme-1", "acme-2", "acme-bare"], ids

    def filtered_query_and_delete(self) -> None:
        res = self.index.query(
            vector=vec(1.0), top_k=10, namespace="acme", filter={"n": {"$gte": 2}}
        )
        assert sorted(m.id for m in res.matches) == ["acme-1", "acme-2"], res
        self.index.upsert(vectors=[("tmp", vec(1.0), {"n": -1})], namespace="acme")
        self.index.delete(filter={"n": {"$lt": 0}}, namespace="acme")
        assert not self.index.fetch(ids=["tmp"], namespace="acme").vectors

    def fetch_by_metadata(self) -> None:
        if MAJOR < 8:
            raise Skip("fetch_by_metadata arrived with API 2025-10 (SDK 8)")
        self.index.upsert(
            vectors=[(f"p{i:02d}", vec(1.0, i), {"page": True}) for i in range(7)],
            namespace="pages",
        )
        seen: list[str] = []
        token = None
        while True:
            kw: dict[str, Any] = {"filter": {"page": True}, "namespace": "pages", "limit": 3}
            if token:
                kw["pagination_token"] = token
            got = self.index.fetch_by_metadata(**kw)
            seen += sorted(got.vectors)
            token = got.pagination.next if got.pagination else None
            if not token:
                break
        assert seen == [f"p{i:02d}" for i in range(7)], seen

    def update_by_filter(self) -> None:
        if MAJOR < 8:
            raise Skip("update by metadata filter arrived with API 2025-10 (SDK 8)")
        got = self.index.update(
            filter={"tenant": "acme"}, set_metadata={"tier": "gold"}, namespace="acme"
        )
        assert got.matched_records == 2, got
        md = self.index.fetch(ids=["acme-2"], namespace="acme").vectors["acme-2"].metadata
        assert md == {"tenant": "acme", "n": 2, "tier": "gold"}, md

    # -- Pinecone's answers ------------------------------------------------------------
    def default_namespace_reads_back_empty(self) -> None:
        self.index.upsert(vectors=[("d", vec(0.1, 0.9))])
        assert self.index.fetch(ids=["d"]).namespace == ""

    def empty_upsert_is_invalid_request(self) -> None:
        expect_error(
            lambda: self.index.upsert(vectors=[], namespace="acme"),
            status=400,
            fragment="Invalid request",
        )

    def fetch_without_ids_names_ids(self) -> None:
        expect_error(
            lambda: self.index.fetch(ids=[], namespace="acme"), status=None, fragment="ids"
        )

    def wrong_key_on_data_plane(self) -> None:
        if self.wrong_key is None:
            raise Skip("the server accepts any key (start it with --api-key)")
        host = self.pc.describe_index(self.name).host
        bad = Pinecone(api_key=self.wrong_key, host=self.host, ssl_ca_certs=self.ca).Index(
            host=host
        )
        expect_error(bad.describe_index_stats, status=403, fragment="Wrong API key")
        bad_control = Pinecone(api_key=self.wrong_key, host=self.host, ssl_ca_certs=self.ca)
        expect_error(bad_control.list_indexes, status=401, fragment="Invalid API key")

    def stats_filter_refused(self) -> None:
        expect_error(
            lambda: self.index.describe_index_stats(filter={"n": {"$gte": 1}}),
            status=400,
            fragment="do not support filtering",
        )

    def lsn_headers(self) -> None:
        wrote = self.index.upsert(vectors=[("lsn", vec(0.3, 0.3))], namespace="acme")
        committed = int(headers_of(wrote)["x-pinecone-request-lsn"])
        read = self.index.query(vector=vec(0.3, 0.3), top_k=1, namespace="acme")
        assert int(headers_of(read)["x-pinecone-max-indexed-lsn"]) >= committed

    # -- gRPC --------------------------------------------------------------------------
    def grpc_index(self, api_key: str | None = None) -> Any:
        """This SDK's gRPC client for the index, connected as its generation must."""
        if self.grpc_target is None:
            raise Skip("the server serves no gRPC (start it with --grpc-port)")
        key, secure = api_key or self.api_key, self.ca is not None
        if MAJOR >= 9:  # no index name on the wire: the index's own port
            host = self.index_grpc_host()
            if MAJOR >= 10 or secure:
                scheme = {} if secure else {"grpc_scheme": "http"}
                return Pinecone(api_key=key, **scheme).index(host=host, grpc=True)
            from pinecone.grpc import GrpcIndex  # 9.x: plaintext only through GrpcIndex

            return GrpcIndex(host=host, api_key=key, secure=False)
        from pinecone.grpc import GRPCClientConfig, PineconeGRPC

        return PineconeGRPC(api_key=key, ssl_ca_certs=self.ca).Index(
            name=self.name, host=self.grpc_target, grpc_config=GRPCClientConfig(secure=secure)
        )

    def index_grpc_host(self) -> str:
        """``GET /_local/grpc/<index>``: the port serving only this index."""
        req = urllib.request.Request(
            f"{self.host}/_local/grpc/{self.name}", headers={"Api-Key": self.api_key}
        )
        context = ssl.create_default_context(cafile=self.ca) if self.ca else None
        with urllib.request.urlopen(req, context=context) as resp:
            host: str = json.loads(resp.read())["grpc_host"]
        return host

    def grpc_seed_flow(self) -> None:
        index = self.grpc_index()
        for tenant, base in (("g-acme", 1.0), ("g-globex", -1.0)):
            got = index.upsert(
                vectors=[
                    (f"{tenant}-1", vec(base, 0.1), {"tenant": tenant, "n": 1}),
                    (f"{tenant}-2", vec(base, 0.2), {"tenant": tenant, "n": 2}),
                    (f"{tenant}-bare", vec(base, 0.3)),
                ],
                namespace=tenant,
            )
            assert got.upserted_count == 3, got
            index.update(id=f"{tenant}-1", set_metadata={"n": 10}, namespace=tenant)
        res = index.query(vector=vec(1.0, 0.1), top_k=10, namespace="g-acme", include_metadata=True)
        assert sorted(m.id for m in res.matches) == ["g-acme-1", "g-acme-2", "g-acme-bare"], res
        assert res.namespace == "g-acme", res.namespace
        by_id = {m.id: m.metadata for m in res.matches}
        assert by_id["g-acme-1"] == {"tenant": "g-acme", "n": 10}, by_id
        assert by_id["g-acme-bare"] is None, "absent metadata must be None"
        plain = index.query(vector=vec(1.0), top_k=1, namespace="g-acme")
        assert plain.matches[0].metadata is None, "no include_metadata: metadata must be None"
        fetched = index.fetch(ids=["g-acme-2"], namespace="g-acme")
        assert fetched.vectors["g-acme-2"].metadata == {"tenant": "g-acme", "n": 2}, fetched
        index.delete(delete_all=True, namespace="g-globex")
        stats = index.describe_index_stats()
        assert "g-globex" not in stats.namespaces, stats
        assert stats.namespaces["g-acme"].vector_count == 3, stats

    def grpc_2025_10_operations(self) -> None:
        if MAJOR < 8:
            raise Skip("update by filter and create_namespace arrived with 2025-10 (SDK 8)")
        index = self.grpc_index()
        got = index.update(
            filter={"n": {"$lt": 5}}, set_metadata={"tier": "gold"}, namespace="g-acme"
        )
        assert got.matched_records == 1, got
        made = index.create_namespace(name="g-empty")
        assert made.name == "g-empty" and int(made.record_count or 0) == 0, made
        assert int(index.describe_namespace(namespace="g-empty").record_count or 0) == 0
        index.delete_namespace(namespace="g-empty")

    def grpc_fetch_by_metadata(self) -> None:
        if MAJOR < 8:
            raise Skip("fetch_by_metadata arrived with API 2025-10 (SDK 8)")
        if MAJOR >= 9:
            raise Skip(
                "SDK 9.x/10.x send fetch_by_metadata over REST to the gRPC handle's host; "
                "an index's gRPC port here speaks gRPC only (use the REST handle)"
            )
        index = self.grpc_index()
        page = index.fetch_by_metadata(filter={"tier": "gold"}, namespace="g-acme", limit=10)
        assert sorted(page.vectors) == ["g-acme-2"], page
        assert page.vectors["g-acme-2"].metadata == {"tenant": "g-acme", "n": 2, "tier": "gold"}

    def grpc_wrong_key(self) -> None:
        if self.wrong_key is None:
            raise Skip("the server accepts any key (start it with --api-key)")
        expect_error(
            self.grpc_index(self.wrong_key).describe_index_stats,
            status=None,
            fragment="Wrong API key",
        )

    # -- backups -----------------------------------------------------------------------
    def backups(self) -> None:
        total = self.index.describe_index_stats().total_vector_count
        backup = self.pc.create_backup(
            index_name=self.name, backup_name="conformance", description="before restore"
        )
        assert backup.status == "Ready" and backup.record_count == total, backup
        assert backup.source_index_name == self.name and backup.name == "conformance", backup
        listed = [b.backup_id for b in self.pc.list_backups(index_name=self.name)]
        assert listed == [backup.backup_id], listed
        assert backup.backup_id in [b.backup_id for b in self.pc.list_backups()]
        assert self.pc.describe_backup(backup_id=backup.backup_id).status == "Ready"
        restored = self.name + "-r"
        self.pc.create_index_from_backup(backup_id=backup.backup_id, name=restored)
        copy = self.pc.Index(name=restored)
        assert copy.describe_index_stats().total_vector_count == total
        assert copy.fetch(ids=["acme-2"], namespace="acme").vectors["acme-2"].metadata["n"] == 2
        jobs = [j for j in self.pc.list_restore_jobs() if j.target_index_name == restored]
        job = self.pc.describe_restore_job(job_id=jobs[0].restore_job_id)
        assert (job.backup_id, job.status) == (backup.backup_id, "Completed"), job
        self.pc.delete_index(restored)
        self.pc.delete_backup(backup_id=backup.backup_id)
        expect_error(
            lambda: self.pc.describe_backup(backup_id=backup.backup_id),
            status=404,
            fragment=backup.backup_id,
        )

    def deletion_protection(self) -> None:
        self.pc.configure_index(self.name, deletion_protection="enabled")
        assert self.pc.describe_index(self.name).deletion_protection == "enabled"
        expect_error(
            lambda: self.pc.delete_index(self.name),
            status=403,
            fragment="Deletion protection is enabled for this index",
        )
        self.pc.configure_index(self.name, deletion_protection="disabled")

    def delete_index(self) -> None:
        self.pc.delete_index(self.name)
        assert self.name not in self.pc.list_indexes().names()

    def run(self) -> dict[str, Any]:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("seed: create index", self.create_index),
            ("seed: upsert and update per namespace", self.upsert_update_per_namespace),
            ("seed: query one namespace", self.query_one_namespace),
            ("seed: delete_all", self.delete_all),
            ("namespaces: list, describe, delete", self.namespaces_api),
            ("namespaces: create_namespace", self.create_namespace),
            ("vectors: list ids by prefix, paged", self.list_ids),
            ("metadata: filtered query, delete by filter", self.filtered_query_and_delete),
            ("metadata: fetch_by_metadata pages", self.fetch_by_metadata),
            ("metadata: update by filter", self.update_by_filter),
            (
                "pinecone: default namespace reads back as ''",
                self.default_namespace_reads_back_empty,
            ),
            ("pinecone: upsert([]) Invalid request", self.empty_upsert_is_invalid_request),
            ("pinecone: fetch(ids=[]) names ids", self.fetch_without_ids_names_ids),
            ("pinecone: wrong key 403 data / 401 control", self.wrong_key_on_data_plane),
            ("pinecone: describe_index_stats(filter) refused", self.stats_filter_refused),
            ("pinecone: LSN headers", self.lsn_headers),
            ("grpc: seed flow", self.grpc_seed_flow),
            ("grpc: update by filter, create_namespace", self.grpc_2025_10_operations),
            ("grpc: fetch_by_metadata", self.grpc_fetch_by_metadata),
            ("grpc: wrong key refused", self.grpc_wrong_key),
            ("backups: create, list, describe, restore, delete", self.backups),
            ("pinecone: deletion protection", self.deletion_protection),
            ("cleanup: delete index", self.delete_index),
        ]
        for name, fn in steps:
            if (
                self.index is None
                and name != "seed: create index"
                and not name.startswith("cleanup")
            ):
                self.checks[name] = "FAILED: no index (create failed)"
                continue
            self.check(name, fn)
        return {"sdk": SDK, "api_version": API_VERSION, "checks": self.checks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="control-plane URL of the server")
    parser.add_argument("--api-key", default="local", help="the key the server accepts")
    parser.add_argument("--wrong-key", default=None, help="a key the server refuses, if any")
    parser.add_argument("--grpc-target", default=None, help="the server's shared gRPC HOST:PORT")
    parser.add_argument("--ca", default=None, help="CA file of a TLS server (serve --tls)")
    args = parser.parse_args()
    report = Conformance(args.host, args.api_key, args.wrong_key, args.grpc_target, args.ca).run()
    print(json.dumps(report, indent=2))
    return 1 if any(v.startswith("FAILED") for v in report["checks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
