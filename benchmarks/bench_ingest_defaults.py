"""Ingestion speed at the CLI's defaults (1,000-character chunks, 150 overlap), local model.

``bench_ingest.py`` measures the pipeline on short chunks (160 characters),
where storage dominates; people ingest prose at the CLI defaults, where the
embedding model dominates and its cost grows with chunk length. This script
measures what a user will see, in characters per second as well as chunks
per second:

1. prose: Markdown documents of about 5 KB made of the paragraphs of the
   Python language reference that ships with CPython (``pydoc_data``): real
   English technical prose, the same on every machine; split at paragraphs
   and sentences;
2. one line: a single file with no line break (the issue's 2 MB log-like
   file), which the splitter cuts every 1,000 characters;
3. the embedding model alone on exactly the prose chunks (the limit).

Each ingest goes into an empty tenant of an index on a ``tenant-rag serve``
in its own process; the model is loaded before any timing.
``tenant_rag.cli.ingest.LOCAL_CHARS_PER_SECOND`` (the long-run warning's
estimate) comes from row 3.

Usage: ``python benchmarks/bench_ingest_defaults.py [--quick] [--docs N]
[--one-line-mb X]``; prints a table and writes
``benchmarks/results/ingest_defaults.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from _results import write_results

from tenant_rag.local.process import serve_process

RESULTS = Path(__file__).resolve().parent / "results" / "ingest_defaults.json"
CHUNK_SIZE, CHUNK_OVERLAP = 1000, 150  # the CLI's defaults
EMBED_BATCH = 256  # ingest's default embed_batch_size
DOC_CHARS = 5000
ROUNDS = 4
WAYS = ("prose", "embedding alone (prose chunks)", "one line")


def paragraphs() -> list[str]:
    """Paragraphs of real English prose: the Python language reference that ships with
    every CPython (``pydoc_data.topics``, about 240 KB of plain paragraphs; indented code
    examples left out)."""
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[key] for key in sorted(topics))
    paras = [
        " ".join(p.split())
        for p in re.split(r"\n\s*\n", text)
        if p.strip() and not p.startswith((" ", "\t")) and len(p) > 80
    ]
    if not paras:
        raise SystemExit("pydoc_data.topics holds no prose")
    return paras


def make_prose(folder: Path, docs: int) -> int:
    """``docs`` Markdown files of about DOC_CHARS characters each; returns total characters."""
    paras = paragraphs()
    folder.mkdir(parents=True)
    total, k = 0, 0
    for d in range(docs):
        parts: list[str] = [f"# Document {d}"]
        size = 0
        while size < DOC_CHARS:
            para = paras[k % len(paras)]
            k += 1
            parts.append(para)
            size += len(para) + 2
        text = "\n\n".join(parts)
        (folder / f"doc-{d:04d}.md").write_text(text, encoding="utf-8")
        total += len(text)
    return total


def make_one_line(folder: Path, megabytes: float) -> int:
    """One .txt file of ``megabytes`` MB of prose with every line break replaced by a space."""
    paras = paragraphs()
    target = int(megabytes * 1_000_000)
    pieces, size, k = [], 0, 0
    while size < target:
        words = " ".join(paras[k % len(paras)].split())
        pieces.append(words)
        size += len(words) + 1
        k += 1
    text = " ".join(pieces)[:target]
    folder.mkdir(parents=True)
    (folder / "dump.txt").write_text(text, encoding="utf-8")
    return len(text)


def line_blocks(path: Path, n: int) -> list[Path]:
    """The one-line file cut into ``n`` one-line files (one per round)."""
    text = path.read_text(encoding="utf-8")
    size = -(-len(text) // n)
    out = []
    for k in range(n):
        part = path.with_name(f"dump-{k}.txt")
        part.write_text(text[k * size : (k + 1) * size], encoding="utf-8")
        out.append(part)
    path.unlink()
    return out


def rates(chars: int, chunks: int, seconds: float) -> dict[str, Any]:
    return {
        "characters": chars,
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "characters_per_s": round(chars / seconds),
        "chunks_per_s": round(chunks / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=120, help="prose documents (~5 KB each)")
    parser.add_argument("--one-line-mb", type=float, default=0.5, help="size of the one-line file")
    parser.add_argument("--quick", action="store_true", help="20 documents, 0.1 MB one-liner")
    args = parser.parse_args()
    docs, one_mb = (20, 0.1) if args.quick else (args.docs, args.one_line_mb)

    from tenant_rag.connection import ensure_index
    from tenant_rag.ingestion import ingest
    from tenant_rag.ingestion.chunking import default_splitter
    from tenant_rag.models.embeddings import shared_local_embeddings

    emb = shared_local_embeddings()
    emb.embed_documents(["warm-up"] * 16)  # load the model outside every timing
    splitter = default_splitter(CHUNK_SIZE, CHUNK_OVERLAP)
    totals = {name: {"chars": 0, "chunks": 0, "seconds": 0.0, "embedded": 0} for name in WAYS}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-defaults-") as tmp:
        work = Path(tmp)
        make_prose(work / "prose", docs)
        make_one_line(work / "one-line", one_mb)
        prose_files = sorted((work / "prose").glob("*.md"))
        with serve_process(work / "data") as server:
            from pinecone import Pinecone

            index = ensure_index(Pinecone(api_key="local", host=server.url), "rag", embedding=emb)

            def run_ingest(name: str, paths: list[Path], n: int) -> None:
                report = ingest(
                    index,
                    f"{name.replace(' ', '-')}-{n}",
                    [str(p) for p in paths],
                    embedding=emb,
                    chunk_size=CHUNK_SIZE,
                    chunk_overlap=CHUNK_OVERLAP,
                    progress=False,
                )
                assert report.ok, report.failed
                row = totals[name]
                row["chars"] += sum(len(p.read_text(encoding="utf-8")) for p in paths)
                row["chunks"] += report.chunks_upserted
                row["seconds"] += report.seconds

            def run_embed(paths: list[Path]) -> None:
                texts = [c for p in paths for c in splitter.split_text(p.read_text("utf-8"))]
                started, cpu = time.perf_counter(), time.process_time()
                for at in range(0, len(texts), EMBED_BATCH):
                    emb.embed_documents(texts[at : at + EMBED_BATCH])
                row = totals["embedding alone (prose chunks)"]
                row["seconds"] += time.perf_counter() - started
                row["cpu_seconds"] = row.get("cpu_seconds", 0.0) + time.process_time() - cpu
                row["chars"] += sum(len(p.read_text(encoding="utf-8")) for p in paths)
                row["chunks"] += len(texts)
                row["embedded"] += sum(len(t) for t in texts)

            # the machine's load drifts (2 shared cores): each round measures a block of every
            # way, in a rotating order, so the drift falls on all three alike
            lines = line_blocks(work / "one-line" / "dump.txt", ROUNDS)
            for n in range(ROUNDS):
                block = prose_files[n::ROUNDS]
                steps = [
                    partial(run_ingest, "prose", block, n),
                    partial(run_embed, block),
                    partial(run_ingest, "one line", [lines[n]], n),
                ]
                for k in range(3):
                    steps[(n + k) % 3]()
    rows: dict[str, Any] = {}
    for name, row in totals.items():
        rows[name] = rates(int(row["chars"]), int(row["chunks"]), float(row["seconds"]))
    limit = totals["embedding alone (prose chunks)"]
    rows["embedding alone (prose chunks)"]["chunk_characters"] = int(limit["embedded"])
    rows["embedding alone (prose chunks)"]["chunk_characters_per_s"] = round(
        limit["embedded"] / limit["seconds"]
    )
    # CPU time is what a loaded machine takes least from: the model's threads on otherwise
    # idle cores would embed at about this rate (its thread count, at most the cores)
    from tenant_rag.models.local_minilm import default_threads

    threads = default_threads()
    rows["embedding alone (prose chunks)"]["cpu_seconds"] = round(limit["cpu_seconds"], 1)
    rows["embedding alone (prose chunks)"]["chunk_characters_per_s_idle_estimate"] = round(
        limit["embedded"] / limit["cpu_seconds"] * threads
    )
    rows["prose"]["vs_embedding_alone"] = round(
        rows["embedding alone (prose chunks)"]["seconds"] / rows["prose"]["seconds"], 3
    )
    result = {
        "benchmark": "ingest_defaults",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "chunk_size": CHUNK_SIZE,
        "chunk_overlap": CHUNK_OVERLAP,
        "model": "all-MiniLM-L6-v2 (int8 ONNX)",
        "documents": docs,
        "rounds": ROUNDS,
        "one_line_mb": one_mb,
        "rows": rows,
    }
    write_results(RESULTS, result)
    print(
        f"{'input':32s} {'chars':>10s} {'chunks':>7s} {'seconds':>8s} {'chars/s':>8s} {'chunks/s':>8s}"
    )
    for name, row in rows.items():
        print(
            f"{name:32s} {row['characters']:10,d} {row['chunks']:7,d} {row['seconds']:8.1f} "
            f"{row['characters_per_s']:8,d} {row['chunks_per_s']:8.1f}"
        )
    limit = rows["embedding alone (prose chunks)"]
    print(
        f"the model alone embeds {limit['chunk_characters_per_s']:,} characters of chunk text/s; "
        f"prose ingest is {rows['prose']['vs_embedding_alone']:.2f}x of the embedding-only limit"
    )
    print(f"load average at the end: {result['load_average_at_end']}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
