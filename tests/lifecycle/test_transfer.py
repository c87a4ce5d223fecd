"""Copy, move and isolation migration of a tenant, against embedded servers with the real SDK.

"Across connections" is two embedded servers in one test: a local one and a
second one with its own data dir and an API key, standing in for Pinecone
serverless (the same SDK code path; this machine cannot reach the cloud).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.connection import ensure_index
from tenant_rag.errors import (
    DestinationNotEmptyError,
    IndexMismatchError,
    PortabilityError,
)
from tenant_rag.lifecycle import copy_tenant, list_tenants, migrate_isolation, move_tenant
from tenant_rag.local import LocalServer, start
from tenant_rag.tenancy import PinnedIndex
from tenant_rag.tenancy.routing import RoutingTable

from .test_portability import DIM, seed, snapshot


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalServer]:
    """A second embedded server with its own data dir and a required API key: the 'cloud'."""
    srv = start(tmp_path / "cloud-data", api_key="cloud-secret-key")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(autouse=True)
def _journals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANT_RAG_STATE_DIR", str(tmp_path / "state"))


def test_copy_from_the_embedded_server_to_the_cloud(new_index: Any, cloud: LocalServer) -> None:
    local = new_index("prototype")
    seed(local, "acme", 700)
    seed(local, "globex", 30)
    remote = ensure_index(cloud.client(), "production", dimension=DIM)

    report = copy_tenant(local, remote, "acme")
    assert report.verified and report.copied == 700 and report.records == 700
    assert snapshot(remote, "acme") == snapshot(local, "acme")
    assert PinnedIndex(local, "acme").count() == 700  # a copy leaves the source alone
    assert PinnedIndex(remote, "globex").count() == 0


def test_copy_onto_itself_is_refused(new_index: Any, pc: Any) -> None:
    ix = new_index("self")
    seed(ix, "acme", 10)
    same = pc.Index(name=ix._tenant_rag_index_name)  # another handle of the same index
    with pytest.raises(PortabilityError, match="copy onto itself"):
        copy_tenant(ix, same, "acme")
    with pytest.raises(PortabilityError, match="copy onto itself"):
        move_tenant(ix, ix, "acme", src_isolation="metadata", dst_isolation="metadata")
    assert PinnedIndex(ix, "acme").count() == 10


def test_copy_refuses_another_dimension_and_names_reembed(new_index: Any, pc: Any) -> None:
    src = new_index("dim")
    seed(src, "acme", 5)
    wide = ensure_index(pc, "dim-wide-32", dimension=32)
    with pytest.raises(IndexMismatchError, match="reembed_tenant"):
        copy_tenant(src, wide, "acme")


def test_copy_into_a_tenant_with_records_needs_merge_or_replace(new_index: Any) -> None:
    src, dst = new_index("exist"), new_index("exist")
    seed(src, "acme", 40)
    PinnedIndex(dst, "acme").upsert([("theirs", [0.3] * DIM, {"text": "keep?"})])
    with pytest.raises(DestinationNotEmptyError):
        copy_tenant(src, dst, "acme")
    assert PinnedIndex(dst, "acme").count() == 1
    merged = copy_tenant(src, dst, "acme", on_existing="merge")
    assert merged.verified and PinnedIndex(dst, "acme").count() == 41
    replaced = copy_tenant(src, dst, "acme", on_existing="replace")
    assert replaced.verified and replaced.pruned == 1
    assert snapshot(dst, "acme") == snapshot(src, "acme")


def test_copy_renames_the_tenant_and_changes_isolation(new_index: Any) -> None:
    src, dst = new_index("ren"), new_index("ren")
    seed(src, "acme", 120)
    copy_tenant(src, dst, "acme", dst_tenant="acme-eu", dst_isolation="metadata")
    assert snapshot(dst, "acme-eu", "metadata") == snapshot(src, "acme")
    assert [t.tenant for t in list_tenants(dst, isolation="metadata")] == ["acme-eu"]


def test_move_deletes_the_source_only_after_verification(
    new_index: Any, cloud: LocalServer
) -> None:
    local = new_index("move")
    seed(local, "acme", 650)
    seed(local, "globex", 20)
    before = snapshot(local, "acme")
    remote = ensure_index(cloud.client(), "move-dst", dimension=DIM)

    report = move_tenant(local, remote, "acme")
    assert report.verified and report.deleted_from_source == 650
    assert snapshot(remote, "acme") == before
    assert PinnedIndex(local, "acme").count() == 0
    assert PinnedIndex(local, "globex").count() == 20  # the neighbour is untouched


def test_move_does_not_delete_a_source_that_fails_verification(new_index: Any) -> None:
    """A destination that silently drops writes: nothing of the source is deleted."""
    src, dst = new_index("lossy"), new_index("lossy")
    seed(src, "acme", 50)

    class LosesSomeRecords:
        def __init__(self, inner: Any) -> None:
            self._inner = inner
            self._tenant_rag_index_name = inner._tenant_rag_index_name

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def upsert(self, **kw: Any) -> Any:
            kept = [v for v in kw["vectors"] if not v["id"].startswith("doc-00007")]
            if not kept:  # acknowledged, not stored
                return None
            return self._inner.upsert(**{**kw, "vectors": kept})

    with pytest.raises(PortabilityError, match="nothing was deleted"):
        move_tenant(src, LosesSomeRecords(dst), "acme", max_passes=2)
    assert PinnedIndex(src, "acme").count() == 50


def test_writes_during_a_move_are_carried_over(new_index: Any) -> None:
    """The rule: every write that reaches the source before the move's last pass ends up in
    the destination in its latest version, and the source is empty afterwards."""
    src, dst = new_index("live"), new_index("live")
    seed(src, "acme", 900)
    writer = PinnedIndex(src, "acme")
    written: dict[str, list[float]] = {}

    def write(rid: str, value: float) -> None:
        writer.upsert([(rid, [value] * DIM, {"text": f"{rid} v{value}"})])
        written[rid] = [value] * DIM

    def during(phase: str, done: int, total: int | None) -> None:
        if phase == "copy" and done <= 500 and "new-copy" not in written:
            write("new-copy", 0.1)  # a new record, written while the copy runs
            write("doc-00899#2", 0.2)  # an update of a record not yet copied
            write("doc-00000#0", 0.3)  # an update of a record already copied
        if phase == "delete" and "new-delete" not in written:
            write("new-delete", 0.4)  # written while the source is being deleted
            write("doc-00001#1", 0.5)

    report = move_tenant(src, dst, "acme", progress=during)
    assert report.verified and report.recopied >= 2
    assert PinnedIndex(src, "acme").count() == 0
    moved = PinnedIndex(dst, "acme").fetch(sorted(written))
    assert {rid: [round(v, 5) for v in r.values] for rid, r in moved.items()} == {
        rid: [round(v, 5) for v in vals] for rid, vals in written.items()
    }
    assert PinnedIndex(dst, "acme").count() == 902


def test_concurrent_writer_during_a_move_loses_nothing(new_index: Any) -> None:
    """A real writer thread: each of its writes ends up in the destination, or (if it landed
    after the move returned) still in the source, never nowhere."""
    src, dst = new_index("race"), new_index("race")
    seed(src, "acme", 1500)
    stop = threading.Event()
    done: list[str] = []

    def writer() -> None:
        pinned = PinnedIndex(src, "acme")
        i = 0
        while not stop.is_set() and i < 200:
            rid = f"live-{i:03d}"
            pinned.upsert([(rid, [0.25] * DIM, {"text": rid})])
            done.append(rid)
            i += 1
            time.sleep(0.005)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        report = move_tenant(src, dst, "acme")
    finally:
        stop.set()
        thread.join()
    assert report.verified
    in_dst = set(PinnedIndex(dst, "acme").fetch(done))
    in_src = set(PinnedIndex(src, "acme").fetch(done))
    assert in_dst | in_src == set(done)
    assert not in_dst & in_src
    assert len(in_dst) + 1500 == PinnedIndex(dst, "acme").count()


def test_move_switches_the_route_before_deleting(new_index: Any, tmp_path: Path) -> None:
    src, dst = new_index("route"), new_index("route")
    seed(src, "acme", 30)
    routes = RoutingTable(tmp_path / "routes.json")
    seen: list[str | None] = []

    def during(phase: str, done: int, total: int | None) -> None:
        if phase == "delete":
            route = routes.get("acme")
            seen.append(route.index if route else None)

    report = move_tenant(src, dst, "acme", routes=routes, progress=during)
    assert report.routed
    assert seen and set(seen) == {dst._tenant_rag_index_name}
    assert routes.index_for("acme", "default") == dst._tenant_rag_index_name
    assert routes.rollback("acme").index == src._tenant_rag_index_name


def test_migrate_every_tenant_from_metadata_to_namespace_isolation(new_index: Any) -> None:
    ix = new_index("mig")
    before = {}
    for n, tenant in enumerate(["acme", "globex", "initech"]):
        seed(ix, tenant, 40 + 10 * n, isolation="metadata")
        before[tenant] = snapshot(ix, tenant, "metadata")
    seed(ix, "already", 5)  # a namespace tenant: not touched

    report = migrate_isolation(ix)
    assert report.verified and [r.source["tenant"] for r in report.tenants] == [
        "acme",
        "globex",
        "initech",
    ]
    assert report.moved == 40 + 50 + 60
    for tenant, records in before.items():
        assert snapshot(ix, tenant, "namespace") == records
    assert list_tenants(ix, isolation="metadata") == []
    assert [t.tenant for t in list_tenants(ix)] == ["acme", "already", "globex", "initech"]
    # a second call has nothing left to move
    assert migrate_isolation(ix).tenants == []
