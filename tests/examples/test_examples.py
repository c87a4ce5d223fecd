"""The example scripts run as users run them: separate processes over one data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("PINECONE_", "OPENAI_"))}
    e["TENANT_RAG_HOME"] = str(tmp_path / "home")
    return e


def test_seed_steps_run_in_order_across_processes(env: dict[str, str]) -> None:
    assert "index multitenant-app: dimension 8, metric cosine, ready True" in run(
        "01_create_index.py", env
    )
    out = run("02_upsert_per_tenant.py", env)
    assert "tenant1: 4 records" in out and "tenant2: 4 records" in out
    out = run("03_update_and_query.py", env)
    matches = [line.split()[2].rstrip(":") for line in out.splitlines() if "match" in line]
    assert len(matches) == 3 and set(matches) <= {"E", "F", "G", "H"}
    out = run("04_offboard.py", env)
    assert "deleted 4 records of tenant1" in out and "verified: True" in out
    assert "remaining tenants: ['tenant2']" in out


def test_multiple_workloads_keep_one_namespace_per_tenant_in_each_index(env) -> None:
    out = run("multiple_workloads.py", env)
    assert "acme search -> Acme rocket skates" in out
    assert "rag tenants: ['acme', 'globex']" in out
    assert "search tenants: ['acme', 'globex']" in out
    assert "after offboarding globex: ['acme'] ['acme']" in out


def test_cloud_switch_is_environment_only(env, local_server) -> None:
    local = run("cloud_switch.py", env)
    assert "vector store: embedded server" in local
    assert "embeddings: LocalMiniLMEmbeddings" in local and "llm: ExtractiveAnswerer" in local
    # The cloud, at the HTTP level: the SDK's controller host points at a loopback server and
    # OpenAI's base URL at a closed port (nothing is called until a request is made).
    cloud_env = dict(
        env,
        PINECONE_API_KEY=local_server.api_key,
        PINECONE_CONTROLLER_HOST=local_server.url,
        OPENAI_API_KEY="sk-test-not-a-real-key",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        TENANT_RAG_CHAT_MODEL="gpt-4o-mini",
    )
    cloud = run("cloud_switch.py", cloud_env)
    assert "vector store: Pinecone serverless" in cloud
    assert "llm: ChatOpenAI (gpt-4o-mini)" in cloud
    assert "embeddings: LocalMiniLMEmbeddings" in cloud, "a chat key never switches embeddings"
    both = run(
        "cloud_switch.py", dict(cloud_env, TENANT_RAG_EMBEDDING_MODEL="text-embedding-3-small")
    )
    assert "embeddings: OpenAIEmbeddingsWithDimension (text-embedding-3-small)" in both
    assert "sk-test-not-a-real-key" not in cloud + both, "secrets are never printed"
