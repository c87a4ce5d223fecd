"""Benchmark of tenant ingestion (`tenant_rag.ingestion.ingest`).

On a deterministic corpus of at least 10,000 short chunks (900 Markdown
files of 10 short paragraphs, about 11.4 chunks each), for each embedder
(the fast hashing embedder and the default local MiniLM model), in the same
run and against the same server:

1. the embedding model alone on exactly the chunks ingest produces, in the
   same calls of EMBED_BATCH chunks (the limit);
2. ``ingest`` end to end into an empty tenant: load files, hash, chunk,
   embed, upsert (chunks/s of the whole call);
3. ``ingest`` again on the unchanged corpus (nothing to write);
4. LangChain's ``PineconeVectorStore.add_documents`` with the same embedder,
   server and chunk ids, into another namespace (chunks/s, splitting included).

The corpus is cut into blocks (4; 2 with ``--quick``), and each block is
measured by all three ways in a rotating order, each into its own empty
tenant/namespace, so the machine's load drift (2 shared cores) falls on all
three alike; the figures are totals over the blocks.

Targets: (2) ≥ 0.9 × (1); (2) ≥ (4) with the default embedder and ≥ 2 × (4)
with the hashing embedder; (3) ≥ 20 × faster than (2).

The server runs as a separate ``tenant-rag serve`` process (as in
production, the client and the server do not share an interpreter); client,
server and the model share the machine's cores.

Usage: ``python benchmarks/bench_ingest.py [--quick] [--only hashing|default]``;
prints a table and writes ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _results import write_results

from tenant_rag.local.process import serve_process

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
CHUNK_SIZE = 160
EMBED_BATCH = 256  # ingest's default embed_batch_size
PARAGRAPHS = 10
WORDS = (
    "anvil forge hammer steel invoice refund parcel courier hub warranty policy badge vacation "
    "tenant index vector namespace query answer source chunk record upsert delete shipping "
    "returns careers bonus schedule holiday office expense receipt laptop password security "
    "customer order freight pallet label tracking delivery weekend address collect point"
).split()


def make_corpus(root: Path, docs: int, blocks: int = 4, seed: int = 42) -> None:
    """``docs`` Markdown files of PARAGRAPHS short paragraphs, in ``blocks`` folders."""
    rng = random.Random(seed)
    for d in range(docs):
        paras = []
        for p in range(PARAGRAPHS):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(14, 20)))
            paras.append(f"Doc {d} part {p}: {words}.")
        path = root / f"block-{d * blocks // docs}" / f"doc-{d:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(paras), encoding="utf-8")


@contextlib.contextmanager
def server_process(data_dir: Path) -> Iterator[str]:
    """``tenant-rag serve`` over ``data_dir`` in its own process; yields its URL."""
    with serve_process(data_dir) as server:
        yield server.url


def chunks_of(corpus: Path, splitter: Any) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Texts, ids and metadata of every chunk, as ingest makes them (for the baselines)."""
    texts, ids, metas = [], [], []
    for path in sorted(corpus.rglob("*.md")):
        doc_id = path.relative_to(corpus).as_posix()
        for n, text in enumerate(splitter.split_text(path.read_text(encoding="utf-8"))):
            texts.append(text)
            ids.append(f"{doc_id}#{n}")
            metas.append({"doc_id": doc_id, "chunk": n, "source": doc_id})
    return texts, ids, metas


def embed_only(emb: Any, texts: list[str]) -> float:
    """Seconds the model alone takes for ``texts``, called in ingest's slices (EMBED_BATCH)."""
    t = time.perf_counter()
    for start in range(0, len(texts), EMBED_BATCH):
        emb.embed_documents(texts[start : start + EMBED_BATCH])
    return time.perf_counter() - t


def bench_embedder(name: str, emb: Any, pc: Any, corpus: Path) -> dict[str, Any]:
    """The three ways over the corpus in blocks, rotating their order, so load drift hits all."""
    from langchain_core.documents import Document
    from langchain_pinecone import PineconeVectorStore

    from tenant_rag.connection import ensure_index
    from tenant_rag.ingestion import ingest
    from tenant_rag.ingestion.chunking import default_splitter
    from tenant_rag.models.embeddings import embedding_dimension

    dim = embedding_dimension(emb)
    index = ensure_index(pc, f"bench-ingest-{name}", dimension=dim)
    splitter = default_splitter(CHUNK_SIZE, 0)
    blocks = sorted(p for p in corpus.iterdir() if p.is_dir())
    emb.embed_documents(["warm-up"] * 32)  # load the model outside every timing
    seconds = {"embedding_only": 0.0, "add_documents": 0.0, "ingest": 0.0, "rerun": 0.0}
    chunks = 0

    def run_embed(block: Path, n: int, texts: list[str], ids: list[str], metas: list[Any]) -> None:
        seconds["embedding_only"] += embed_only(emb, texts)

    def run_lc(block: Path, n: int, texts: list[str], ids: list[str], metas: list[Any]) -> None:
        t = time.perf_counter()
        store = PineconeVectorStore(index=index, embedding=emb, namespace=f"langchain-{n}")
        docs = [Document(page_content=x, metadata=m) for x, m in zip(texts, metas, strict=True)]
        store.add_documents(docs, ids=ids)
        seconds["add_documents"] += time.perf_counter() - t

    def run_ingest(block: Path, n: int, texts: list[str], ids: list[str], metas: list[Any]) -> None:
        report = ingest(
            index, f"bench-{n}", [block], embedding=emb, chunk_size=CHUNK_SIZE, chunk_overlap=0,
            progress=False,
        )  # fmt: skip
        assert report.ok and report.chunks_upserted == len(texts), report
        seconds["ingest"] += report.seconds

    def run_rerun(block: Path, n: int) -> None:
        rerun = ingest(
            index, f"bench-{n}", [block], embedding=emb, chunk_size=CHUNK_SIZE, chunk_overlap=0,
            progress=False,
        )  # fmt: skip
        assert rerun.chunks_upserted == 0 and not rerun.documents_written, rerun
        seconds["rerun"] += rerun.seconds

    ways = [run_embed, run_lc, run_ingest]
    for n, block in enumerate(blocks):
        texts, ids, metas = chunks_of(block, splitter)
        chunks += len(texts)
        for k in range(3):
            ways[(n + k) % 3](block, n, texts, ids, metas)
        run_rerun(block, n)  # right after, under the same load as the block's first run

    def rate(key: str) -> float:
        return chunks / seconds[key]

    return {
        "embedder": type(emb).__name__,
        "dimension": dim,
        "chunks": chunks,
        "blocks": len(blocks),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "chunks_per_s": {
            k: round(rate(k), 1) for k in ("embedding_only", "add_documents", "ingest")
        },
        "ratios": {
            "ingest_vs_embedding_only": round(rate("ingest") / rate("embedding_only"), 3),
            "ingest_vs_add_documents": round(rate("ingest") / rate("add_documents"), 3),
            "first_run_vs_unchanged_rerun": round(seconds["ingest"] / seconds["rerun"], 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 chunks: a smoke run")
    parser.add_argument("--only", choices=["hashing", "default"], help="one embedder only")
    args = parser.parse_args()
    docs = 100 if args.quick else 900

    from pinecone import Pinecone

    from tenant_rag.models.embeddings import default_embeddings
    from tenant_rag.models.hashing import HashingTestEmbeddings

    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        os.environ.pop(var, None)  # the default embedder is the local model
    embedders = {
        "hashing": lambda: HashingTestEmbeddings(dimension=384),
        "default": default_embeddings,
    }
    results: dict[str, Any] = {
        "command": "python benchmarks/bench_ingest.py" + (" --quick" if args.quick else ""),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before": os.getloadavg(),
        "corpus": {
            "documents": docs,
            "paragraphs_per_document": PARAGRAPHS,
            "chunk_size": CHUNK_SIZE,
        },
        "embedders": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        corpus = Path(tmp) / "corpus"
        make_corpus(corpus, docs, blocks=2 if args.quick else 4)
        with server_process(Path(tmp) / "data") as url:
            pc = Pinecone(api_key="local", host=url)
            for name, make in embedders.items():
                if args.only and name != args.only:
                    continue
                print(f"-- {name} embedder", flush=True)
                results["embedders"][name] = r = bench_embedder(name, make(), pc, corpus)
                r["command"] = results["command"] + (f" --only {name}" if args.only else "")
                r["load_average_after"] = os.getloadavg()
                print_result(name, r)
    results["load_average_after"] = os.getloadavg()
    if args.only and RESULTS.exists():  # keep the other embedder's figures from an earlier run
        earlier = json.loads(RESULTS.read_text())
        for name, figures in earlier.get("embedders", {}).items():
            results["embedders"].setdefault(name, figures)
    write_results(RESULTS, results)


def print_result(name: str, r: dict[str, Any]) -> None:
    rates, ratios, secs = r["chunks_per_s"], r["ratios"], r["seconds"]
    print(
        f"{name}: {r['chunks']} chunks, {r['dimension']}-d ({r['embedder']}), {r['blocks']} blocks"
    )
    print(f"  embedding only          {rates['embedding_only']:10.0f} chunks/s")
    print(
        f"  ingest end to end       {rates['ingest']:10.0f} chunks/s  "
        f"({ratios['ingest_vs_embedding_only']:.2f}x embedding only)"
    )
    print(
        f"  LangChain add_documents {rates['add_documents']:10.0f} chunks/s  "
        f"(ingest is {ratios['ingest_vs_add_documents']:.2f}x)"
    )
    print(
        f"  unchanged re-run        {secs['rerun']:10.3f} s        "
        f"({ratios['first_run_vs_unchanged_rerun']:.0f}x faster than the first run)",
        flush=True,
    )


if __name__ == "__main__":
    main()
