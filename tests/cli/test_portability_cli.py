"""``tenant-rag export | import | copy | move | migrate-isolation | reembed | erase`` end to end.

In-process (CliRunner) against the embedded server of a temporary data dir, with the
hashing test embeddings; the "cloud" of copy/move is a second embedded server with an
API key, reached with --to-host and --to-api-key-env as Pinecone would be.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenant_rag.cli.app import app
from tenant_rag.lifecycle.erasure import read_audit_log
from tenant_rag.local import LocalServer, start
from tenant_rag.tenancy import PinnedIndex
from tenant_rag.tenancy.routing import RoutingTable

from .conftest import seed


@pytest.fixture(scope="module")
def seeded(cli_home: Path) -> Any:
    return seed("rag")


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    srv = start(tmp_path / "cloud", api_key="cloud-key-0123456789")
    monkeypatch.setenv("DEST_PINECONE_KEY", "cloud-key-0123456789")
    try:
        yield srv
    finally:
        srv.stop()


def run(runner: CliRunner, *args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def test_export_then_import_round_trip(runner: CliRunner, seeded: Any, tmp_path: Path) -> None:
    out = tmp_path / "acme-export"
    res = run(runner, "export", "acme", str(out), "--json")
    assert res.exit_code == 0, res.output
    exported = json.loads(res.stdout)
    assert exported["records"] == 3 and exported["files"][0]["path"] == "acme/part-00000.parquet"

    res = run(runner, "import", "acme", str(out), "--index", "restored", "--json")
    assert res.exit_code == 0, res.output
    imported = json.loads(res.stdout)
    assert imported["verified"] is True and imported["written"] == 3
    assert imported["checksum"] == exported["checksum"]

    again = run(runner, "import", "acme", str(out), "--index", "restored")
    assert again.exit_code == 0 and "verified" in again.stdout  # idempotent rerun


def test_import_of_a_damaged_export_exits_1_naming_the_file(
    runner: CliRunner, seeded: Any, tmp_path: Path
) -> None:
    out = tmp_path / "damaged"
    assert run(runner, "export", "acme", str(out)).exit_code == 0
    part = out / "acme" / "part-00000.parquet"
    part.write_bytes(part.read_bytes()[:-40])
    res = run(runner, "import", "acme", str(out), "--index", "never-written", "--json")
    assert res.exit_code == 1
    assert "part-00000.parquet" in res.stderr and "truncated" in res.stderr
    assert json.loads(res.stdout)["type"] == "CorruptExportError"


def test_copy_to_another_pinecone_then_move_with_routes(
    runner: CliRunner, seeded: Any, cloud: LocalServer, tmp_path: Path
) -> None:
    res = run(
        runner, "copy", "globex", "--to-index", "prod", "--to-host", cloud.url,
        "--to-api-key-env", "DEST_PINECONE_KEY", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["verified"] is True
    remote = cloud.client().Index(name="prod")
    assert PinnedIndex(remote, "globex").count() == 2

    routes = tmp_path / "routes.json"
    res = run(
        runner, "move", "globex", "--to-index", "globex-home", "--routes", str(routes),
        "--yes", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    moved = json.loads(res.stdout)
    assert moved["deleted_from_source"] == 2 and moved["routed"] is True
    assert RoutingTable(routes).index_for("globex", "rag") == "globex-home"
    assert PinnedIndex(seeded, "globex").count() == 0


def test_move_asks_first_and_a_no_deletes_nothing(runner: CliRunner, seeded: Any) -> None:
    before = PinnedIndex(seeded, "acme").count()
    res = run(runner, "move", "acme", "--to-index", "elsewhere", input="n\n")
    assert res.exit_code == 1
    assert PinnedIndex(seeded, "acme").count() == before > 0


def test_copy_needs_the_key_in_the_environment(runner: CliRunner, seeded: Any) -> None:
    res = run(runner, "copy", "acme", "--to-index", "x", "--to-api-key-env", "NOT_SET_ANYWHERE")
    assert res.exit_code == 1 and "--to-api-key-env" in res.stderr


def test_erase_prints_and_logs_a_receipt(runner: CliRunner, seeded: Any, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    res = run(
        runner, "erase", "acme", "--filter", '{"doc_id": "office.md"}', "--audit-log", str(log),
        "--yes", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    receipt = json.loads(res.stdout)
    assert receipt["kind"] == "erase" and receipt["deleted"] == 1 and receipt["verified"]
    assert read_audit_log(log)[0]["receipt_id"] == receipt["receipt_id"]
    assert PinnedIndex(seeded, "acme").count() == 2

    table = run(runner, "erase", "acme", "--filter", '{"doc_id": "none.md"}', "--yes")
    assert table.exit_code == 0 and "receipt" in table.stdout


@pytest.mark.parametrize("bad", ["{}", "not json", "[1]"])
def test_erase_refuses_a_bad_filter(runner: CliRunner, seeded: Any, bad: str) -> None:
    res = run(runner, "erase", "acme", "--filter", bad, "--yes")
    assert res.exit_code == 2
    assert PinnedIndex(seeded, "acme").count() >= 2


def test_offboard_appends_its_receipt(runner: CliRunner, cli_home: Path, tmp_path: Path) -> None:
    ix = seed("offboard-receipts")
    log = tmp_path / "audit.jsonl"
    res = run(
        runner, "offboard", "globex", "--index", "offboard-receipts", "--yes",
        "--audit-log", str(log),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    [receipt] = read_audit_log(log)
    assert receipt["kind"] == "offboard" and receipt["deleted"] == 2
    assert receipt["receipt_id"] in res.stdout
    assert PinnedIndex(ix, "globex").count() == 0


def test_migrate_isolation_moves_every_metadata_tenant(runner: CliRunner, cli_home: Path) -> None:
    from tenant_rag import connect, ensure_index

    ix = ensure_index(connect(), "shared", dimension=64)
    for tenant in ("a-corp", "b-corp"):
        PinnedIndex(ix, tenant, isolation="metadata").upsert(
            [("d#0", [0.1] * 64, {"text": tenant})]
        )
    res = run(runner, "migrate-isolation", "--index", "shared", "--yes", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["tenants"] == 2 and report["verified"] is True
    assert PinnedIndex(ix, "a-corp").count() == 1
    assert PinnedIndex(ix, "b-corp", isolation="metadata").count() == 0


def test_reembed_switches_the_route_and_rolls_back(
    runner: CliRunner, seeded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = tmp_path / "routes.json"
    monkeypatch.setenv("TENANT_RAG_TEST_EMBEDDINGS", "hashing:96")  # the "new model"
    res = run(runner, "reembed", "acme", "--to-index", "rag-96", "--routes", str(routes), "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["verified"] and report["routed"] and report["previous_route"] == "rag"
    assert RoutingTable(routes).index_for("acme", "rag") == "rag-96"
    res = run(
        runner, "reembed", "acme", "--to-index", "rag-96", "--routes", str(routes), "--rollback"
    )
    assert res.exit_code == 0 and "'rag'" in res.stdout
    assert RoutingTable(routes).index_for("acme", "x") == "rag"


def test_a_private_index_keeps_its_readers_through_the_cli(
    runner: CliRunner, cli_home: Path, tmp_path: Path
) -> None:
    """A destination the CLI creates takes the source's ACL policy; an existing one with
    another policy is refused until --acl-policy names it."""
    from tenant_rag import connect, ensure_index
    from tenant_rag.lifecycle.access import acl_policy, set_acl_policy

    src = seed("secret")
    pc = connect()
    set_acl_policy(pc, "secret", "private")
    assert list(PinnedIndex(src, "acme").list_ids()) == []  # no ACLs: admins only

    res = run(runner, "copy", "acme", "--index", "secret", "--to-index", "secret-copy", "--json")
    assert res.exit_code == 0, res.output
    assert acl_policy(pc, "secret-copy") == "private"
    assert list(PinnedIndex(ensure_index(pc, "secret-copy", dimension=64), "acme").list_ids()) == []

    ensure_index(pc, "open", dimension=64)  # policy "tenant"
    res = run(runner, "copy", "acme", "--index", "secret", "--to-index", "open", "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["type"] == "AclPolicyMismatchError"
    assert "--acl-policy" in res.stderr or "acl_policy=" in res.stderr
    assert PinnedIndex(ensure_index(pc, "open", dimension=64), "acme").count() == 0

    out = tmp_path / "secret-export"
    assert run(runner, "export", "acme", str(out), "--index", "secret").exit_code == 0
    res = run(runner, "import", "acme", str(out), "--index", "open", "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["type"] == "AclPolicyMismatchError"

    res = run(
        runner, "import", "acme", str(out), "--index", "open", "--acl-policy", "tenant", "--json"
    )
    assert res.exit_code == 0, res.output
    assert PinnedIndex(ensure_index(pc, "open", dimension=64), "acme").count() == 3

    res = run(runner, "import", "acme", str(out), "--index", "fresh", "--json")
    assert res.exit_code == 0, res.output
    assert acl_policy(pc, "fresh") == "private"


@pytest.mark.parametrize(
    ("command", "function", "extra"),
    [
        ("copy", "copy_tenant", ["acme", "--to-index", "settled-copy"]),
        ("move", "move_tenant", ["initech", "--to-index", "settled-move", "--yes"]),
        ("migrate-isolation", "move_tenant", ["--index", "settle-shared", "--yes"]),
    ],
)
def test_settle_reaches_every_verifying_transfer(
    runner: CliRunner,
    seeded: Any,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    function: str,
    extra: list[str],
) -> None:
    """``--settle`` bounds how long a copy, move or migration waits for a lagging index."""
    from tenant_rag import connect, ensure_index
    from tenant_rag.lifecycle.portability import transfer

    if command == "migrate-isolation":
        ix = ensure_index(connect(), "settle-shared", dimension=64)
        PinnedIndex(ix, "c-corp", isolation="metadata").upsert([("d#0", [0.1] * 64, {"t": "c"})])
    else:
        PinnedIndex(seeded, extra[0]).upsert([("s#0", [0.2] * 64, {"text": "settle"})])
    seen: list[float] = []
    real = getattr(transfer, function)

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["settle"])
        return real(*args, **kwargs)

    monkeypatch.setattr(transfer, function, spy)
    import tenant_rag.lifecycle.portability as portability

    monkeypatch.setattr(portability, function, spy)
    res = run(runner, command, *extra, "--settle", "7.5", "--json")
    assert res.exit_code == 0, res.output
    assert seen and set(seen) == {7.5}
    assert json.loads(res.stdout)["verified"] is True

    bad = run(runner, command, *extra, "--settle", "-1")
    assert bad.exit_code == 2 and "--settle" in bad.output
