"""The README's quickstart runs as written, on the embedded default, with no keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_code() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- quickstart:start -->\s*```python\n(.*?)```\s*<!-- quickstart:end -->", text, re.S
    )
    assert block, "README lost its quickstart block markers"
    return block.group(1)


def acl_example_code() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- acl-example:start -->\s*```python\n(.*?)```\s*<!-- acl-example:end -->", text, re.S
    )
    assert block, "README lost its access-list example markers"
    return block.group(1)


def test_acl_example_runs_as_written(tmp_path: Path) -> None:
    """Two users of one tenant, the same question, different sources (issue 14)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PINECONE_", "OPENAI_"))}
    env["TENANT_RAG_HOME"] = str(tmp_path / "home")
    code = acl_example_code() + (
        "\nfrom tenant_rag import document_acl\n"
        "print('acl', document_acl(index, 'acme', 'hr/bands.md')[1])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "alice ['alice/review.md', 'cafeteria.md']" in lines, proc.stdout
    assert "bob ['cafeteria.md', 'hr/bands.md']" in lines, proc.stdout
    assert "acl ['group:hr', 'user:alice']" in lines, proc.stdout


def test_quickstart_is_short() -> None:
    lines = [line for line in quickstart_code().splitlines() if line.strip()]
    assert len(lines) < 25, f"the quickstart grew to {len(lines)} lines"


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PINECONE_", "OPENAI_"))}
    env["TENANT_RAG_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-c", quickstart_code()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "acme Acme ships every order within 2 days." in out
    assert "globex Globex ships by sea; it takes 6 weeks." in out
    assert "2 days" in out.split("globex", 1)[1], "the per-request chain answered from acme's data"


def test_every_environment_variable_is_documented() -> None:
    """Each variable the package reads is named in the README and in docs/cli.md."""
    root = README.parent
    names: set[str] = set()
    for path in (root / "tenant_rag").rglob("*.py"):
        # a variable is read by its name as a string literal (directly or via a constant)
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"[\"']((?:TENANT_RAG|OPENAI|PINECONE)_[A-Z_]+)[\"']", text))
    assert {"TENANT_RAG_HOME", "TENANT_RAG_EMBEDDING_MODEL", "OPENAI_BASE_URL"} <= names
    for doc in (README, root / "docs" / "cli.md"):
        text = doc.read_text(encoding="utf-8")
        missing = sorted(n for n in names if n not in text)
        assert not missing, f"{doc.name} does not document {missing}"
