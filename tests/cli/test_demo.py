"""``tenant-rag demo`` end to end, on a fresh data dir each time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenant_rag.cli.app import app
from tenant_rag.cli.demo import sample_tenants


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "acme").mkdir(parents=True)
    (root / "globex").mkdir()
    (root / "acme" / "handbook.md").write_text(
        "Employees at Acme get 25 vacation days per year.\n\nThe Acme office opens at 9am."
    )
    (root / "acme" / "expenses.txt").write_text("Acme expense reports are due on the fifth.")
    (root / "globex" / "pay.md").write_text("Globex pays annual bonuses every March.")
    (root / "questions.json").write_text(
        json.dumps({"acme": "How many vacation days?", "globex": "When are bonuses paid?"})
    )
    return root


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TENANT_RAG_HOME", str(home))
    monkeypatch.setenv("TENANT_RAG_TEST_EMBEDDINGS", "hashing")
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TENANT_RAG_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    return home


def test_demo_end_to_end_json(corpus: Path, env: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--corpus", str(corpus), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert data["data_dir"] == str(env)
    assert data["ingested"]["acme"]["documents_written"] == 2
    assert data["ingested"]["globex"]["chunks_upserted"] == 1
    acme, globex = data["answers"]["acme"], data["answers"]["globex"]
    assert "25 vacation days" in acme["answer"]
    assert "March" in globex["answer"]
    assert {s["doc_id"] for s in acme["sources"]} <= {"handbook.md", "expenses.txt"}
    assert {s["doc_id"] for s in globex["sources"]} == {"pay.md"}
    assert [t["tenant"] for t in data["tenants_before"]] == ["acme", "globex"]
    assert data["offboard"]["tenant"] == "globex" and data["offboard"]["verified"]
    assert data["offboard"]["deleted"] == 1
    assert [t["tenant"] for t in data["tenants_after"]] == ["acme"]
    assert data["remaining"]["intact"] and data["remaining"]["records_after"] >= 2
    assert data["usage"]["acme"]["read_units"] >= 1 and data["usage"]["acme"]["write_units"] >= 5


def test_demo_human_output_shows_every_step(corpus: Path, env: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--corpus", str(corpus)])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    steps = [
        "Ingesting the sample documents of acme and globex",
        "Tenant acme asks",
        "25 vacation days",
        "sources",
        "Tenant globex asks",
        "tenants in index rag",
        "metered usage (per tenant",
        "offboarded tenant globex",
        "Tenant acme after the offboarding",
        "intact",
    ]
    positions = [out.index(s) for s in steps]
    assert positions == sorted(positions)
    assert "ingesting acme" in result.stderr  # progress goes to stderr


def test_demo_refuses_a_corpus_without_two_tenants(tmp_path: Path, env: Path) -> None:
    (tmp_path / "one" / "acme").mkdir(parents=True)
    result = CliRunner().invoke(app, ["demo", "--corpus", str(tmp_path / "one")])
    assert result.exit_code == 1
    assert "at least two tenant folders" in result.stderr


def test_sample_tenants_reads_questions(corpus: Path) -> None:
    tenants = sample_tenants(corpus)
    assert [(t.tenant, t.question) for t in tenants] == [
        ("acme", "How many vacation days?"),
        ("globex", "When are bonuses paid?"),
    ]


def test_demo_with_the_default_model_as_a_user_runs_it(corpus: Path, tmp_path: Path) -> None:
    """The console script in a subprocess, default local model (MiniLM), fresh data dir."""
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PINECONE_", "OPENAI_")) and k != "TENANT_RAG_TEST_EMBEDDINGS"
    }
    env["TENANT_RAG_HOME"] = str(tmp_path / "default-model-home")
    exe = Path(sys.executable).with_name("tenant-rag")
    proc = subprocess.run(
        [str(exe), "demo", "--corpus", str(corpus), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["ok"] and data["embeddings"] == "LocalMiniLMEmbeddings"
    assert data["answers"]["acme"]["sources"][0]["doc_id"] == "handbook.md"
    assert "25 vacation days" in data["answers"]["acme"]["answer"]
    assert "March" in data["answers"]["globex"]["answer"]


def test_demo_on_the_shipped_sample_corpus(env: Path) -> None:
    from tenant_rag.ingestion import sample_corpus

    result = CliRunner().invoke(app, ["demo", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"]
    files = {t: {p.name for p in (sample_corpus() / t).iterdir()} for t in ("acme", "globex")}
    for tenant in ("acme", "globex"):
        assert data["ingested"][tenant]["documents_written"] >= len(files[tenant])
        assert data["ingested"][tenant]["ok"]
        docs = {s["doc_id"].split(":")[0] for s in data["answers"][tenant]["sources"]}
        assert docs and docs <= files[tenant]  # each answer cites its own tenant's files only
    assert [t["tenant"] for t in data["tenants_after"]] == ["acme"]


def test_demo_on_a_data_dir_of_another_model_says_what_to_do(
    corpus: Path, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CliRunner().invoke(app, ["demo", "--corpus", str(corpus), "--json"]).exit_code == 0
    rerun = CliRunner().invoke(app, ["demo", "--corpus", str(corpus), "--json"])
    assert rerun.exit_code == 0  # idempotent on the same data dir
    assert json.loads(rerun.stdout)["ingested"]["acme"]["documents_unchanged"] == 2
    monkeypatch.setenv("TENANT_RAG_TEST_EMBEDDINGS", "hashing:32")
    other = CliRunner().invoke(app, ["demo", "--corpus", str(corpus)])
    assert other.exit_code == 1
    assert "hashing-test-64" in other.stderr and "hashing-test-32" in other.stderr
    assert "--data-dir" in other.stderr
