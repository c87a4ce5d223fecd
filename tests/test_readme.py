"""The README's quickstart runs as written, on the embedded default, with no keys."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
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
    shown = re.search(
        r"<!-- quickstart-output:start -->\s*```text\n(.*?)```\s*<!-- quickstart-output:end -->",
        README.read_text(encoding="utf-8"),
        re.S,
    )
    assert shown, "README lost the quickstart's output"
    assert out.strip() == shown.group(1).strip(), "the README shows another output than it prints"


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


# --- the tutorial: its commands run, and print what the README shows ---------------------------

ROOT = README.parent
#: What may differ between the README's run and this one: ports, pids, the working folder,
#: dates, scores (the int8 model's third decimal can move between CPUs), timings, and the width
#: of table rules and padding (a different path or number width widens a column).
_VOLATILE = [
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\(pid \d+\)"), "(pid N)"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"), "DATE"),
    (re.compile(r"\b\d\.\d{3}\b"), "SCORE"),
    (re.compile(r"^(│ (?:seconds|chunks/s)\s+│)\s*[\d.]+"), r"\1 N"),
    (re.compile(r"([━─═┄])\1+"), r"\1"),
    (re.compile(r"\s+"), " "),
]


def _normal(line: str, home: str) -> str:
    line = line.replace(home, "/home/me").strip()
    for pattern, repl in _VOLATILE:
        line = pattern.sub(repl, line)
    return line


def _lines(text: str, home: str) -> list[str]:
    return [n for n in (_normal(line, home) for line in text.splitlines()) if n]


def matches(expected: list[str], actual: list[str]) -> str | None:
    """None when ``actual`` is ``expected`` with each ``...`` standing for any lines, else why not."""
    pos, skipping = 0, False
    for want in expected:
        if want == "...":
            skipping = True
            continue
        if skipping:
            while pos < len(actual) and actual[pos] != want:
                pos += 1
        if pos >= len(actual) or actual[pos] != want:
            got = actual[pos] if pos < len(actual) else "<end of output>"
            return f"expected {want!r}, got {got!r}"
        pos, skipping = pos + 1, False
    if not skipping and pos < len(actual):
        return f"unexpected extra output from {actual[pos]!r}"
    return None


def tutorial_steps() -> list[tuple[str, list[str]]]:
    """The tutorial's ``$ command`` lines, each with the output the README shows for it."""
    text = README.read_text(encoding="utf-8")
    part = re.search(r"<!-- tutorial:start -->(.*?)<!-- tutorial:end -->", text, re.S)
    assert part, "README lost its tutorial markers"
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", part.group(1), re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return steps


def test_matcher_is_strict() -> None:
    """The comparison the tutorial test relies on can fail, in each way that matters."""
    assert matches(["a", "...", "c"], ["a", "b", "b", "c"]) is None
    assert matches(["a", "c"], ["a", "b", "c"]) == "expected 'c', got 'b'"
    assert matches(["a"], ["a", "b"]) == "unexpected extra output from 'b'"
    assert matches(["a", "...", "d"], ["a", "b", "c"]) == "expected 'd', got '<end of output>'"
    assert _normal("│ acme  │   7 │", "/x") == _normal("│ acme │ 7 │", "/x")
    assert _normal("│ chunks upserted │ 7 │", "/x") != _normal("│ chunks upserted │ 8 │", "/x")


def _wait_for_banner(proc: subprocess.Popen[str], log: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if "use this server" in text:
            return text
        assert proc.poll() is None, f"tenant-rag serve exited:\n{text}"
        time.sleep(0.2)
    raise AssertionError(f"tenant-rag serve printed no banner:\n{log.read_text()}")


def test_tutorial_runs_and_prints_what_the_readme_shows(tmp_path: Path) -> None:
    steps = tutorial_steps()
    assert [c for c, _ in steps if c.startswith("tenant-rag serve")], "the tutorial lost serve"
    home = str(tmp_path)
    # The first step copies the sample from the clone's root; here the "clone" is tmp_path
    # with the package's sample folder where the README says it is.
    sample = tmp_path / "tenant_rag" / "data"
    sample.mkdir(parents=True)
    shutil.copytree(ROOT / "tenant_rag" / "data" / "sample", sample / "sample")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PINECONE_", "OPENAI_"))}
    env.pop("TENANT_RAG_HOME", None)
    env.pop("TENANT_RAG_SERVER", None)
    env.pop("TENANT_RAG_DEBUG", None)
    env.update(
        PYTHONUNBUFFERED="1", COLUMNS="80", PATH=f"{Path(sys.executable).parent}:{env['PATH']}"
    )
    cwd, server = tmp_path, None
    try:
        for command, shown in steps:
            if command.startswith("tenant-rag serve"):
                log = tmp_path / "serve.log"
                server = subprocess.Popen(
                    [*shlex.split(command), "--port", "0"],
                    cwd=cwd,
                    env=env,
                    stdout=log.open("w"),
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                out = _wait_for_banner(server, log)
                rc = 0
            else:
                where = tmp_path / ".cwd"
                proc = subprocess.run(
                    ["bash", "-c", f"{command}\nrc=$?; pwd > {shlex.quote(str(where))}; exit $rc"],
                    cwd=cwd,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=300,
                )
                out, rc = proc.stdout, proc.returncode
                cwd = Path(where.read_text().strip())
            expected_rc = 1 if any(line.startswith("error:") for line in shown) else 0
            assert rc == expected_rc, f"$ {command} exited {rc}:\n{out}"
            why = matches(_lines("\n".join(shown), home), _lines(out, home))
            assert why is None, f"$ {command}: {why}\n--- printed:\n{out}"
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
