"""`RoutingTable`: one persisted tenant -> index map, switched and rolled back atomically."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from tenant_rag.errors import ConfigurationError, InvalidTenantError
from tenant_rag.tenancy.routing import RoutingTable


def test_unrouted_tenants_use_the_default(tmp_path: Path) -> None:
    routes = RoutingTable(tmp_path / "routes.json")
    assert routes.get("acme") is None
    assert routes.index_for("acme", "rag") == "rag"
    assert not (tmp_path / "routes.json").exists()  # reading creates nothing


def test_switch_and_rollback_are_persisted(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    routes = RoutingTable(path)
    first = routes.switch("acme", "rag-v2", expect="rag", reason="reembed")
    assert (first.index, first.previous.index if first.previous else None) == ("rag-v2", "rag")
    # another process (a new table object) sees it at once
    assert RoutingTable(path).index_for("acme", "rag") == "rag-v2"
    raw = json.loads(path.read_text())
    assert raw["format"] == "tenant-rag-routes/1"
    assert raw["routes"]["acme"]["previous"] == {"index": "rag", "isolation": "namespace"}

    back = routes.rollback("acme")
    assert back.index == "rag" and back.previous is not None and back.previous.index == "rag-v2"
    assert RoutingTable(path).index_for("acme", "x") == "rag"
    assert routes.rollback("acme").index == "rag-v2"  # and forward again


def test_a_stale_expectation_is_refused(tmp_path: Path) -> None:
    routes = RoutingTable(tmp_path / "routes.json")
    routes.switch("acme", "rag-v2", expect="rag")
    with pytest.raises(ConfigurationError, match="another switch happened"):
        routes.switch("acme", "rag-v3", expect="rag")
    assert routes.index_for("acme", "rag") == "rag-v2"


def test_tenant_ids_are_validated(tmp_path: Path) -> None:
    routes = RoutingTable(tmp_path / "routes.json")
    for bad in ("", "__default__", " x"):
        with pytest.raises(InvalidTenantError):
            routes.switch(bad, "rag")
        with pytest.raises(InvalidTenantError):
            routes.get(bad)


def test_no_rollback_without_an_earlier_route(tmp_path: Path) -> None:
    routes = RoutingTable(tmp_path / "routes.json")
    with pytest.raises(ConfigurationError, match="no earlier route"):
        routes.rollback("acme")
    routes.switch("acme", "rag-v2")  # no expectation: no previous route known
    with pytest.raises(ConfigurationError, match="no earlier route"):
        routes.rollback("acme")


def test_a_hand_edited_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        RoutingTable(path).get("acme")
    path.write_text(json.dumps({"routes": {}}))
    with pytest.raises(ConfigurationError, match="not a tenant_rag routing table"):
        RoutingTable(path).get("acme")


def _switch_many(path: str, worker: int) -> None:
    routes = RoutingTable(path)
    for i in range(25):
        routes.switch(f"t{worker}-{i}", f"ix-{worker}")


def test_concurrent_writers_in_several_processes_lose_no_switch(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_switch_many, args=(str(path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    routes = RoutingTable(path).routes()
    assert len(routes) == 100
    assert all(r.index == f"ix-{t.split('-')[0][1:]}" for t, r in routes.items())
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
