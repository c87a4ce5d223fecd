"""Local embedding throughput: load time and sentences/s on this machine (2 cores).

Not a test: writes ``benchmarks/results/embeddings.json``. Measures the
offline MiniLM int8 ONNX model (1 and 2 intra-op threads) and, as a floor,
``HashingTestEmbeddings``. Load time is measured in a fresh subprocess so the
process-wide model cache and import costs do not hide it.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _results import write_results

RESULTS = Path(__file__).resolve().parent / "results" / "embeddings.json"
WORDS = (
    "tenant refund policy invoice employee vacation server request latency index namespace "
    "document passage retrieval answer customer support account password billing quarterly "
    "revenue report meeting schedule office holiday security encryption backup restore "
    "deployment cluster container network storage database query performance monitoring"
).split()


def _texts(n: int, words: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    return [" ".join(rnd.choice(WORDS) for _ in range(words)) + "." for _ in range(n)]


def _load_seconds() -> dict[str, float]:
    code = (
        "import time; t=time.perf_counter();"
        "from tenant_rag.models import LocalMiniLMEmbeddings; i=time.perf_counter();"
        "LocalMiniLMEmbeddings().load(); l=time.perf_counter();"
        "print(i-t, l-i)"
    )
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        runs.append([float(x) for x in out.stdout.split()])
    return {
        "import_seconds_median": round(statistics.median(r[0] for r in runs), 3),
        "load_seconds_median": round(statistics.median(r[1] for r in runs), 3),
    }


def _rate(embed, texts: list[str], repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    embed(texts[:8])  # warm up
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        embed(texts)
        best = max(best, len(texts) / (time.perf_counter() - start))
    return round(best, 1)


def main() -> dict[str, object]:
    from tenant_rag.models import HashingTestEmbeddings, LocalMiniLMEmbeddings

    short, long_ = _texts(256, 12), _texts(128, 40)
    result: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "minilm_int8_onnx": _load_seconds(),
    }
    minilm: dict[str, object] = result["minilm_int8_onnx"]  # type: ignore[assignment]
    for threads in (1, 2):
        model = LocalMiniLMEmbeddings(threads=threads).load()
        minilm[f"threads_{threads}"] = {
            "sentences_per_s_12_words": _rate(model.embed_documents, short),
            "sentences_per_s_40_words": _rate(model.embed_documents, long_),
            "single_query_per_s": _rate(
                lambda t, m=model: [m.embed_query(x) for x in t], short[:64]
            ),
        }
    hashing = HashingTestEmbeddings(dimension=384)
    result["hashing_test_384"] = {"sentences_per_s_40_words": _rate(hashing.embed_documents, long_)}
    write_results(RESULTS, result)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
