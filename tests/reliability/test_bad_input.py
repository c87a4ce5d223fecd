"""Bad input across the public API, the CLI and the chatbot backend: a clear error, nothing written.

Each case names the input, what it is fed to, and words the error must
contain so that a user knows what to fix. After every case the index is
read back: the record count is unchanged (nothing partially written),
except where the case is a valid-but-extreme input (a huge document), which
must then be written completely.

Count of cases goes to ``benchmarks/results/reliability_bad_input.json``.
Chatbot-backend cases that tests/chat/test_bad_input.py already covers
(auth, oversized bodies, file types, filenames) are not repeated here; the
ones below check in addition that nothing reached the index.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tenant_rag import PinnedIndex, ingest, tenant_vector_store
from tenant_rag.chat import KeyRing, create_chat_app
from tenant_rag.cli._common import TEST_EMBEDDINGS_ENV
from tenant_rag.cli.app import app as cli_app
from tenant_rag.connection import connect, ensure_index, reset_for_tests
from tenant_rag.errors import ConfigurationError, IndexMismatchError
from tenant_rag.local import LocalServer, start
from tenant_rag.models.embeddings import HashingTestEmbeddings

from ._figures import Tally

DIM = 64
TALLY = Tally("bad_input")
KEY = "acme-bad-input-key-1234-Zx9Wq3Rt"


@pytest.fixture(scope="module", autouse=True)
def _write_figures() -> Iterator[None]:
    yield
    TALLY.write("pytest tests/reliability/test_bad_input.py")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """TENANT_RAG_HOME with the embedded server and test embeddings, for API, CLI and backend."""
    home = tmp_path_factory.mktemp("bad-input-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TENANT_RAG_HOME", str(home))
        mp.setenv(TEST_EMBEDDINGS_ENV, "hashing")
        for var in ("PINECONE_API_KEY", "PINECONE_CONTROLLER_HOST", "OPENAI_API_KEY"):
            mp.delenv(var, raising=False)
        mp.delenv("OPENAI_BASE_URL", raising=False)
        reset_for_tests()
        yield home
    reset_for_tests()


@pytest.fixture(scope="module")
def index(home: Path) -> Any:
    ix = ensure_index(connect(), "rag", dimension=DIM)
    # a tenant with data, for CLI cases that must reach Pinecone (the CLI refuses unknown
    # tenants before any query)
    PinnedIndex(ix, "filter-probe").upsert([("probe", [1.0] + [0.0] * (DIM - 1))])
    return ix


@pytest.fixture(scope="module")
def emb() -> HashingTestEmbeddings:
    return HashingTestEmbeddings(dimension=DIM)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad-files")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (d / "latin1.txt").write_bytes("caf\xe9 cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    (d / "empty.md").write_bytes(b"")
    (d / "program.exe").write_bytes(b"MZ\x90\x00")
    (d / "ok.md").write_text("A fine document about vacation days.")
    return d


def total(index: Any) -> int:
    return int(index.describe_index_stats().total_vector_count)


def expect_error(call: Callable[[], Any], *words: str) -> str:
    """Run ``call``; it must raise, and the message must contain every word (case-insensitive)."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the point is to inspect any refusal
        text = str(exc)
    else:
        pytest.fail(f"no error; expected one mentioning {words}")
    for w in words:
        assert w.lower() in text.lower(), f"{w!r} not in error: {text[:500]}"
    return text


# -- public API --------------------------------------------------------------------------------


def _api_cases(
    index: Any, emb: Any, files: Path
) -> dict[str, tuple[Callable[[], Any], tuple[str, ...]]]:
    store = tenant_vector_store(index, "acme", emb)
    pinned = PinnedIndex(index, "acme")
    vec = [0.1] * DIM

    def rep(sources: Any, **kw: Any) -> Any:
        r = ingest(index, "acme", sources, embedding=emb, progress=False, **kw)
        reasons = {**r.failed, **r.skipped}
        if reasons:
            raise ValueError("; ".join(f"{k}: {v}" for k, v in reasons.items()))
        return r

    return {
        "wrong embedding dimension": (
            lambda: tenant_vector_store(index, "acme", HashingTestEmbeddings(32)).add_texts(
                ["x"], ids=["x"]
            ),
            ("dimension 32", "64"),
        ),
        "query vector of wrong dimension": (
            lambda: pinned.query(vector=[0.1] * 3, top_k=2),
            ("dimension",),
        ),
        "NaN value": (lambda: pinned.upsert([("n", [float("nan")] + vec[1:])]), ("NaN",)),
        "infinite value": (lambda: pinned.upsert([("n", [float("inf")] + vec[1:])]), ("infinity",)),
        "all-zero vector on cosine": (lambda: pinned.upsert([("z", [0.0] * DIM)]), ("zero",)),
        "metadata over 40 KB": (
            lambda: store.add_texts(["x"], ids=["m"], metadatas=[{"blob": "x" * 50_000}]),
            ("metadata", "exceeds"),
        ),
        "nested metadata": (
            lambda: store.add_texts(["x"], ids=["m"], metadatas=[{"x": {"a": 1}}]),
            ("unsupported type",),
        ),
        "null metadata": (
            lambda: store.add_texts(["x"], ids=["m"], metadatas=[{"x": None}]),
            ("null",),
        ),
        "list of numbers in metadata": (
            lambda: store.add_texts(["x"], ids=["m"], metadatas=[{"x": [1, 2]}]),
            ("strings",),
        ),
        "forged tenant field (metadata isolation)": (
            lambda: tenant_vector_store(index, "acme", emb, isolation="metadata").add_texts(
                ["x"], metadatas=[{"tenant_id": "globex"}]
            ),
            ("reserved",),
        ),
        "unsupported filter operator": (
            lambda: store.similarity_search("x", filter={"x": {"$regex": "a"}}),
            ("$regex",),
        ),
        "filter that is not a dict": (
            lambda: store.similarity_search("x", filter="doc_id = 1"),  # type: ignore[arg-type]
            ("filter",),
        ),
        "top_k over 10,000": (lambda: store.similarity_search("x", k=10_001), ("10000",)),
        "top_k of 0": (lambda: store.similarity_search("x", k=0), ("top_k",)),
        "record id over 512 characters": (
            lambda: store.add_texts(["x"], ids=["i" * 513]),
            ("512",),
        ),
        "non-ASCII record id": (lambda: store.add_texts(["x"], ids=["d\xf6c"]), ("ASCII",)),
        "empty record id": (lambda: pinned.upsert([("", vec)]), ("non-empty",)),
        "a 3 MB text in one record": (
            lambda: store.add_texts(["word " * 600_000], ids=["huge"]),
            ("2 MB",),
        ),
        "unknown isolation mode": (
            lambda: tenant_vector_store(index, "acme", emb, isolation="tenant"),  # type: ignore[arg-type]
            ("isolation", "namespace", "metadata"),
        ),
        "unknown index": (
            lambda: connect().Index(name="no-such-index").describe_index_stats(),
            ("no-such-index", "not found"),
        ),
        "existing index, wrong dimension": (
            lambda: ensure_index(connect(), "rag", dimension=384),
            ("dimension 64", "384"),
        ),
        "bad index name": (lambda: ensure_index(connect(), "Bad_Name!", dimension=DIM), ("name",)),
        "ingest: empty text": (lambda: rep([("e", "   ")]), ("empty",)),
        "ingest: binary file": (lambda: rep([str(files / "binary.txt")]), ("binary",)),
        "ingest: non-UTF-8 file": (lambda: rep([str(files / "latin1.txt")]), ("UTF-8",)),
        "ingest: empty file": (lambda: rep([str(files / "empty.md")]), ("empty",)),
        "ingest: unsupported file type": (
            lambda: rep([str(files / "program.exe")]),
            ("unsupported file type", ".exe"),
        ),
        "ingest: metadata over 40 KB": (
            lambda: rep([("m", "text", {"blob": "x" * 50_000})]),
            ("40 KB",),
        ),
        "ingest: missing path": (lambda: rep([str(files / "nope.md")]), ("does not exist",)),
        "ingest: no embedding model": (
            lambda: ingest(index, "acme", [("a", "b")], embedding=None, progress=False),
            ("embedding",),
        ),
    }


def test_public_api_bad_inputs(index: Any, emb: Any, files: Path) -> None:
    cases = _api_cases(index, emb, files)
    for name, (call, words) in cases.items():
        before = total(index)
        try:
            expect_error(call, *words)
        except BaseException as exc:
            raise AssertionError(f"case {name!r}: {exc}") from exc
        assert total(index) == before, f"case {name!r} wrote something"
        # (ingest coerces unsupported metadata types to strings by design, see
        # tenant_rag.ingestion.records.clean_metadata; the store refuses them, cases above)
        TALLY.add("api_cases")
        TALLY.add("cases")


def test_a_huge_document_is_written_completely(index: Any, emb: Any) -> None:
    """Valid but extreme: a 2 MB document is chunked and written whole, under every limit."""
    text = " ".join(f"sentence {i} about vacation and expenses." for i in range(50_000))
    report = ingest(index, "huge-tenant", [("huge", text)], embedding=emb, progress=False)
    assert report.ok and report.documents_written == 1
    assert PinnedIndex(index, "huge-tenant").count() == report.chunks_upserted > 1000
    TALLY.add("api_cases")
    TALLY.add("cases")


def test_missing_or_wrong_api_key_for_cloud_mode(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start(tmp_path / "keyed", api_key="right-key-abcdef123456") as keyed:
        monkeypatch.setenv("PINECONE_CONTROLLER_HOST", keyed.url)
        reset_for_tests()
        expect_error(connect, "PINECONE_API_KEY", "PINECONE_CONTROLLER_HOST")
        monkeypatch.setenv("PINECONE_API_KEY", "wrong-key-abcdef123456")
        reset_for_tests()
        text = expect_error(lambda: ensure_index(connect(), "rag", dimension=DIM), "401", "API key")
        assert "wrong-key-abcdef123456" not in text
        result = CliRunner().invoke(cli_app, ["stats", "--tenant", "acme"])
        assert result.exit_code == 3 and "401" in result.output and "API key" in result.output
        assert "wrong-key-abcdef123456" not in result.output
    reset_for_tests()
    with pytest.raises(ConfigurationError):
        raise ConfigurationError("type check")  # the public type the first refusal carries
    TALLY.add("api_cases", 2)
    TALLY.add("cli_cases", 1)
    TALLY.add("cases", 3)


def test_index_mismatch_is_its_own_type(index: Any) -> None:
    with pytest.raises(IndexMismatchError):
        ensure_index(connect(), "rag", dimension=8)


# -- CLI ----------------------------------------------------------------------------------------


CLI_CASES: list[tuple[str, list[str], int, tuple[str, ...]]] = [
    ("top-k over 10,000", ["search", "q", "-t", "acme", "-k", "20000"], 2, ("10000",)),
    ("top-k of 0", ["search", "q", "-t", "acme", "-k", "0"], 2, ("top-k",)),
    ("filter not JSON", ["search", "q", "-t", "acme", "--filter", "doc=1"], 2, ("JSON",)),
    (
        "bad filter operator",
        ["search", "q", "-t", "filter-probe", "--filter", '{"x": {"$regex": "a"}}'],
        3,
        ("$regex",),
    ),
    ("unknown index", ["search", "q", "-t", "acme", "-i", "no-such-index"], 1, ("no-such-index",)),
    ("unknown tenant", ["search", "q", "-t", "filter-prob"], 1, ("filter-probe",)),
    ("empty tenant", ["search", "q", "-t", ""], 1, ("tenant",)),
    ("default namespace tenant", ["ingest", "{ok}", "-t", "__default__"], 1, ("__default__",)),
    ("tenant with NUL", ["stats", "-t", "ac\x01me"], 1, ("printable ASCII",)),
    (
        "unknown isolation",
        ["search", "q", "-t", "acme", "--isolation", "shared"],
        2,
        ("isolation",),
    ),
    ("ingest binary file", ["ingest", "{binary}", "-t", "acme"], 1, ("binary",)),
    ("ingest non-UTF-8 file", ["ingest", "{latin1}", "-t", "acme"], 1, ("UTF-8",)),
    ("ingest missing path", ["ingest", "{missing}", "-t", "acme"], 1, ("does not exist",)),
    ("offboard default tenant", ["offboard", "__default__", "--yes"], 1, ("__default__",)),
]


@pytest.mark.parametrize(
    ("name", "argv", "code", "words"), CLI_CASES, ids=[c[0] for c in CLI_CASES]
)
def test_cli_bad_inputs(
    name: str, argv: list[str], code: int, words: tuple[str, ...], index: Any, files: Path
) -> None:
    paths = {
        "{ok}": str(files / "ok.md"),
        "{binary}": str(files / "binary.txt"),
        "{latin1}": str(files / "latin1.txt"),
        "{missing}": str(files / "missing.md"),
    }
    before = total(index)
    result = CliRunner().invoke(cli_app, [paths.get(a, a) for a in argv])
    out = result.output
    assert result.exit_code == code, (result.exit_code, out)
    for w in words:
        assert w.lower() in out.lower(), f"{w!r} not in: {out}"
    assert "Traceback" not in out, "one line, not a traceback"
    assert total(index) == before, "nothing written"
    TALLY.add("cli_cases")
    TALLY.add("cases")


# -- chatbot backend ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backend(shared_local_server: LocalServer) -> Iterator[tuple[TestClient, Any]]:
    name = "bad-" + uuid.uuid4().hex[:10]
    index = ensure_index(shared_local_server.client(), name, dimension=DIM)
    app = create_chat_app(
        keys=KeyRing.from_mapping({KEY: "acme"}, []),
        embedding=HashingTestEmbeddings(DIM),
        index=index,
        index_name=name,
    )
    with TestClient(app) as client:
        yield client, index


BACKEND_CASES: list[tuple[str, str, dict[str, Any], int, tuple[str, ...]]] = [
    ("binary upload", "upload", {"binary.txt": bytes(range(256)) * 4}, 422, ("binary",)),
    ("non-UTF-8 upload", "upload", {"l.txt": "caf\xe9".encode("latin-1")}, 422, ("UTF-8",)),
    ("empty upload", "upload", {"e.md": b""}, 422, ("empty",)),
    ("empty question", "chat", {"question": ""}, 422, ("question",)),
    ("tenant in the chat body", "chat", {"question": "q", "tenant": "globex"}, 422, ("tenant",)),
    (
        "bad chat_history role",
        "chat",
        {"question": "q", "chat_history": [{"role": "system", "content": "x"}]},
        422,
        ("role",),
    ),
    ("question not a string", "chat", {"question": ["a"]}, 422, ("question",)),
]


@pytest.mark.parametrize(
    ("name", "kind", "body", "status", "words"), BACKEND_CASES, ids=[c[0] for c in BACKEND_CASES]
)
def test_backend_bad_inputs(
    name: str,
    kind: str,
    body: dict[str, Any],
    status: int,
    words: tuple[str, ...],
    backend: tuple[TestClient, Any],
) -> None:
    client, index = backend
    headers = {"Authorization": f"Bearer {KEY}"}
    before = total(index)
    if kind == "upload":
        # the upload is accepted (202) and its ingestion job ends failed: what the content
        # is only ingestion can tell; the job's error is the 422-kind answer
        parts = [("files", (n, b, "text/plain")) for n, b in body.items()]
        resp = client.post("/documents", files=parts, headers=headers)
        assert resp.status_code == 202, resp.text
        job = resp.json()["job"]
        deadline = time.monotonic() + 60
        while job["status"] not in ("succeeded", "partial", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.02)
            job = client.get(f"/jobs/{job['id']}", headers=headers).json()
        assert job["status"] == "failed" and job["error"]["code"] == "nothing_ingested", job
        got, detail = 422, json.dumps(job)
    else:
        resp = client.post("/chat", json=body, headers=headers)
        got, detail = resp.status_code, json.dumps(resp.json())
    assert got == status, detail
    for w in words:
        assert w.lower() in detail.lower(), f"{w!r} not in {detail}"
    assert total(index) == before, "nothing written"
    TALLY.add("backend_cases")
    TALLY.add("cases")
