"""Usage metering and quotas against the embedded server with the real SDK."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.errors import QuotaExceededError
from tenant_rag.lifecycle import Limits, Quotas, UsageMeter, active_meter, offboard, tenant_stats
from tenant_rag.tenancy import PinnedIndex, usage

from .conftest import seed_records, vec


class _RecordingIndex:
    """Passes calls through to a real handle and keeps the read units each response reported."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._tenant_rag_index_name = inner._tenant_rag_index_name
        self.reported: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def query(self, **kw: Any) -> Any:
        resp = self._inner.query(**kw)
        self.reported.append(float(resp.usage.read_units))
        return resp

    def fetch(self, **kw: Any) -> Any:
        resp = self._inner.fetch(**kw)
        self.reported.append(float(resp.usage.read_units))
        return resp


def test_read_units_match_what_the_server_reported(new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "acme", 30)
    seed_records(ix, "globex", 5)
    rec = _RecordingIndex(ix)
    with UsageMeter() as meter:
        acme = PinnedIndex(rec, "acme")
        acme.query(vector=vec(1), top_k=5)
        acme.fetch([f"doc-{i}" for i in range(25)])  # 25 ids: 3 RU at 1 RU per 10 records
        acme_reported = sum(rec.reported)
        PinnedIndex(rec, "globex").query(vector=vec(2), top_k=2)
    assert acme_reported >= 4 and len(rec.reported) == 3
    assert meter.usage(tenant="acme").read_units == acme_reported
    assert meter.usage(tenant="globex").read_units == rec.reported[-1]
    assert meter.usage().read_units == sum(rec.reported)
    assert meter.usage(tenant="acme").operations == {"query": 1, "fetch": 1}
    assert meter.usage(tenant="acme").records_fetched == 25
    assert set(meter.totals()) == {"acme", "globex"}


def test_write_units_follow_published_rules(new_index: Any) -> None:
    ix = new_index()
    with UsageMeter() as meter:
        small = PinnedIndex(ix, "small")
        small.upsert([("a", vec(1))])  # a few bytes: the 5 WU minimum
        big = PinnedIndex(ix, "big")
        big.upsert([("b", vec(2), {"text": "x" * 20_000})])  # ~20 KB: ~20 WU
    assert meter.usage(tenant="small").write_units == 5.0
    assert 19.5 < meter.usage(tenant="big").write_units < 21.0
    assert meter.usage(tenant="big").records_written == 1


def test_usage_is_kept_per_tenant_and_per_index(new_index: Any) -> None:
    rag, search = new_index("rag"), new_index("search")
    with UsageMeter() as meter:
        seed_records(rag, "acme", 2)
        seed_records(search, "acme", 2)
        seed_records(search, "globex", 2)
        PinnedIndex(search, "globex").query(vector=vec(0), top_k=1)
    rag_name, search_name = rag._tenant_rag_index_name, search._tenant_rag_index_name
    assert meter.usage(tenant="acme", index=rag_name).requests == 1
    assert meter.usage(tenant="acme").requests == 2
    assert meter.usage(index=search_name).requests == 3
    assert set(meter.by_index()) == {rag_name, search_name}
    rows = {(r["tenant"], r["index"]) for r in meter.rows()}
    assert rows == {("acme", rag_name), ("acme", search_name), ("globex", search_name)}


def test_jsonl_and_callback_export(tmp_path: Path, new_index: Any) -> None:
    ix = new_index()
    path = tmp_path / "billing" / "usage.jsonl"
    seen: list[dict[str, Any]] = []
    with UsageMeter(jsonl=path, callback=seen.append) as meter:
        seed_records(ix, "acme", 3)
        PinnedIndex(ix, "acme").query(vector=vec(0), top_k=2)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == seen
    assert [row["operation"] for row in lines] == ["upsert", "query"]
    assert lines[0]["tenant"] == "acme" and lines[0]["records"] == 3
    assert sum(r["read_units"] for r in lines) == meter.usage().read_units
    # appends across meters, never truncates a billing file
    with UsageMeter(jsonl=path):
        PinnedIndex(ix, "acme").query(vector=vec(0), top_k=1)
    assert len(path.read_text().splitlines()) == 3


def test_failing_callback_does_not_fail_the_request(new_index: Any) -> None:
    def boom(row: dict[str, Any]) -> None:
        raise RuntimeError("billing down")

    ix = new_index()
    with UsageMeter(callback=boom) as meter:
        seed_records(ix, "acme", 1)
    assert meter.usage(tenant="acme").requests == 1


def test_meter_start_stop_and_active_meter() -> None:
    meter = UsageMeter()
    assert active_meter() is None or active_meter() is not meter
    meter.start()
    meter.start()  # idempotent: one subscription
    assert active_meter() is meter
    usage.emit(usage.UsageEvent("acme", "rag", "query", read_units=1.0))
    meter.stop()
    usage.emit(usage.UsageEvent("acme", "rag", "query", read_units=1.0))
    assert meter.usage().read_units == 1.0 and not meter.running
    assert active_meter() is not meter
    meter.reset()
    assert meter.usage().requests == 0


def test_meter_is_thread_safe() -> None:
    with UsageMeter() as meter:

        def work(tenant: str) -> None:
            for _ in range(500):
                usage.emit(usage.UsageEvent(tenant, "rag", "query", read_units=0.25))

        threads = [threading.Thread(target=work, args=(f"t{i % 2}",)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert meter.usage().requests == 4000
    assert meter.usage(tenant="t0").read_units == pytest.approx(500.0)


def test_tenant_stats_includes_usage_of_the_running_meter(new_index: Any) -> None:
    ix = new_index()
    with UsageMeter():
        seed_records(ix, "acme", 2)
        PinnedIndex(ix, "acme").query(vector=vec(0), top_k=1)
        stats = tenant_stats(ix, "acme")
    assert stats.usage is not None
    assert stats.usage["read_units"] >= 1 and stats.usage["write_units"] >= 5


# -- quotas ---------------------------------------------------------------------------------


def test_record_quota_refuses_the_noisy_tenant_only(new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "noisy", 8)  # before the quotas start: counted from the index
    with Quotas(max_records=10, indexes=[ix]) as quotas:
        noisy, quiet = PinnedIndex(ix, "noisy"), PinnedIndex(ix, "quiet")
        noisy.upsert([("n1", vec(1)), ("n2", vec(2))])  # 10: at the limit, allowed
        with pytest.raises(QuotaExceededError) as err:
            noisy.upsert([("n3", vec(3))])
        assert (err.value.tenant, err.value.limit, err.value.used) == ("noisy", 10, 11)
        assert "max_records" in err.value.quota and "noisy" in str(err.value)
        assert noisy.count() == 10  # nothing was written
        quiet.upsert([(f"q{i}", vec(i)) for i in range(10)])  # another tenant proceeds
        # deleting gets the tenant under its limit again
        noisy.delete(["n1", "n2"])
        assert quotas.record_count("noisy", ix._tenant_rag_index_name) == 8
        noisy.upsert([("n3", vec(3))])
        offboard("noisy", ix)
        assert quotas.record_count("noisy", ix._tenant_rag_index_name) == 0


def test_record_quota_recounts_before_refusing_overwrites(new_index: Any) -> None:
    ix = new_index()
    with Quotas(max_records=4, indexes=[ix]) as quotas:
        acme = PinnedIndex(ix, "acme")
        acme.upsert([("a", vec(1)), ("b", vec(2))])
        acme.upsert([("a", vec(3)), ("b", vec(4))])  # overwrites: cache says 4, index says 2
        assert quotas.record_count("acme", ix._tenant_rag_index_name) == 4
        acme.upsert([("c", vec(5))])  # cache says 5 > 4: re-counted (2), so allowed
        acme.upsert([("d", vec(6))])
        with pytest.raises(QuotaExceededError) as err:
            acme.upsert([("e", vec(7))])
        assert err.value.used == 5 and acme.count() == 4


def test_per_tenant_limits_override_defaults(new_index: Any) -> None:
    ix = new_index()
    quotas = Quotas(max_records=1, tenants={"big": Limits(max_records=5)})
    with quotas:
        PinnedIndex(ix, "big").upsert([(f"r{i}", vec(i)) for i in range(5)])
        with pytest.raises(QuotaExceededError):
            PinnedIndex(ix, "small").upsert([("a", vec(1)), ("b", vec(2))])
    # stopped quotas refuse nothing
    PinnedIndex(ix, "small").upsert([("a", vec(1)), ("b", vec(2))])


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_read_unit_window_refuses_the_noisy_tenant_until_it_passes(new_index: Any) -> None:
    ix = new_index()
    seed_records(ix, "noisy", 3)
    seed_records(ix, "quiet", 3)
    clock = _Clock()
    quotas = Quotas(max_read_units=3, window=60, clock=clock)
    with UsageMeter(quotas=quotas) as meter:
        noisy, quiet = PinnedIndex(ix, "noisy"), PinnedIndex(ix, "quiet")
        for _ in range(3):
            noisy.query(vector=vec(0), top_k=1)  # 1 RU each on the embedded server
        with pytest.raises(QuotaExceededError) as err:
            noisy.query(vector=vec(0), top_k=1)
        assert err.value.quota == "read units per 60 s"
        assert (err.value.limit, err.value.used) == (3, 3)
        with pytest.raises(QuotaExceededError):
            noisy.fetch(["doc-0"])
        quiet.query(vector=vec(0), top_k=1)  # the neighbour is not slowed or refused
        noisy.upsert([("w", vec(9))])  # writes are not read-unit limited
        noisy.delete(["w"])
        clock.now += 61
        assert quotas.read_units_used("noisy") == 0
        noisy.query(vector=vec(0), top_k=1)
    assert meter.usage(tenant="noisy").read_units == 4
    assert meter.usage(tenant="quiet").read_units == 1


def test_quota_validation() -> None:
    with pytest.raises(ValueError, match="window"):
        Quotas(window=0)
    from tenant_rag.errors import InvalidTenantError

    with pytest.raises(InvalidTenantError):
        Quotas(tenants={"": Limits(max_records=1)})


def test_langchain_retriever_is_metered_and_quota_limited(new_index: Any) -> None:
    from tenant_rag.models.hashing import HashingTestEmbeddings
    from tenant_rag.stores.langchain import tenant_retriever, tenant_vector_store

    ix = new_index()
    emb = HashingTestEmbeddings(dimension=8)
    tenant_vector_store(ix, "acme", emb).add_texts(["alpha beta", "gamma delta"])
    clock = _Clock()
    with UsageMeter(quotas=Quotas(max_read_units=1, clock=clock)) as meter:
        retriever = tenant_retriever(ix, "acme", emb, k=1)
        assert len(retriever.invoke("alpha")) == 1
        with pytest.raises(QuotaExceededError):
            retriever.invoke("alpha")
    assert meter.usage(tenant="acme").operations == {"query": 1}
    assert meter.usage(tenant="acme").read_units == 1
