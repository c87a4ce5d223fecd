"""Verification against an eventually consistent destination: patient with lag, never fooled.

Pinecone serverless makes a write readable after a delay; the embedded server
reads its own writes. `Lagging` puts the embedded server (real SDK, real
records) behind a handle that hides each of the last ``last`` records written
from its first ``reads`` reads (fetches that ask for it; ``describe_namespace``
leaves hidden records out of the count, and each call is a read of them all),
the way a serverless index answers right after a write (queries leave them out
too). ``never`` names
records it acknowledges and drops.

The rule under test (docs/portability.md, "Eventual consistency"): a record
missing or different at its first read-back is read again with backoff for up
to ``settle`` seconds; the import (or copy, or re-embedding) verifies once every record was
read back equal and the count matches, and fails naming the records that never
showed up.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tenant_rag.connection import ensure_index
from tenant_rag.errors import TransferVerificationError
from tenant_rag.ingestion import ingest
from tenant_rag.lifecycle import copy_tenant, export_tenant, import_tenant, reembed_tenant
from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint, digest_of
from tenant_rag.tenancy import PinnedIndex
from tenant_rag.tenancy.routing import RoutingTable

from .test_portability import seed, snapshot
from .test_reembed import DOCS, NEW, OLD


class Lagging:
    """An SDK index handle whose latest writes stay invisible for their first reads."""

    def __init__(
        self, inner: Any, *, reads: int, last: int | None = None, never: set[str] | None = None
    ) -> None:
        self._inner = inner
        self._tenant_rag_index_name = inner._tenant_rag_index_name
        self.reads = reads
        self.never = set(never or ())
        self._recent: deque[str] = deque(maxlen=last)
        self.hidden: dict[str, int] = {}  # stored id -> reads it stays hidden for
        self.hidden_answers = 0  # reads that left out a record that was stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def upsert(self, **kw: Any) -> Any:
        vectors = kw["vectors"]
        kept = [v for v in vectors if v["id"] not in self.never]
        if kept:
            self._inner.upsert(**{**kw, "vectors": kept})
        for v in kept:
            self._recent.append(v["id"])
        self.hidden = {i: self.hidden.get(i, self.reads) for i in self._recent}
        for v in kept:
            self.hidden[v["id"]] = self.reads  # a rewrite is a new write: it lags again
        return SimpleNamespace(upserted_count=len(vectors))  # every record acknowledged

    def fetch(self, **kw: Any) -> Any:
        resp = self._inner.fetch(**kw)
        for rid in kw["ids"]:
            left = self.hidden.get(rid, 0)
            if left > 0:
                self.hidden[rid] = left - 1
                if resp.vectors.pop(rid, None) is not None:
                    self.hidden_answers += 1
        return resp

    def query(self, **kw: Any) -> Any:
        resp = self._inner.query(**kw)
        shown = []
        for match in resp.matches:
            left = self.hidden.get(match.id, 0)
            if left > 0:
                self.hidden[match.id] = left - 1
                self.hidden_answers += 1
            else:
                shown.append(match)
        return SimpleNamespace(matches=shown, namespace=resp.namespace)

    def describe_namespace(self, **kw: Any) -> Any:
        count = int(self._inner.describe_namespace(**kw).record_count)
        lagging = [i for i, left in self.hidden.items() if left > 0]
        for rid in lagging:
            self.hidden[rid] -= 1
        return SimpleNamespace(record_count=count - len(lagging))


def test_import_into_a_lagging_index_verifies_once_it_catches_up(
    new_index: Any, tmp_path: Path
) -> None:
    src, dst = new_index("lag"), new_index("lag")
    seed(src, "acme", 700)
    export_tenant(src, "acme", tmp_path / "out", page_size=250)
    lagging = Lagging(dst, reads=3)  # every write hidden from its first 3 reads

    report = import_tenant(lagging, "acme", tmp_path / "out", journal_dir=tmp_path / "j")

    assert report.verified and report.missing_count == 0
    assert report.lagged == 700  # each record was missing at first, and verified later
    assert lagging.hidden_answers >= 700
    assert report.destination_count == 700
    assert snapshot(dst, "acme") == snapshot(src, "acme")


def test_import_waits_for_the_last_writes_and_for_the_count(new_index: Any, tmp_path: Path) -> None:
    src, dst = new_index("lag"), new_index("lag")
    seed(src, "acme", 600)
    export_tenant(src, "acme", tmp_path / "out", page_size=200)
    lagging = Lagging(dst, reads=5, last=40)  # only the latest 40 writes lag

    report = import_tenant(lagging, "acme", tmp_path / "out", journal_dir=tmp_path / "j")

    assert report.verified and 0 < report.lagged <= 600
    assert report.destination_count == 600


def test_a_record_the_index_never_stores_fails_verification_naming_it(
    new_index: Any, tmp_path: Path
) -> None:
    src, dst = new_index("lag"), new_index("lag")
    seed(src, "acme", 300)
    export_tenant(src, "acme", tmp_path / "out")
    lost = {"doc-00007#1", "doc-00123#0"}
    lagging = Lagging(dst, reads=2, never=lost)

    with pytest.raises(TransferVerificationError) as caught:
        import_tenant(lagging, "acme", tmp_path / "out", journal_dir=tmp_path / "j", settle=0.5)

    message = str(caught.value)
    assert "2 of its 300 records were still missing or different after waiting 0.5 s" in message
    assert "'doc-00007#1'" in message and "'doc-00123#0'" in message
    report = caught.value.report
    assert not report.verified
    assert report.missing == sorted(lost) and report.missing_count == 2
    assert PinnedIndex(dst, "acme").count() == 298  # the rest is there, and verified


def test_copy_to_a_lagging_index_verifies_once_it_catches_up(new_index: Any) -> None:
    src, dst = new_index("lag"), new_index("lag")
    seed(src, "acme", 500)
    lagging = Lagging(dst, reads=3)

    report = copy_tenant(src, lagging, "acme", settle=30)

    assert report.verified and report.records == 500
    assert lagging.hidden_answers > 0
    assert snapshot(dst, "acme") == snapshot(src, "acme")


def test_copy_to_an_index_that_never_stores_a_record_fails_naming_it(new_index: Any) -> None:
    src, dst = new_index("lag"), new_index("lag")
    seed(src, "acme", 120)
    lagging = Lagging(dst, reads=1, never={"doc-00042#0"})

    with pytest.raises(TransferVerificationError, match=r"doc-00042#0") as caught:
        copy_tenant(src, lagging, "acme", settle=0.5)
    assert not caught.value.report.verified


def test_read_back_stops_waiting_when_too_many_records_stay_missing(new_index: Any) -> None:
    """Memory stays bounded: past ``pending_limit`` missing records the read-back settles
    them before it takes more work, and gives up (reported) if they never appear."""
    from tenant_rag.lifecycle.portability.readback import ReadBack

    dst = new_index("lag")
    recs = seed(dst, "acme", 40)
    never = {r["id"] for r in recs[:12]}
    lossy = Lagging(dst, reads=0, never=never)
    endpoint = TenantEndpoint(lossy, "acme")
    for rid in never:  # as if the index had lost them
        endpoint.delete([rid])
    written = endpoint.fetch([r["id"] for r in recs])
    digests = {rec.id: digest_of(rec) for rec in written}
    readback = ReadBack(endpoint, settle=0.2, pending_limit=10)
    ids = [r["id"] for r in recs]
    expected = [digests.get(i, b"\0" * 32) for i in ids]
    for start in range(0, 40, 8):
        readback.submit(ids[start : start + 8], expected[start : start + 8])
    result = readback.finish()

    assert result.stopped_early and not result.complete
    assert result.missing_count >= 11 and set(result.missing_ids) <= never
    assert result.found.count < 28  # the records after the stop were not read


def _reembed_pair(pc: Any, tag: str) -> tuple[Any, Any]:
    old = ensure_index(pc, f"lag-re-old-{tag}", dimension=32)
    new = ensure_index(pc, f"lag-re-new-{tag}", dimension=48)
    ingest(old, "acme", DOCS, embedding=OLD, progress=False, chunk_size=200)
    return old, new


def test_reembed_into_a_lagging_index_verifies_once_it_catches_up(pc: Any, tmp_path: Path) -> None:
    """A freshly re-embedded tenant that the new index shows late (fetch, count and query)
    is verified once it shows, not deleted as a failed re-embedding."""
    old, new = _reembed_pair(pc, "ok")
    lagging = Lagging(new, reads=3)
    routes = RoutingTable(tmp_path / "routes.json")

    report = reembed_tenant(old, lagging, "acme", embedding=NEW, routes=routes, settle=30)

    assert report.verified and report.routed and report.records == len(DOCS)
    assert report.probes >= 1 and report.probes_found == report.probes
    assert lagging.hidden_answers > 0
    assert sorted(PinnedIndex(new, "acme").list_ids()) == sorted(
        PinnedIndex(old, "acme").list_ids()
    )
    assert routes.index_for("acme", "x") == new._tenant_rag_index_name


def test_reembed_onto_an_index_that_never_stores_a_record_fails_naming_it(
    pc: Any, tmp_path: Path
) -> None:
    old, new = _reembed_pair(pc, "lost")
    lost = sorted(PinnedIndex(old, "acme").list_ids())[3]
    lagging = Lagging(new, reads=1, never={lost})
    routes = RoutingTable(tmp_path / "routes.json")

    with pytest.raises(TransferVerificationError, match=repr(lost)) as caught:
        reembed_tenant(old, lagging, "acme", embedding=NEW, routes=routes, settle=0.5)
    assert not caught.value.report.verified
    assert routes.get("acme") is None  # not switched
