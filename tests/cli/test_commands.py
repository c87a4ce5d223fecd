"""The tenant-rag commands through Typer's CliRunner, on the embedded server with the real SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenant_rag.cli.app import app

from .conftest import ACME_DOCS, GLOBEX_DOCS, seed, without_backend

ACME_IDS = {f"{d}#0" for _, d in ACME_DOCS}
GLOBEX_IDS = {f"{d}#0" for _, d in GLOBEX_DOCS}


@pytest.fixture(scope="module", autouse=True)
def seeded(cli_home: Path) -> Any:
    return seed("rag")


def run(runner: CliRunner, *args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input)


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "command", ["ask", "search", "tenants", "stats", "docs", "offboard", "serve", "chat-server"]
)
def test_every_command_has_help(runner: CliRunner, command: str) -> None:
    result = run(runner, command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout
    if command not in ("serve", "chat-server"):
        assert "--json" in result.stdout


def test_root_help_lists_commands_and_exit_codes(runner: CliRunner) -> None:
    result = run(runner, "--help")
    assert result.exit_code == 0
    for command in ("ask", "search", "tenants", "stats", "offboard"):
        assert command in result.stdout
    assert "Exit codes" in result.stdout


def test_tenants_table_and_json(runner: CliRunner) -> None:
    table = run(runner, "tenants")
    assert table.exit_code == 0
    assert "acme" in table.stdout and "globex" in table.stdout
    data = as_json(run(runner, "tenants", "--json"))
    counts = {t["tenant"]: t["record_count"] for t in data["tenants"]}
    assert counts["acme"] == 3 and counts["globex"] == 2


def test_stats(runner: CliRunner) -> None:
    data = as_json(run(runner, "stats", "--tenant", "acme", "--json"))
    assert (data["tenant"], data["namespace"], data["record_count"]) == ("acme", "acme", 3)
    assert data["dimension"] == 64
    table = run(runner, "stats", "-t", "globex")
    assert table.exit_code == 0 and "record count" in table.stdout


def test_search_returns_only_the_tenants_records(runner: CliRunner) -> None:
    data = as_json(run(runner, "search", "--tenant", "acme", "-k", "10", "bonuses", "--json"))
    ids = {r["id"] for r in data["results"]}
    assert ids == ACME_IDS  # never a Globex record, even for a Globex question
    scores = [r["score"] for r in data["results"]]
    assert scores == sorted(scores, reverse=True)
    top = as_json(run(runner, "search", "-t", "acme", "-k", "1", "vacation days", "--json"))
    assert [r["id"] for r in top["results"]] == ["handbook.md#0"]
    filtered = as_json(
        run(
            runner,
            *("search", "-t", "acme", "office", "--json"),
            *("--filter", '{"doc_id": {"$eq": "expenses.md"}}'),
        )
    )
    assert [r["id"] for r in filtered["results"]] == ["expenses.md#0"]
    table = run(runner, "search", "-t", "globex", "bonus")
    assert table.exit_code == 0 and "Globex pays annual bonuses" in table.stdout


def test_ask_streams_answer_then_sources(runner: CliRunner) -> None:
    result = run(runner, "ask", "--tenant", "acme", "How many vacation days do employees get?")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "25 vacation days" in out
    assert out.index("25 vacation days") < out.index("sources")
    assert "handbook.md" in out and "pay.md" not in out

    data = as_json(run(runner, "ask", "-t", "globex", "When are bonuses paid?", "--json"))
    assert "March" in data["answer"]
    assert {s["id"] for s in data["sources"]} <= GLOBEX_IDS and data["sources"]


def test_ask_never_answers_from_another_tenant(runner: CliRunner) -> None:
    data = as_json(run(runner, "ask", "-t", "acme", "When does Globex pay bonuses?", "--json"))
    assert "March" not in data["answer"]
    assert {s["id"] for s in data["sources"]} <= ACME_IDS


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["", "__default__", " acme"])
def test_invalid_tenant_is_a_one_line_error(runner: CliRunner, tenant: str) -> None:
    result = run(runner, "search", "--tenant", tenant, "q")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: tenant must")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_tenant_is_a_usage_error(runner: CliRunner) -> None:
    result = run(runner, "search", "q")
    assert result.exit_code == 2
    assert "--tenant" in result.stderr


def test_missing_index_says_what_to_do(runner: CliRunner) -> None:
    result = run(runner, "tenants", "--index", "nope")
    assert result.exit_code == 1
    assert "index 'nope' does not exist" in result.stderr
    data = json.loads(run(runner, "tenants", "--index", "nope", "--json").stdout)
    assert data["type"] == "ConfigurationError" and "nope" in data["error"]


def test_bad_options_are_usage_errors(runner: CliRunner) -> None:
    assert run(runner, "search", "-t", "acme", "q", "--filter", "{not json").exit_code == 2
    assert run(runner, "tenants", "--isolation", "bogus").exit_code == 2
    assert run(runner, "ask", "-t", "acme", "   ").exit_code == 2


def test_pinecone_errors_exit_3(runner: CliRunner) -> None:
    result = run(runner, "search", "-t", "acme", "q", "--filter", '{"$bogus": 1}')
    assert result.exit_code == 3, result.stderr
    assert without_backend(result.stderr).startswith("error: Pinecone request failed")
    assert "Traceback" not in result.stderr


def test_unexpected_errors_exit_4_and_debug_shows_them(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tenant_rag.lifecycle.tenants as tenants_mod

    def broken(*a: Any, **k: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(tenants_mod, "list_tenants", broken)
    result = run(runner, "tenants")
    assert result.exit_code == 4
    assert "unexpected KeyError" in result.stderr and "--debug" in result.stderr
    debug = run(runner, "--debug", "tenants")
    assert isinstance(debug.exception, KeyError)


# -- offboard ----------------------------------------------------------------------------------


def _seed_tenant(tenant: str, *index_names: str) -> None:
    from tenant_rag import connect, ensure_index, tenant_vector_store
    from tenant_rag.models.hashing import HashingTestEmbeddings

    for name in index_names:
        ix = ensure_index(connect(), name, dimension=64)
        tenant_vector_store(ix, tenant, HashingTestEmbeddings(dimension=64)).add_texts(
            ["one", "two"], ids=["a", "b"]
        )


def test_offboard_asks_for_confirmation(runner: CliRunner) -> None:
    _seed_tenant("initech", "rag")
    declined = run(runner, "offboard", "initech", input="n\n")
    assert declined.exit_code == 1
    assert "Delete every record of tenant 'initech'" in declined.stderr
    assert as_json(run(runner, "stats", "-t", "initech", "--json"))["record_count"] == 2

    accepted = run(runner, "offboard", "initech", input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert "offboarded tenant initech" in accepted.stdout and "yes" in accepted.stdout
    gone = run(runner, "stats", "-t", "initech", "--json")  # an unknown tenant now
    assert gone.exit_code == 1 and json.loads(gone.stdout)["type"] == "UnknownTenantError"
    # the other tenants are intact
    counts = {t["tenant"] for t in as_json(run(runner, "tenants", "--json"))["tenants"]}
    assert {"acme", "globex"} <= counts and "initech" not in counts


def test_offboard_yes_json_across_indexes_is_idempotent(runner: CliRunner) -> None:
    _seed_tenant("hooli", "rag", "search")
    first = as_json(
        run(runner, "offboard", "hooli", "--index", "rag", "--index", "search", "--yes", "--json")
    )
    assert first["verified"] and first["deleted"] == 4
    assert [(i["index"], i["deleted"]) for i in first["indexes"]] == [("rag", 2), ("search", 2)]
    again = as_json(
        run(runner, "offboard", "hooli", "--all-indexes", "--yes", "--missing-ok", "--json")
    )
    assert again["verified"] and again["deleted"] == 0
    assert {i["index"] for i in again["indexes"]} == {"rag", "search"}


def test_offboard_refuses_bad_tenants_before_asking(runner: CliRunner) -> None:
    for bad in ("", "__default__"):
        result = run(runner, "offboard", bad, "--yes")
        assert result.exit_code == 1 and result.stderr.startswith("error: tenant must")
    shared = run(runner, "offboard", "tenant-shared")  # refused before the prompt
    assert shared.exit_code == 1 and "shared namespace" in shared.stderr
    assert run(runner, "offboard", "--yes").exit_code == 2


def test_console_script_exit_code_and_one_line_error(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("tenant-rag")
    env = {**os.environ, "TENANT_RAG_HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(exe), "stats", "--tenant", "acme"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("backend: embedded server in this process")
    assert without_backend(proc.stderr).startswith("error: index 'rag' does not exist")
    assert "Traceback" not in proc.stderr


def test_ingest_then_ask_search_stats_offboard(runner: CliRunner, tmp_path: Path) -> None:
    """The documented flow through the CLI alone, in its own index."""
    docs = tmp_path / "umbrella-docs"
    docs.mkdir()
    (docs / "labs.md").write_text("Umbrella labs close at 18:00 on Fridays.")
    (docs / "badges.txt").write_text("Umbrella visitor badges are collected at gate 3.")
    ingested = as_json(
        run(runner, "ingest", "--tenant", "umbrella", "--index", "flow", str(docs), "--json")
    )
    assert ingested["documents_written"] == 2
    answer = as_json(
        run(runner, "ask", "-t", "umbrella", "-i", "flow", "When do the labs close?", "--json")
    )
    assert "18:00" in answer["answer"]
    assert {s["doc_id"] for s in answer["sources"]} <= {"labs.md", "badges.txt"}
    hits = as_json(run(runner, "search", "-t", "umbrella", "-i", "flow", "badge", "--json"))
    assert {r["id"] for r in hits["results"]} == {"labs.md#0", "badges.txt#0"}
    assert (
        as_json(run(runner, "stats", "-t", "umbrella", "-i", "flow", "--json"))["record_count"] == 2
    )
    gone = as_json(run(runner, "offboard", "umbrella", "-i", "flow", "--yes", "--json"))
    assert gone["deleted"] == 2 and gone["verified"]
    assert as_json(run(runner, "tenants", "-i", "flow", "--json"))["tenants"] == []


def test_metadata_isolation_through_the_cli(runner: CliRunner) -> None:
    from tenant_rag import connect, ensure_index, tenant_vector_store
    from tenant_rag.models.hashing import HashingTestEmbeddings

    ix = ensure_index(connect(), "meta", dimension=64)
    emb = HashingTestEmbeddings(dimension=64)
    for tenant, n in (("acme", 3), ("globex", 2)):
        tenant_vector_store(ix, tenant, emb, isolation="metadata").add_texts(
            [f"{tenant} text {i}" for i in range(n)], ids=[f"d{i}" for i in range(n)]
        )
    args = ("-i", "meta", "--isolation", "metadata", "--json")
    listed = as_json(run(runner, "tenants", *args))["tenants"]
    assert [(t["tenant"], t["record_count"]) for t in listed] == [("acme", 3), ("globex", 2)]
    hits = as_json(run(runner, "search", "-t", "globex", "-k", "10", "text", *args))
    assert {r["id"] for r in hits["results"]} == {"d0", "d1"}  # un-prefixed, globex only
    gone = as_json(run(runner, "offboard", "globex", "--yes", *args))
    assert gone["deleted"] == 2 and gone["indexes"][0]["namespace"] == "tenant-shared"
    listed = as_json(run(runner, "tenants", *args))["tenants"]
    assert [t["tenant"] for t in listed] == ["acme"]


ALL_COMMANDS = [
    "serve",
    "chat-server",
    "ingest",
    "delete-doc",
    "docs",
    "ask",
    "search",
    "tenants",
    "stats",
    "offboard",
    "demo",
    "chat-keys",
]


@pytest.mark.parametrize("command", [*ALL_COMMANDS, None])
def test_help_shows_placeholders_not_python_types(runner: CliRunner, command: str | None) -> None:
    result = run(runner, *([command] if command else []), "--help")
    assert result.exit_code == 0
    text = result.stdout
    for python_type in ("<str>", "<bool>", "<int", "<float", "<list", "<path>"):
        assert python_type not in text, f"{python_type} in the help of {command}:\n{text}"
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage  # arguments read QUESTION, not {question}
    flag_rows = [line for line in text.splitlines() if "--json" in line or "--help" in line]
    assert flag_rows and all("BOOLEAN" not in row for row in flag_rows)  # flags take no value


def test_serve_help_names_its_env_var_once(runner: CliRunner) -> None:
    text = run(runner, "serve", "--help").stdout
    assert text.count("TENANT_RAG_API_KEY") == 1, text


def test_version(runner: CliRunner) -> None:
    from importlib.metadata import version

    result = run(runner, "--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tenant-rag {version('tenant_rag')}"
