"""Loaders: every supported file type, document ids from roots and globs, and clear failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.ingestion import sample_corpus
from tenant_rag.ingestion.loaders import LoadFailure, SourceDocument, expand_paths, load


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with Helvetica text lines (cross-reference offsets computed)."""
    stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({t}) '" for t in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def load_all(sources: list[Any], root: Any = None) -> list[SourceDocument | LoadFailure]:
    return [d for n, item in enumerate(expand_paths(sources, root), 1) for d in load(item, n)]


def docs_by_id(results: list[Any]) -> dict[str, SourceDocument]:
    return {d.doc_id: d for d in results if isinstance(d, SourceDocument)}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "guides").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "notes.txt").write_text("\ufeffPlain notes with a BOM.")
    (root / "guides" / "setup.md").write_text("# Setup\n\nRun the installer.")
    (root / "page.html").write_text(
        "<html><head><title>Pricing</title><style>p{}</style></head>"
        "<body><h1>Plans</h1><p>Basic costs 10 euros.</p><script>var x;</script></body></html>"
    )
    (root / "manual.pdf").write_bytes(minimal_pdf(["Torque the bolts to 40 Nm.", "Page one ends."]))
    (root / "one.json").write_text(json.dumps({"title": "Single", "text": "One JSON document."}))
    (root / "many.json").write_text(json.dumps([{"id": "x", "text": "first"}, {"text": "second"}]))
    (root / "plain.json").write_text(json.dumps({"config": {"retries": 3}}))
    (root / "tickets.jsonl").write_text(
        '{"id": "t-1", "text": "Printer jam", "priority": 2}\n\n'
        '{"content": "Screen flicker", "metadata": {"team": "hw"}}\n'
        "not json\n"
        '{"id": "t-4"}\n'
    )
    (root / ".git" / "config.txt").write_text("hidden")
    (root / "image.png").write_bytes(b"\x89PNG")
    return root


def test_every_file_type_in_a_folder(tree: Path) -> None:
    results = load_all([tree])
    docs = docs_by_id(results)
    assert docs["notes.txt"].text == "Plain notes with a BOM."
    assert docs["guides/setup.md"].text.startswith("# Setup")
    html = docs["page.html"]
    assert html.metadata == {"title": "Pricing"}
    assert html.text == "Plans\nBasic costs 10 euros."
    pdf = docs["manual.pdf"]
    assert "Torque the bolts to 40 Nm." in pdf.text and pdf.metadata == {"pages": 1}
    assert docs["one.json"].text == "One JSON document."
    assert docs["one.json"].metadata == {"title": "Single"}
    assert docs["many.json:x"].text == "first" and docs["many.json:2"].text == "second"
    assert '"retries": 3' in docs["plain.json"].text
    assert docs["tickets.jsonl:t-1"].metadata == {"priority": 2}
    assert docs["tickets.jsonl:3"].metadata == {"team": "hw"}
    failures = {f.key: f.reason for f in results if isinstance(f, LoadFailure)}
    assert "not valid JSON" in failures["tickets.jsonl:4"]
    assert "no text field" in failures["tickets.jsonl:t-4"]
    assert not any(".git" in d for d in docs) and not any("png" in d for d in docs)
    assert all(d.source for d in docs.values())


def test_doc_ids_follow_the_root(tree: Path) -> None:
    assert set(docs_by_id(load_all([tree / "guides"]))) == {"setup.md"}
    assert set(docs_by_id(load_all([tree / "guides" / "setup.md"]))) == {"setup.md"}
    rooted = docs_by_id(load_all([tree / "guides" / "setup.md"], root=tree))
    assert set(rooted) == {"guides/setup.md"}
    globbed = docs_by_id(load_all([str(tree / "**" / "*.md")]))
    assert set(globbed) == {"guides/setup.md"}
    with pytest.raises(ValueError, match="not under the root"):
        load_all([tree / "notes.txt"], root=tree / "guides")


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_all([tmp_path / "missing.md"])


def test_broken_and_encrypted_pdfs_fail_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not a pdf")
    (tmp_path / "empty.pdf").write_bytes(minimal_pdf([]))
    results = load_all([tmp_path])
    by_key = {r.key: r for r in results if isinstance(r, LoadFailure)}
    assert set(by_key) == {"broken.pdf", "empty.pdf"}
    assert by_key["empty.pdf"].skipped
    assert not by_key["broken.pdf"].skipped and by_key["broken.pdf"].reason


def test_the_shipped_sample_corpus_loads_for_two_tenants() -> None:
    root = sample_corpus()
    questions = json.loads((root / "questions.json").read_text())
    assert set(questions) == {"acme", "globex"}
    for tenant in ("acme", "globex"):
        results = load_all([root / tenant])
        assert results and all(isinstance(r, SourceDocument) for r in results)
        assert {Path(r.doc_id.split(":")[0]).suffix for r in results} >= {".md", ".html", ".jsonl"}
