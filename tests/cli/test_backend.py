"""Which server a CLI command talks to: a running ``tenant-rag serve``, a named one, or its own.

Issue 12, item 4: commands use the ``serve`` of their data dir (or one named
by ``--server``/``TENANT_RAG_SERVER``), say which on one stderr line, the
``serve`` banner's commands work as printed, the data dir is found from a
sub-folder, and a command that only reads never creates a data dir.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
EXE = BIN / "tenant-rag"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user who set nothing: no keys, no data dir, test embeddings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PINECONE_", "OPENAI_", "TENANT_RAG_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["TENANT_RAG_TEST_EMBEDDINGS"] = "hashing"
    env.update(extra)
    return env


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Serve:
    proc: subprocess.Popen[str]
    url: str
    banner: list[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@contextlib.contextmanager
def serve(cwd: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Serve]:
    """``tenant-rag serve --port 0`` started in ``cwd``; its output goes to a file, read live."""
    log = cwd / f"serve-{time.monotonic_ns()}.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [str(EXE), "serve", "--port", "0", "--log-level", "info", *extra],
            cwd=cwd,
            env=env or clean_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "Python: " not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        text = log.read_text()
        url = re.search(r"serving (https?://[\w.\[\]:]+:\d+)", text)
        assert url, text
        banner = [line for line in text.splitlines() if not line.startswith(("INFO", "20"))]
        yield Serve(proc, url.group(1), banner, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def backend_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("backend: ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with a document, and a sub-folder to ``cd`` into."""
    root = tmp_path / "project"
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "docs" / "zephyr.md").write_text("Zephyr winds blow from the west in spring.")
    return root


def test_commands_use_the_running_serve_of_their_data_dir(project: Path) -> None:
    first = cli("ingest", "-t", "zephyr", "docs", cwd=project)  # creates ./.tenant_rag
    assert first.returncode == 0, first.stderr
    assert "embedded server in this process" in backend_line(first.stderr)
    with serve(project) as srv:
        sub = project / "docs" / "deep"
        listed = cli("tenants", cwd=sub)  # found from a sub-folder, through the server
        assert listed.returncode == 0, listed.stderr
        assert "zephyr" in listed.stdout
        line = backend_line(listed.stderr)
        assert f"tenant-rag serve at {srv.url}" in line
        assert str(project / ".tenant_rag") in line
        ingested = cli("ingest", "-t", "globex", "zephyr.md", cwd=project / "docs")
        assert ingested.returncode == 0, ingested.stderr
        assert f"tenant-rag serve at {srv.url}" in backend_line(ingested.stderr)
        time.sleep(0.2)
        log = srv.output()
        # the server logged the CLI's requests: they went to it, not to an in-process server
        assert "GET /_index/rag/namespaces" in log
        assert "POST /_index/rag/vectors/upsert" in log
    assert not (project / "docs" / ".tenant_rag").exists()
    assert not (sub / ".tenant_rag").exists()
    # the server is gone: the next command runs its own server over the same data dir
    after = cli("tenants", "--json", cwd=sub)
    assert after.returncode == 0, after.stderr
    assert "embedded server in this process" in backend_line(after.stderr)
    assert {"zephyr", "globex"} <= set(re.findall(r'"tenant": "(\w+)"', after.stdout))


def test_serve_banner_commands_work_as_printed(project: Path, tmp_path: Path) -> None:
    assert cli("ingest", "-t", "zephyr", "docs", cwd=project).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with serve(project) as srv:
        commands = [line[4:] for line in srv.banner if line.startswith("  $ ")]
        assert len(commands) >= 3, srv.banner
        for command in commands:
            proc = subprocess.run(
                ["bash", "-c", command],
                cwd=elsewhere,
                env=clean_env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert proc.returncode == 0, (command, proc.stderr)
            assert "zephyr" in proc.stdout, (command, proc.stdout)
        python = next(line for line in srv.banner if line.startswith("Python: "))
        code = f"from pinecone import Pinecone\nprint({python[len('Python: ') :]}.list_indexes().names())"
        proc = subprocess.run(
            [sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert "rag" in proc.stdout
    assert not (elsewhere / ".tenant_rag").exists()


def test_banner_env_line_parses_as_a_shell_command(project: Path) -> None:
    with serve(project) as srv:
        env_line = next(line for line in srv.banner if "PINECONE_CONTROLLER_HOST=" in line)
        words = shlex.split(env_line[4:])
        assert "PINECONE_API_KEY=local" in words  # the SDK refuses a controller host alone


def test_read_only_commands_never_create_a_data_dir(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (
        ("tenants",),
        ("stats", "-t", "zephyr"),
        ("search", "-t", "zephyr", "wind"),
        ("ask", "-t", "zephyr", "wind?"),
        ("delete-doc", "-t", "zephyr", "a.md"),
        ("offboard", "zephyr", "--yes"),
    ):
        proc = cli(*args, cwd=empty)
        assert proc.returncode == 1, (args, proc.stderr)
        assert "no tenant_rag data here" in proc.stderr, (args, proc.stderr)
        assert "--home" in proc.stderr and "TENANT_RAG_HOME" in proc.stderr
        assert list(empty.iterdir()) == [], args
    home = tmp_path / "not-yet"
    proc = cli("tenants", cwd=empty, env=clean_env(TENANT_RAG_HOME=str(home)))
    assert proc.returncode == 1 and f"{home} (from TENANT_RAG_HOME) does not exist" in proc.stderr
    assert not home.exists()


def test_home_option_and_env_name_the_data_dir(project: Path, tmp_path: Path) -> None:
    data = tmp_path / "shared-data"
    made = cli("--home", str(data), "ingest", "-t", "zephyr", "docs", cwd=project)
    assert made.returncode == 0, made.stderr
    assert f"data dir {data}" in backend_line(made.stderr)
    assert not (project / ".tenant_rag").exists()
    listed = cli("tenants", cwd=tmp_path, env=clean_env(TENANT_RAG_HOME=str(data)))
    assert listed.returncode == 0 and "zephyr" in listed.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_server_fails_at_once_naming_serve(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    for proc in (
        cli("--server", url, "tenants", cwd=tmp_path),
        cli("stats", "-t", "zephyr", cwd=tmp_path, env=clean_env(TENANT_RAG_SERVER=url)),
        cli(
            "tenants",
            cwd=tmp_path,
            env=clean_env(PINECONE_API_KEY="local", PINECONE_CONTROLLER_HOST=url),
        ),
    ):
        assert proc.returncode == 3, proc.stderr
        assert f"cannot reach the server at {url}" in proc.stderr
        assert "tenant-rag serve" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_killed_serve_is_not_mistaken_for_a_live_one(project: Path) -> None:
    assert cli("ingest", "-t", "zephyr", "docs", cwd=project).returncode == 0
    with serve(project) as srv:
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
        assert (project / ".tenant_rag" / "serve.json").exists()  # left behind by kill -9
        proc = cli("tenants", cwd=project)
        assert proc.returncode == 0, proc.stderr
        assert "embedded server in this process" in backend_line(proc.stderr)
        assert "zephyr" in proc.stdout


def test_a_serve_with_a_key_needs_the_key(project: Path) -> None:
    assert cli("ingest", "-t", "zephyr", "docs", cwd=project).returncode == 0
    with serve(project, "--api-key", "s3cret-key") as srv:
        assert not any("s3cret-key" in line for line in srv.banner)
        refused = cli("tenants", cwd=project)
        assert refused.returncode == 1
        assert "requires an API key: set TENANT_RAG_API_KEY" in refused.stderr
        ok = cli("tenants", cwd=project, env=clean_env(TENANT_RAG_API_KEY="s3cret-key"))
        assert ok.returncode == 0, ok.stderr
        assert "zephyr" in ok.stdout
    assert "s3cret-key" not in (project / ".tenant_rag" / "serve.lock").read_text()


_PROBE = """
import sys
from tenant_rag.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("onnxruntime", "tokenizers", "langchain_openai", "openai") if m in sys.modules)
print("LOADED=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def test_commands_that_need_no_model_load_none(project: Path) -> None:
    """Issue 12, item 6: tenants, stats, docs, delete-doc and offboard never load a model."""
    assert cli("ingest", "-t", "zephyr", "docs", cwd=project).returncode == 0
    env = clean_env()
    del env["TENANT_RAG_TEST_EMBEDDINGS"]  # the real default model, were anything to load it
    for args, code in (
        (["tenants"], 0),
        (["stats", "-t", "zephyr"], 0),
        (["docs", "-t", "zephyr"], 0),
        (["delete-doc", "-t", "zephyr", "nothing.md"], 1),
        (["offboard", "zephyr", "--yes"], 0),
    ):
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == code, (args, proc.stderr)
        assert "LOADED=\n" in proc.stderr or proc.stderr.rstrip().endswith("LOADED="), (
            args,
            proc.stderr,
        )


def test_a_tls_serve_is_reached_through_its_data_dir(project: Path, tmp_path: Path) -> None:
    """``serve --tls``: commands find its CA in the record, so the printed command works."""
    assert cli("ingest", "-t", "zephyr", "docs", cwd=project).returncode == 0
    with serve(project, "--tls") as srv:
        assert srv.url.startswith("https://"), srv.banner
        listed = cli("tenants", cwd=project / "docs")
        assert listed.returncode == 0, listed.stderr
        assert f"tenant-rag serve at {srv.url}" in backend_line(listed.stderr)
        commands = [line[4:] for line in srv.banner if line.startswith("  $ ")]
        assert commands, srv.banner
        for command in commands:
            proc = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                env=clean_env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert proc.returncode == 0 and "zephyr" in proc.stdout, (command, proc.stderr)
